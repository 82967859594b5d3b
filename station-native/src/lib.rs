#![deny(unsafe_code)]
pub mod tag;

#![deny(unsafe_code)]
pub mod tag;
pub mod wire;
pub mod flow;
pub mod counters;
pub mod pipeline;
pub mod capture;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod replay;

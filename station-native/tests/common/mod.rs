//! Shared helpers for the integration tests: the vector file and hex.
#![allow(dead_code)]

use std::collections::HashMap;

/// Decodes lowercase or uppercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

/// The named vectors of tests/data/vectors.txt (sources are listed in that file).
pub fn vectors() -> HashMap<String, Vec<u8>> {
    let text = include_str!("../data/vectors.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(" = "))
        .map(|l| {
            let (k, v) = l.split_once(" = ").expect("name = hex");
            (k.to_string(), hex(v.trim()))
        })
        .collect()
}

/// A 32-byte array from a vector.
pub fn arr32(v: &[u8]) -> [u8; 32] {
    v.try_into().expect("32 bytes")
}

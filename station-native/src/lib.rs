//! TapDance station data plane.
//!
//! Watches a mirrored link, tracks TLS flows, finds the rare tagged flow and takes over the decoy's
//! side of that live TCP connection. Layers, bottom up:
//!
//! ```text
//!  capture/   AF_PACKET TPACKET_V3 ring (fanout by IP pair) | pcap/pcapng replay | PF_RING (dlopen)
//!     │ frames
//!  wire/      zero-copy views: Ethernet, VLAN, IPv4, IPv6, TCP, TLS record header
//!     │ parsed segment
//!  flow/      fixed-capacity flow table + timing wheel: SYN options, seq/ack/win/TSval both ways
//!     │ first client application-data record (pipeline.rs, one worker per thread)
//!  tag/       stego extraction, Elligator 2, X25519, SHA-256, AES-GCM; TLS 1.2 secret check
//!     │ verified tag
//!  takeover/  TCP_REPAIR socket continuing the decoy's side; spoofed RST to the decoy
//!     │ fd + metadata (station.rs: threads, queue, counters)
//!  napi       (feature `node`) the Node-API surface, a thread-safe callback per takeover
//! ```
//!
//! `unsafe` lives only in `sys` (the kernel interface), the PF_RING loader and the napi module.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod counters;
pub mod flow;
pub mod pipeline;
pub mod replay;
pub mod station;
pub mod sys;
pub mod tag;
pub mod takeover;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod wire;

#[cfg(feature = "node")]
mod napi;

//! Taking over the decoy's side of a live TCP connection, and silencing the decoy afterwards.
//!
//! [`repair`] builds a socket in TCP repair mode that continues exactly where the decoy's
//! kernel is (sequence numbers of both queues, MSS, window scale, SACK, timestamps that continue
//! the decoy's clock, windows) and leaves repair mode: from then on it is an ordinary connected
//! socket that JavaScript wraps as `net.Socket`. The host must route the client's packets of the
//! flow to the local stack (IP_TRANSPARENT socket match + policy routing: see
//! src/station/net-setup.ts).
//!
//! [`rst`] sends a spoofed RST from the client to the decoy when a hijacked flow ends, so the
//! decoy's socket goes away without a reset reaching the client mid-flow.

pub mod repair;
pub mod rst;

//! Packet sources behind one trait: the AF_PACKET ring (live, default), pcap/pcapng files
//! (replay, tests, benchmarks) and PF_RING (loaded at run time).

pub mod afpacket;
pub mod pcap;
pub mod pfring;

use crate::wire::LinkType;

/// Why a capture could not be opened or read. The message is one line meant for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Stable code (`ERR_CAPTURE_…`).
    pub code: &'static str,
    /// One-line explanation.
    pub message: String,
}

impl CaptureError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> CaptureError {
        CaptureError { code, message: message.into() }
    }
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CaptureError {}

/// A source of frames.
pub trait Capture: Send {
    /// Hands every frame available now to `f(capture_time_ns, link_type, frame)`, waiting at most
    /// `timeout_ms` for the first. Returns how many frames were delivered; `Ok(None)` means the
    /// source is exhausted (end of file).
    ///
    /// # Errors
    /// A [`CaptureError`] when the source fails.
    fn poll(&mut self, timeout_ms: i32, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<Option<usize>, CaptureError>;

    /// Frames dropped by the kernel or library since the last call.
    fn drops(&mut self) -> u64 {
        0
    }
}

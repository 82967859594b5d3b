//! Flow tracking: a fixed-capacity table of TLS flows with timer-based eviction.
//!
//! A flow starts with the client's SYN to a configured TLS port and records what a takeover must
//! reproduce: both sides' SYN options and, per direction, the latest sequence, acknowledgment,
//! window and timestamp. All memory is allocated when the table is built; the per-packet path
//! only indexes into it. See [`table`] for the layout and [`wheel`] for eviction.

pub mod table;
pub mod wheel;

use crate::wire::Addr;
use crate::wire::tcp::Options;

pub use table::{FlowId, FlowTable, InsertError};

/// A flow's identity, oriented client → server (the server is the side on a TLS port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    /// Client address (IPv4-mapped for IPv4).
    pub client: Addr,
    /// Server (decoy) address.
    pub server: Addr,
    /// Client port.
    pub client_port: u16,
    /// Server port.
    pub server_port: u16,
}

/// What a flow is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum FlowState {
    /// Client SYN seen; handshake in progress; no application data yet.
    #[default]
    Handshake = 0,
    /// The first application-data record carried a verified tag; waiting for the decoy's ACK of
    /// it before taking over.
    Tagged = 1,
    /// Handed to the takeover (or reported, in replay); still tracked for the decoy RST.
    TakenOver = 2,
}

/// The SYN options of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynInfo {
    /// True once this side's SYN (or SYN-ACK) was seen.
    pub seen: bool,
    /// MSS option (0 when absent).
    pub mss: u16,
    /// Window scale (`None` when absent).
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps offered.
    pub timestamps: bool,
    /// Initial sequence number.
    pub isn: u32,
}

impl SynInfo {
    /// Records a SYN's options.
    pub fn from_syn(o: &Options, isn: u32) -> SynInfo {
        SynInfo { seen: true, mss: o.mss.unwrap_or(0), wscale: o.wscale, sack_permitted: o.sack_permitted, timestamps: o.timestamps.is_some(), isn }
    }
}

/// The latest TCP state seen in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirState {
    /// Highest `seq + len` seen (SYN and FIN count one), i.e. the sender's snd_nxt as observed.
    pub next_seq: u32,
    /// Latest acknowledgment number (the sender's rcv_nxt).
    pub ack: u32,
    /// Latest raw window field.
    pub window: u16,
    /// Latest TSval (0 when none).
    pub tsval: u32,
    /// Latest TSecr.
    pub tsecr: u32,
    /// Capture time of the latest segment in this direction (ns).
    pub last_ns: u64,
    /// A FIN or RST was seen in this direction.
    pub closed: bool,
    /// `ack` holds a real acknowledgment (serial comparison needs a first value).
    pub acked: bool,
}

/// Serial-number comparison (RFC 1982): true when `a` is after `b`.
pub fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl DirState {
    /// Folds a segment into the state.
    pub fn update(&mut self, seq: u32, seg_len: u32, ack: Option<u32>, window: u16, ts: Option<(u32, u32)>, now_ns: u64) {
        let end = seq.wrapping_add(seg_len);
        if self.last_ns == 0 || seq_after(end, self.next_seq) {
            self.next_seq = end;
        }
        if let Some(a) = ack {
            if !self.acked || !seq_after(self.ack, a) {
                self.ack = a;
                self.acked = true;
            }
        }
        self.window = window;
        if let Some((v, e)) = ts {
            self.tsval = v;
            self.tsecr = e;
        }
        self.last_ns = now_ns;
    }
}

/// Everything tracked for one flow.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flow {
    /// Identity.
    pub key: FlowKey,
    /// Lifecycle state.
    pub state: FlowState,
    /// True for IPv6.
    pub v6: bool,
    /// A short application-data record came in the segment of the client's ChangeCipherSpec (a
    /// TLS 1.3 Finished, or TLS 1.2 False Start data): short records are passed over before the
    /// tag check.
    pub tls13: bool,
    /// The decoy has sent its ChangeCipherSpec and the record after it (its TLS 1.2 Finished).
    pub server_finished: bool,
    /// The tag came with the client's ChangeCipherSpec (TLS 1.2 False Start) before the decoy's
    /// Finished: the takeover waits for that Finished, and the decoy gets an ACK of it once the
    /// client has acknowledged it (SPEC.md §5.1). Stays set in the reported flow.
    pub await_finished: bool,
    /// The decoy got its spoofed ACK of that Finished (after the client acknowledged it).
    pub decoy_acked: bool,
    /// Client SYN options.
    pub client_syn: SynInfo,
    /// Server SYN-ACK options.
    pub server_syn: SynInfo,
    /// Client → server direction.
    pub client: DirState,
    /// Server → client direction.
    pub server: DirState,
    /// Sequence number just after the tagged segment (the decoy's rcv_nxt once it accepts it).
    pub tagged_end: u32,
    /// Eviction deadline in wheel ticks.
    pub(crate) deadline: u32,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) slot: u16,
    pub(crate) generation: u32,
    pub(crate) hash: u32,
}

//! TCP_REPAIR takeover (Linux ≥ 3.5; the TCP_TIMESTAMP low-bit rule is Linux ≥ 6.7).
//!
//! Order matters (each step was found necessary in the testbed recipe):
//! 1. socket, `IP_TRANSPARENT` (bind a non-local address), `TCP_REPAIR` on;
//! 2. while CLOSED: `TCP_REPAIR_QUEUE`=send + `TCP_QUEUE_SEQ` = decoy's snd_nxt, then
//!    `TCP_REPAIR_QUEUE`=recv + `TCP_QUEUE_SEQ` = the decoy's rcv_nxt (end of the tagged segment);
//! 3. bind decoy ip:port, connect client ip:port (repair mode: no SYN, straight to ESTABLISHED);
//! 4. `TCP_REPAIR_OPTIONS` (only when ESTABLISHED and before any send): MSS, window scales, SACK,
//!    timestamps — only those both SYNs offered;
//! 5. `TCP_TIMESTAMP` = decoy's last TSval + elapsed ms, **low bit cleared** (bit 0 selects
//!    microsecond timestamps since Linux 6.7), so the client's PAWS check accepts our segments;
//! 6. `TCP_REPAIR_WINDOW` with the windows both sides last announced;
//! 7. `TCP_REPAIR` off (sends one window probe the client answers).

use std::io;
use std::os::fd::OwnedFd;

use crate::flow::Flow;
use crate::sys;
use crate::wire::is_v4;

const SOL_IP: i32 = 0;
const SOL_IPV6: i32 = 41;
const SOL_TCP: i32 = 6;
const IP_TRANSPARENT: i32 = 19;
const IPV6_TRANSPARENT: i32 = 75;
const TCP_REPAIR: i32 = 19;
const TCP_REPAIR_QUEUE: i32 = 20;
const TCP_QUEUE_SEQ: i32 = 21;
const TCP_REPAIR_OPTIONS: i32 = 22;
const TCP_TIMESTAMP: i32 = 24;
const TCP_REPAIR_WINDOW: i32 = 29;
const TCP_RECV_QUEUE: i32 = 1;
const TCP_SEND_QUEUE: i32 = 2;
const TCPOPT_MAXSEG: u32 = 2;
const TCPOPT_WINDOW: u32 = 3;
const TCPOPT_SACK_PERM: u32 = 4;
const TCPOPT_TIMESTAMP: u32 = 8;

/// `struct tcp_repair_window`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairWindow {
    /// snd_wl1: sequence of the segment that last updated the send window.
    pub snd_wl1: u32,
    /// Send window (client's window, scaled).
    pub snd_wnd: u32,
    /// Largest send window seen.
    pub max_window: u32,
    /// Receive window we announce (decoy's window, scaled).
    pub rcv_wnd: u32,
    /// rcv_wup: rcv_nxt at the last window update.
    pub rcv_wup: u32,
}

/// Everything the repaired socket is set to, derived from a tracked flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepairPlan {
    /// The decoy (our local) address and port.
    pub local: ([u8; 16], u16),
    /// The client (peer) address and port.
    pub peer: ([u8; 16], u16),
    /// IPv6 socket.
    pub v6: bool,
    /// Our snd_nxt (the decoy's).
    pub send_seq: u32,
    /// Our rcv_nxt (end of the tagged segment).
    pub recv_seq: u32,
    /// MSS to send with (the client's).
    pub mss: u32,
    /// (snd_wscale = client's, rcv_wscale = decoy's) when both offered window scaling.
    pub wscale: Option<(u8, u8)>,
    /// Both offered SACK.
    pub sack: bool,
    /// Both offered timestamps.
    pub timestamps: bool,
    /// The decoy's latest TSval and its capture time (ns, CLOCK_REALTIME).
    pub decoy_tsval: (u32, u64),
    /// Window values.
    pub window: RepairWindow,
}

impl RepairPlan {
    /// Derives the plan from a flow's tracked state.
    pub fn from_flow(f: &Flow) -> RepairPlan {
        let ws = match (f.client_syn.wscale, f.server_syn.wscale) {
            (Some(c), Some(s)) => Some((c, s)),
            _ => None,
        };
        let (cws, sws) = ws.map_or((0, 0), |(c, s)| (u32::from(c), u32::from(s)));
        let client_win = u32::from(f.client.window) << cws;
        let decoy_win = u32::from(f.server.window) << sws;
        let recv_seq = f.tagged_end;
        RepairPlan {
            local: (f.key.server, f.key.server_port),
            peer: (f.key.client, f.key.client_port),
            v6: f.v6 || !is_v4(&f.key.server),
            send_seq: f.server.next_seq,
            recv_seq,
            mss: u32::from(if f.client_syn.mss == 0 { 536 } else { f.client_syn.mss }),
            wscale: ws,
            sack: f.client_syn.sack_permitted && f.server_syn.sack_permitted,
            timestamps: f.client_syn.timestamps && f.server_syn.timestamps,
            decoy_tsval: (f.server.tsval, f.server.last_ns),
            window: RepairWindow { snd_wl1: recv_seq, snd_wnd: client_win, max_window: client_win, rcv_wnd: decoy_win, rcv_wup: recv_seq },
        }
    }

    /// The TCP_TIMESTAMP value at wall time `now_ns`: the decoy's clock continued, low bit clear.
    pub fn timestamp_at(&self, now_ns: u64) -> u32 {
        let elapsed_ms = (now_ns.saturating_sub(self.decoy_tsval.1) / 1_000_000) as u32;
        self.decoy_tsval.0.wrapping_add(elapsed_ms).wrapping_add(2) & !1
    }

    /// The TCP_REPAIR_OPTIONS array (pairs of u32: option code, value).
    pub fn options(&self) -> Vec<u8> {
        let mut o: Vec<u32> = vec![TCPOPT_MAXSEG, self.mss];
        if let Some((snd, rcv)) = self.wscale {
            o.extend([TCPOPT_WINDOW, u32::from(snd) | (u32::from(rcv) << 16)]);
        }
        if self.sack {
            o.extend([TCPOPT_SACK_PERM, 0]);
        }
        if self.timestamps {
            o.extend([TCPOPT_TIMESTAMP, 0]);
        }
        o.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }
}

/// Which step of the takeover failed.
#[derive(Debug)]
pub struct RepairError {
    /// The step (`"IP_TRANSPARENT"`, `"bind"`, …).
    pub step: &'static str,
    /// The OS error.
    pub error: io::Error,
}

impl std::fmt::Display for RepairError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TCP repair step {} failed: {}", self.step, self.error)
    }
}

/// Builds the repaired, connected, non-blocking socket for `plan` at wall time `now_ns`.
///
/// # Errors
/// A [`RepairError`] naming the failed step (needs CAP_NET_ADMIN for TCP_REPAIR and
/// IP_TRANSPARENT, and CAP_NET_BIND_SERVICE for ports below 1024).
pub fn repaired_socket(plan: &RepairPlan, now_ns: u64) -> Result<OwnedFd, RepairError> {
    let step = |step: &'static str| move |error: io::Error| RepairError { step, error };
    let domain = if plan.v6 { libc::AF_INET6 } else { libc::AF_INET };
    let fd = sys::socket(domain, libc::SOCK_STREAM, 0).map_err(step("socket"))?;
    if plan.v6 {
        sys::setsockopt(&fd, SOL_IPV6, IPV6_TRANSPARENT, &1i32).map_err(step("IPV6_TRANSPARENT"))?;
    } else {
        sys::setsockopt(&fd, SOL_IP, IP_TRANSPARENT, &1i32).map_err(step("IP_TRANSPARENT"))?;
    }
    sys::setsockopt(&fd, SOL_TCP, TCP_REPAIR, &1i32).map_err(step("TCP_REPAIR"))?;
    sys::setsockopt(&fd, SOL_TCP, TCP_REPAIR_QUEUE, &TCP_SEND_QUEUE).map_err(step("TCP_REPAIR_QUEUE send"))?;
    sys::setsockopt(&fd, SOL_TCP, TCP_QUEUE_SEQ, &plan.send_seq).map_err(step("TCP_QUEUE_SEQ send"))?;
    sys::setsockopt(&fd, SOL_TCP, TCP_REPAIR_QUEUE, &TCP_RECV_QUEUE).map_err(step("TCP_REPAIR_QUEUE recv"))?;
    sys::setsockopt(&fd, SOL_TCP, TCP_QUEUE_SEQ, &plan.recv_seq).map_err(step("TCP_QUEUE_SEQ recv"))?;
    sys::bind(&fd, &plan.local.0, plan.local.1, plan.v6).map_err(step("bind"))?;
    sys::connect(&fd, &plan.peer.0, plan.peer.1, plan.v6).map_err(step("connect"))?;
    sys::setsockopt_bytes(&fd, SOL_TCP, TCP_REPAIR_OPTIONS, &plan.options()).map_err(step("TCP_REPAIR_OPTIONS"))?;
    if plan.timestamps {
        sys::setsockopt(&fd, SOL_TCP, TCP_TIMESTAMP, &plan.timestamp_at(now_ns)).map_err(step("TCP_TIMESTAMP"))?;
    }
    sys::setsockopt(&fd, SOL_TCP, TCP_REPAIR_WINDOW, &plan.window).map_err(step("TCP_REPAIR_WINDOW"))?;
    sys::setsockopt(&fd, SOL_TCP, TCP_REPAIR, &0i32).map_err(step("TCP_REPAIR off"))?;
    sys::set_nonblocking(&fd).map_err(step("O_NONBLOCK"))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{DirState, FlowKey, SynInfo};
    use crate::wire::v4_mapped;

    fn flow() -> Flow {
        Flow {
            key: FlowKey { client: v4_mapped([10, 0, 0, 2]), server: v4_mapped([10, 0, 1, 2]), client_port: 40000, server_port: 443 },
            client_syn: SynInfo { seen: true, mss: 1460, wscale: Some(7), sack_permitted: true, timestamps: true, isn: 1 },
            server_syn: SynInfo { seen: true, mss: 1400, wscale: Some(9), sack_permitted: false, timestamps: true, isn: 2 },
            client: DirState { next_seq: 5000, window: 502, ..DirState::default() },
            server: DirState { next_seq: 9000, ack: 5000, window: 509, tsval: 1_000_001, last_ns: 7_000_000_000, ..DirState::default() },
            tagged_end: 5000,
            ..Flow::default()
        }
    }

    #[test]
    fn the_plan_continues_the_decoy_side_of_the_flow() {
        let p = RepairPlan::from_flow(&flow());
        assert_eq!((p.send_seq, p.recv_seq, p.mss), (9000, 5000, 1460));
        assert_eq!(p.wscale, Some((7, 9)));
        assert!(!p.sack);
        assert!(p.timestamps);
        assert_eq!(p.window, RepairWindow { snd_wl1: 5000, snd_wnd: 502 << 7, max_window: 502 << 7, rcv_wnd: 509 << 9, rcv_wup: 5000 });
        assert_eq!(p.local, (v4_mapped([10, 0, 1, 2]), 443));
        assert!(!p.v6);
    }

    #[test]
    fn the_timestamp_continues_the_decoy_clock_with_the_low_bit_clear() {
        let p = RepairPlan::from_flow(&flow());
        let ts = p.timestamp_at(7_000_000_000 + 250_000_000);
        assert_eq!(ts & 1, 0);
        assert_eq!(ts, (1_000_001 + 250 + 2) & !1);
    }

    #[test]
    fn repair_options_carry_only_what_both_sides_offered() {
        let p = RepairPlan::from_flow(&flow());
        let words: Vec<u32> = p.options().chunks(4).map(|c| u32::from_ne_bytes(c.try_into().unwrap())).collect();
        assert_eq!(words, vec![2, 1460, 3, 7 | (9 << 16), 8, 0]);
    }
}

//! Live capture from an AF_PACKET TPACKET_V3 ring, one socket per worker, all joined to one
//! fanout group whose classic-BPF program hashes the *IP pair* symmetrically.
//!
//! Why a cBPF fanout program: the kernel's PACKET_FANOUT_HASH uses the flow hash of the 4-tuple,
//! but the station needs every flow between one client IP and one decoy IP (a TapDance session
//! spans several flows) on the same worker. The program XORs the source and destination address
//! words (symmetric, so both directions agree), mixes the result, and the kernel takes it modulo
//! the number of sockets. This keeps dispatch in the kernel with zero copies, instead of one
//! capture thread re-dispatching every frame to workers.

use std::os::fd::{AsRawFd, OwnedFd};

use super::{Capture, CaptureError};
use crate::sys;
use crate::wire::LinkType;

const SOL_PACKET: i32 = 263;
const PACKET_RX_RING: i32 = 5;
const PACKET_STATISTICS: i32 = 6;
const PACKET_VERSION: i32 = 10;
const PACKET_FANOUT: i32 = 18;
const PACKET_FANOUT_DATA: i32 = 22;
const PACKET_FANOUT_CBPF: u32 = 6;
const TPACKET_V3: i32 = 2;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_KERNEL: u32 = 0;

/// Ring geometry and fanout group of one capture socket.
#[derive(Clone, Copy, Debug)]
pub struct RingConfig {
    /// Bytes per block (power of two, multiple of the page size).
    pub block_size: u32,
    /// Number of blocks.
    pub block_count: u32,
    /// Block retire timeout (ms): how long a partly filled block waits before user space sees it.
    /// At low packet rates this is the delay between a tagged segment and its check, so it is
    /// kept at the kernel's minimum (1 ms); at high rates blocks fill and retire sooner anyway.
    pub retire_ms: u32,
    /// Fanout group id shared by the workers of one station (unique per interface).
    pub fanout_group: u16,
}

impl Default for RingConfig {
    fn default() -> RingConfig {
        RingConfig { block_size: 1 << 20, block_count: 64, retire_ms: 1, fanout_group: 0x7d01 }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketReq3 {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
    retire_blk_tov: u32,
    sizeof_priv: u32,
    feature_req_word: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketStatsV3 {
    packets: u32,
    drops: u32,
    freeze_q_cnt: u32,
}

const fn ins(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// Classic-BPF offsets relative to the network header and the skb protocol.
const NET: u32 = 0xfff0_0000; // SKF_NET_OFF
const AD_PROTOCOL: u32 = 0xffff_f000; // SKF_AD_OFF + SKF_AD_PROTOCOL

/// The symmetric IP-pair hash program (see the module doc): XOR of all source and destination
/// address words (symmetric), times a golden-ratio constant, high half. Non-IP frames return 0.
fn ip_pair_hash_program() -> Vec<SockFilter> {
    const LD_H_ABS: u16 = 0x28;
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const TAX: u16 = 0x07;
    const XOR_X: u16 = 0xac;
    const MUL_K: u16 = 0x24;
    const RSH_K: u16 = 0x74;
    const RET_A: u16 = 0x16;
    const RET_K: u16 = 0x06;
    const MIX: u32 = 0x9e37_79b1;
    let mix = [ins(MUL_K, 0, 0, MIX), ins(RSH_K, 0, 0, 16), ins(RET_A, 0, 0, 0)];
    let mut p = vec![ins(LD_H_ABS, 0, 0, AD_PROTOCOL)];
    // IPv4: 7 instructions follow the test.
    p.push(ins(JEQ_K, 0, 7, 0x0800));
    p.extend([ins(LD_W_ABS, 0, 0, NET + 12), ins(TAX, 0, 0, 0), ins(LD_W_ABS, 0, 0, NET + 16), ins(XOR_X, 0, 0, 0)]);
    p.extend(mix);
    // IPv6: 8 source+destination words at offsets 8..40, then the mix; else return 0.
    let v6_start = p.len();
    p.push(ins(JEQ_K, 0, 0, 0x86dd));
    p.extend([ins(LD_W_ABS, 0, 0, NET + 8), ins(TAX, 0, 0, 0)]);
    for w in 1..8u32 {
        p.push(ins(LD_W_ABS, 0, 0, NET + 8 + 4 * w));
        p.push(ins(XOR_X, 0, 0, 0));
        if w < 7 {
            p.push(ins(TAX, 0, 0, 0));
        }
    }
    p.extend(mix);
    let ret0 = p.len();
    p.push(ins(RET_K, 0, 0, 0));
    p[v6_start].jf = (ret0 - v6_start - 1) as u8;
    p
}

/// One worker's AF_PACKET socket and ring.
pub struct AfPacket {
    fd: OwnedFd,
    ring: sys::Mapping,
    cfg: RingConfig,
    block: u32,
}

fn err(what: &str, e: std::io::Error) -> CaptureError {
    let hint = if e.raw_os_error() == Some(libc::EPERM) { " (needs CAP_NET_RAW: run as root)" } else { "" };
    CaptureError::new("ERR_CAPTURE_AFPACKET", format!("AF_PACKET {what}: {e}{hint}"))
}

impl AfPacket {
    /// Opens a ring on `iface` and joins the fanout group.
    ///
    /// # Errors
    /// `ERR_CAPTURE_AFPACKET` naming the step that failed.
    pub fn open(iface: &str, cfg: RingConfig) -> Result<AfPacket, CaptureError> {
        let ifindex = sys::if_index(iface).map_err(|e| err(&format!("interface {iface:?}"), e))?;
        let fd = sys::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from((libc::ETH_P_ALL as u16).to_be())).map_err(|e| err("socket", e))?;
        sys::setsockopt(&fd, SOL_PACKET, PACKET_VERSION, &TPACKET_V3).map_err(|e| err("TPACKET_V3", e))?;
        let req = TpacketReq3 {
            block_size: cfg.block_size,
            block_nr: cfg.block_count,
            frame_size: 2048,
            frame_nr: cfg.block_size / 2048 * cfg.block_count,
            retire_blk_tov: cfg.retire_ms,
            sizeof_priv: 0,
            feature_req_word: 0,
        };
        sys::setsockopt(&fd, SOL_PACKET, PACKET_RX_RING, &req).map_err(|e| err("PACKET_RX_RING", e))?;
        let ring = sys::Mapping::ring(&fd, (cfg.block_size as usize) * (cfg.block_count as usize)).map_err(|e| err("mmap", e))?;
        sys::bind_packet(&fd, ifindex).map_err(|e| err("bind", e))?;
        let fanout: u32 = u32::from(cfg.fanout_group) | (PACKET_FANOUT_CBPF << 16);
        sys::setsockopt(&fd, SOL_PACKET, PACKET_FANOUT, &fanout).map_err(|e| err("PACKET_FANOUT", e))?;
        let program = ip_pair_hash_program();
        let prog = SockFprog { len: program.len() as u16, filter: program.as_ptr() };
        sys::setsockopt(&fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog).map_err(|e| err("PACKET_FANOUT_DATA", e))?;
        Ok(AfPacket { fd, ring, cfg, block: 0 })
    }
}

impl Capture for AfPacket {
    fn poll(&mut self, timeout_ms: i32, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<Option<usize>, CaptureError> {
        let bs = self.cfg.block_size as usize;
        let mut delivered = 0;
        // Hand over at most one lap of the ring per call so the caller can run its timers.
        for _ in 0..self.cfg.block_count {
            let base = self.block as usize * bs;
            // tpacket_block_desc: version u32, offset_to_priv u32, then tpacket_hdr_v1
            // { block_status u32, num_pkts u32, offset_to_first_pkt u32, blk_len u32, … }.
            if self.ring.load_u32_acquire(base + 8) & TP_STATUS_USER == 0 {
                if delivered > 0 {
                    break;
                }
                if !sys::poll_in(self.fd.as_raw_fd(), timeout_ms).map_err(|e| err("poll", e))? {
                    return Ok(Some(0));
                }
                if self.ring.load_u32_acquire(base + 8) & TP_STATUS_USER == 0 {
                    return Ok(Some(0));
                }
            }
            let hdr = self.ring.slice(base, 48);
            let rd = |o: usize| u32::from_ne_bytes([hdr[o], hdr[o + 1], hdr[o + 2], hdr[o + 3]]);
            let num = rd(12);
            let mut off = rd(16) as usize;
            for _ in 0..num {
                if off + 32 > bs {
                    break;
                }
                // tpacket3_hdr: next u32, sec u32, nsec u32, snaplen u32, len u32, status u32,
                // mac u16, net u16, …
                let ph = self.ring.slice(base + off, 32);
                let r32 = |o: usize| u32::from_ne_bytes([ph[o], ph[o + 1], ph[o + 2], ph[o + 3]]);
                let next = r32(0) as usize;
                let ns = u64::from(r32(4)) * 1_000_000_000 + u64::from(r32(8));
                let snap = r32(12) as usize;
                let mac = usize::from(u16::from_ne_bytes([ph[24], ph[25]]));
                if off + mac + snap <= bs {
                    f(ns, LinkType::Ethernet, self.ring.slice(base + off + mac, snap));
                    delivered += 1;
                }
                if next == 0 {
                    break;
                }
                off += next;
            }
            self.ring.store_u32_release(base + 8, TP_STATUS_KERNEL);
            self.block = (self.block + 1) % self.cfg.block_count;
        }
        Ok(Some(delivered))
    }

    fn drops(&mut self) -> u64 {
        // Reading the statistics resets them, so each call returns the drops since the last.
        sys::getsockopt::<TpacketStatsV3>(&self.fd, SOL_PACKET, PACKET_STATISTICS).map(|s| u64::from(s.drops)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic-BPF interpreter for the few opcodes the program uses; `net` is the packet from
    /// its network header on.
    fn run(p: &[SockFilter], proto: u16, net: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                0x28 if i.k == AD_PROTOCOL => a = u32::from(proto),
                0x20 => {
                    let o = (i.k - NET) as usize;
                    a = u32::from_be_bytes(net[o..o + 4].try_into().unwrap());
                }
                0x15 => pc += usize::from(if a == i.k { i.jt } else { i.jf }),
                0x07 => x = a,
                0xac => a ^= x,
                0x24 => a = a.wrapping_mul(i.k),
                0x74 => a >>= i.k,
                0x16 => return a,
                0x06 => return i.k,
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn both_directions_of_an_ip_pair_hash_alike_and_pairs_spread() {
        let p = ip_pair_hash_program();
        let mut buckets = [0u32; 4];
        for i in 0..400u32 {
            let mut v4 = [0u8; 20];
            v4[12..16].copy_from_slice(&(0x0a00_0000 + i).to_be_bytes());
            v4[16..20].copy_from_slice(&[192, 0, 2, (i % 7) as u8]);
            let mut rev = v4;
            rev[12..16].copy_from_slice(&v4[16..20]);
            rev[16..20].copy_from_slice(&v4[12..16]);
            let h = run(&p, 0x0800, &v4);
            assert_eq!(h, run(&p, 0x0800, &rev));
            buckets[(h % 4) as usize] += 1;
            let mut v6 = [0u8; 40];
            v6[8..24].copy_from_slice(&[0x20, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (i >> 8) as u8, i as u8]);
            v6[24..40].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
            let mut r6 = v6;
            r6[8..24].copy_from_slice(&v6[24..40]);
            r6[24..40].copy_from_slice(&v6[8..24]);
            assert_eq!(run(&p, 0x86dd, &v6), run(&p, 0x86dd, &r6));
        }
        assert!(buckets.iter().all(|&b| b > 50), "{buckets:?}");
        assert_eq!(run(&p, 0x0806, &[0u8; 40]), 0);
    }
}

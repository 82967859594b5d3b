//! Spoofed RST from the client to the decoy, sent through a raw IP_HDRINCL socket.
//!
//! Modern stacks (RFC 5961) reset a connection only for an RST whose sequence number equals
//! their rcv_nxt exactly; an in-window one draws a challenge ACK instead. The decoy's rcv_nxt is
//! the acknowledgment number it last sent — unless it accepted more client data since. So the
//! RST goes out with the decoy's latest advertised ACK and, when different, with the client's
//! highest sequence number seen; one of them is exact, the other is harmless.
//!
//! A flow whose tag came with the client's Finished (TLS 1.2 False Start, SPEC.md §5.1) also gets
//! a spoofed ACK of the decoy's Finished once the client has acknowledged it: the client's own
//! ACKs already cover the station's first bytes, which the decoy never sent, so the decoy discards
//! them and would retransmit its Finished until the final RST.

use std::io;

use crate::flow::Flow;
use crate::sys;
use crate::wire::tcp::{ACK, RST};

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn sum(b: &[u8]) -> u32 {
    b.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum()
}

/// Builds an IPv4 or IPv6 packet carrying an RST|ACK from `src` to `dst`.
pub fn build_rst(src: (&[u8; 16], u16), dst: (&[u8; 16], u16), v6: bool, seq: u32, ack: u32) -> Vec<u8> {
    build_segment(src, dst, v6, seq, ack, RST | ACK, 0)
}

/// Builds an IPv4 or IPv6 packet carrying a bare TCP segment (no options, no payload).
pub fn build_segment(src: (&[u8; 16], u16), dst: (&[u8; 16], u16), v6: bool, seq: u32, ack: u32, flags: u8, window: u16) -> Vec<u8> {
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&src.1.to_be_bytes());
    tcp[2..4].copy_from_slice(&dst.1.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&window.to_be_bytes());
    let mut pkt = Vec::with_capacity(60);
    if v6 {
        let c = fold(sum(src.0) + sum(dst.0) + 20 + 6 + sum(&tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        pkt.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
        pkt.extend_from_slice(src.0);
        pkt.extend_from_slice(dst.0);
    } else {
        let (s4, d4) = (&src.0[12..16], &dst.0[12..16]);
        let c = fold(sum(s4) + sum(d4) + 6 + 20 + sum(&tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        let mut ip = [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        ip[12..16].copy_from_slice(s4);
        ip[16..20].copy_from_slice(d4);
        let c = fold(sum(&ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        pkt.extend_from_slice(&ip);
    }
    pkt.extend_from_slice(&tcp);
    pkt
}

/// The sequence numbers to try for an RST to the decoy of `f` (see the module doc).
pub fn rst_sequences(f: &Flow) -> Vec<u32> {
    let mut v = vec![f.server.ack];
    if f.client.next_seq != f.server.ack {
        v.push(f.client.next_seq);
    }
    v
}

/// Sends the RSTs for flow `f`; returns how many left.
///
/// # Errors
/// The OS error of the raw socket (needs CAP_NET_RAW).
pub fn send_decoy_rst(f: &Flow) -> io::Result<usize> {
    let v6 = f.v6;
    let fd = if v6 { sys::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW)? } else { sys::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)? };
    let mut n = 0;
    for seq in rst_sequences(f) {
        let pkt = build_rst((&f.key.client, f.key.client_port), (&f.key.server, f.key.server_port), v6, seq, f.server.next_seq);
        sys::sendto(&fd, &pkt, &f.key.server, v6)?;
        n += 1;
    }
    Ok(n)
}

/// Sends the client's ACK of everything the decoy sent (its Finished) to the decoy of `f`: sequence
/// number the decoy's rcv_nxt, acknowledgment its snd_nxt, the client's last window. No timestamp
/// option: Linux applies PAWS only to segments that carry one.
///
/// # Errors
/// The OS error of the raw socket (needs CAP_NET_RAW).
pub fn send_decoy_ack(f: &Flow) -> io::Result<()> {
    let v6 = f.v6;
    let fd = if v6 { sys::socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW)? } else { sys::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)? };
    let pkt = build_segment((&f.key.client, f.key.client_port), (&f.key.server, f.key.server_port), v6, f.server.ack, f.server.next_seq, ACK, f.client.window);
    sys::sendto(&fd, &pkt, &f.key.server, v6)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{LinkType, parse_frame, v4_mapped};

    #[test]
    fn the_rst_parses_back_with_valid_checksums() {
        let pkt = build_rst((&v4_mapped([10, 0, 0, 2]), 40000), (&v4_mapped([10, 0, 1, 2]), 443), false, 77, 88);
        let p = parse_frame(LinkType::RawIp, &pkt).unwrap();
        assert_eq!((p.tcp.src_port(), p.tcp.dst_port(), p.tcp.seq(), p.tcp.ack(), p.tcp.flags()), (40000, 443, 77, 88, RST | ACK));
        assert_eq!(fold(sum(&pkt[..20])), 0, "IPv4 header checksum");
        let pseudo = sum(&pkt[12..20]) + 6 + 20 + sum(&pkt[20..]);
        assert_eq!(fold(pseudo), 0, "TCP checksum");
    }

    #[test]
    fn a_bare_ack_carries_its_flags_and_window_with_valid_checksums() {
        let pkt = build_segment((&v4_mapped([10, 0, 0, 2]), 40000), (&v4_mapped([10, 0, 1, 2]), 443), false, 77, 88, ACK, 502);
        let p = parse_frame(LinkType::RawIp, &pkt).unwrap();
        assert_eq!((p.tcp.seq(), p.tcp.ack(), p.tcp.flags(), p.tcp.window()), (77, 88, ACK, 502));
        assert!(p.tcp.payload().is_empty());
        let pseudo = sum(&pkt[12..20]) + 6 + 20 + sum(&pkt[20..]);
        assert_eq!(fold(pseudo), 0, "TCP checksum");
    }

    #[test]
    fn both_the_decoy_ack_and_the_client_high_water_mark_are_tried() {
        let mut f = Flow::default();
        f.server.ack = 100;
        f.client.next_seq = 100;
        assert_eq!(rst_sequences(&f), vec![100]);
        f.client.next_seq = 150;
        assert_eq!(rst_sequences(&f), vec![100, 150]);
    }
}

//! TCP segments (RFC 9293) and the options the takeover must copy: MSS, window scale,
//! SACK-permitted and timestamps (RFC 7323).

use super::Malformed;

/// FIN flag.
pub const FIN: u8 = 0x01;
/// SYN flag.
pub const SYN: u8 = 0x02;
/// RST flag.
pub const RST: u8 = 0x04;
/// PSH flag.
pub const PSH: u8 = 0x08;
/// ACK flag.
pub const ACK: u8 = 0x10;

/// A view of a TCP segment whose data offset was checked.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// The options of interest, parsed without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Timestamps (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the data offset against the buffer.
    ///
    /// # Errors
    /// [`Malformed`] when the header is cut short.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Malformed> {
        let b = buffer.as_ref();
        if b.len() < 20 {
            return Err(Malformed);
        }
        let off = usize::from(b[12] >> 4) * 4;
        if off < 20 || off > b.len() {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[0], self.b()[1]])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.b()[2], self.b()[3]])
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.b()[4], self.b()[5], self.b()[6], self.b()[7]])
    }

    /// Acknowledgment number.
    pub fn ack(&self) -> u32 {
        u32::from_be_bytes([self.b()[8], self.b()[9], self.b()[10], self.b()[11]])
    }

    /// The flag bits (FIN, SYN, RST, PSH, ACK, …).
    pub fn flags(&self) -> u8 {
        self.b()[13]
    }

    /// Raw (unscaled) window.
    pub fn window(&self) -> u16 {
        u16::from_be_bytes([self.b()[14], self.b()[15]])
    }

    fn header_len(&self) -> usize {
        usize::from(self.b()[12] >> 4) * 4
    }

    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }

    /// Parses the options; a malformed option ends the walk (what was read is kept).
    pub fn options(&self) -> Options {
        let mut o = Options::default();
        let mut rest = &self.b()[20..self.header_len()];
        while let Some(&kind) = rest.first() {
            match kind {
                0 => break,
                1 => {
                    rest = &rest[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = rest.get(1) else { break };
            let len = usize::from(len);
            if len < 2 || len > rest.len() {
                break;
            }
            let v = &rest[2..len];
            match (kind, v.len()) {
                (2, 2) => o.mss = Some(u16::from_be_bytes([v[0], v[1]])),
                (3, 1) => o.wscale = Some(v[0].min(14)),
                (4, 0) => o.sack_permitted = true,
                (8, 8) => {
                    o.timestamps = Some((
                        u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                        u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                    ));
                }
                _ => {}
            }
            rest = &rest[len..];
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn_with(opts: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 20];
        h[12] = (((20 + opts.len()) / 4) as u8) << 4;
        h[13] = SYN;
        h.extend_from_slice(opts);
        h
    }

    #[test]
    fn parses_the_options_of_a_linux_syn() {
        // mss 1460, sackOK, TS 0x01020304/0, nop, wscale 7
        let p = syn_with(&[2, 4, 5, 180, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
        let o = Packet::new_checked(&p[..]).unwrap().options();
        assert_eq!(o, Options { mss: Some(1460), wscale: Some(7), sack_permitted: true, timestamps: Some((0x01020304, 0)) });
    }

    #[test]
    fn a_bad_option_length_stops_the_walk_without_panicking() {
        let p = syn_with(&[2, 4, 5, 180, 8, 40, 0, 0]);
        let o = Packet::new_checked(&p[..]).unwrap().options();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.timestamps, None);
        let p = syn_with(&[3, 0, 0, 0]);
        assert_eq!(Packet::new_checked(&p[..]).unwrap().options(), Options::default());
    }

    #[test]
    fn rejects_a_data_offset_beyond_the_buffer() {
        let mut p = vec![0u8; 20];
        p[12] = 0xf0;
        assert!(Packet::new_checked(&p[..]).is_err());
        p[12] = 0x40;
        assert!(Packet::new_checked(&p[..]).is_err());
    }
}

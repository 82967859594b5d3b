//! IPv6 headers (RFC 8200) and the walk over extension headers to the upper layer.

use super::{Addr, Malformed};

/// A view of an IPv6 packet whose fixed header and payload length were checked.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// Why the upper-layer header could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpperError {
    /// A Fragment extension header (not reassembled).
    Fragment,
    /// An extension header runs past the payload, or the chain is too long.
    Truncated,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the version and that the payload length fits the buffer.
    ///
    /// # Errors
    /// [`Malformed`] on any inconsistency.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Malformed> {
        let b = buffer.as_ref();
        if b.len() < 40 || b[0] >> 4 != 6 {
            return Err(Malformed);
        }
        let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if 40 + plen > b.len() {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    /// Source address.
    pub fn src(&self) -> Addr {
        self.buffer.as_ref()[8..24].try_into().unwrap_or([0; 16])
    }

    /// Destination address.
    pub fn dst(&self) -> Addr {
        self.buffer.as_ref()[24..40].try_into().unwrap_or([0; 16])
    }

    /// Skips hop-by-hop, routing and destination-options headers (at most 8) and returns the
    /// upper-layer protocol and its bytes.
    ///
    /// # Errors
    /// [`UpperError`] for fragments and cut or overlong chains.
    pub fn upper_layer(&self) -> Result<(u8, core::ops::Range<usize>), UpperError> {
        let b = self.buffer.as_ref();
        let end = 40 + usize::from(u16::from_be_bytes([b[4], b[5]]));
        let mut next = b[6];
        let mut off = 40;
        for _ in 0..8 {
            match next {
                0 | 43 | 60 => {
                    let h = b.get(off..(off + 2).min(end)).filter(|h| h.len() == 2).ok_or(UpperError::Truncated)?;
                    let len = (usize::from(h[1]) + 1) * 8;
                    next = h[0];
                    if off + len > end {
                        return Err(UpperError::Truncated);
                    }
                    off += len;
                }
                44 => return Err(UpperError::Fragment),
                _ => return Ok((next, off..end)),
            }
        }
        Err(UpperError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        p[6] = next;
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn walks_a_hop_by_hop_header_to_tcp() {
        let mut ext = vec![6u8, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&[9, 9]);
        let p = packet(0, &ext);
        let ip = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(ip.upper_layer(), Ok((6, 48..50)));
    }

    #[test]
    fn reports_fragments_and_cut_chains() {
        let p = packet(44, &[6, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Packet::new_checked(&p[..]).unwrap().upper_layer(), Err(UpperError::Fragment));
        let p = packet(0, &[6, 3]);
        assert_eq!(Packet::new_checked(&p[..]).unwrap().upper_layer(), Err(UpperError::Truncated));
        let mut p = packet(6, &[1, 2]);
        p.truncate(41);
        assert!(Packet::new_checked(&p[..]).is_err());
    }
}

//! Ethernet II frames and 802.1Q / 802.1ad VLAN tags.

use super::Malformed;

/// IPv4 ethertype.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// IPv6 ethertype.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const HEADER_LEN: usize = 14;

/// A view of an Ethernet II frame.
#[derive(Clone, Copy, Debug)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Checks that the 14-byte header is present.
    ///
    /// # Errors
    /// [`Malformed`] when the buffer is shorter than the header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>, Malformed> {
        if buffer.as_ref().len() < HEADER_LEN { Err(Malformed) } else { Ok(Frame { buffer }) }
    }

    /// Destination MAC address.
    pub fn dst(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[0], b[1], b[2], b[3], b[4], b[5]]
    }

    /// Source MAC address.
    pub fn src(&self) -> [u8; 6] {
        let b = self.buffer.as_ref();
        [b[6], b[7], b[8], b[9], b[10], b[11]]
    }

    /// The outer ethertype field.
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[12], b[13]])
    }

    /// The ethertype after up to two VLAN tags and the offset of the payload it describes;
    /// `None` when a tag is cut short.
    pub fn inner_ethertype(&self) -> Option<(u16, usize)> {
        let b = self.buffer.as_ref();
        let mut t = self.ethertype();
        let mut off = HEADER_LEN;
        for _ in 0..2 {
            if t != ETHERTYPE_VLAN && t != ETHERTYPE_QINQ {
                break;
            }
            let tag = b.get(off..off + 4)?;
            t = u16::from_be_bytes([tag[2], tag[3]]);
            off += 4;
        }
        Some((t, off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_through_two_vlan_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 5, 0x81, 0x00, 0, 7, 0x08, 0x00, 0x45]);
        let fr = Frame::new_checked(&f[..]).unwrap();
        assert_eq!(fr.inner_ethertype(), Some((ETHERTYPE_IPV4, 22)));
    }

    #[test]
    fn a_cut_vlan_tag_is_reported() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0]);
        assert_eq!(Frame::new_checked(&f[..]).unwrap().inner_ethertype(), None);
        assert!(Frame::new_checked(&f[..10]).is_err());
    }
}

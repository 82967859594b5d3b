//! IPv4 headers (RFC 791), options skipped by the header length.

use super::Malformed;

/// A view of an IPv4 packet whose header and total length were checked.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates version, header length and total length against the buffer (trailing link
    /// padding is allowed and ignored).
    ///
    /// # Errors
    /// [`Malformed`] on any inconsistency.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Malformed> {
        let b = buffer.as_ref();
        if b.len() < 20 || b[0] >> 4 != 4 {
            return Err(Malformed);
        }
        let ihl = usize::from(b[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        // total == 0 happens with TSO captures; then trust the buffer.
        let total = if total == 0 { b.len() } else { total };
        if ihl < 20 || total < ihl || total > b.len() {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    /// Header length in bytes (20 without options).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[0] & 0x0f) * 4
    }

    fn total_len(&self) -> usize {
        let b = self.buffer.as_ref();
        let t = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if t == 0 { b.len() } else { t }
    }

    /// True for any fragment: more-fragments set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        let b = self.buffer.as_ref();
        let ff = u16::from_be_bytes([b[6], b[7]]);
        ff & 0x2000 != 0 || ff & 0x1fff != 0
    }

    /// Upper-layer protocol number.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[9]
    }

    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[12], b[13], b[14], b[15]]
    }

    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[16], b[17], b[18], b[19]]
    }

    /// Where the payload sits in the buffer: after the header, up to the total length.
    pub fn payload_range(&self) -> core::ops::Range<usize> {
        self.header_len()..self.total_len()
    }

    /// The bytes after the header, up to the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_range()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ihl: u8, total: u16, frag: u16) -> Vec<u8> {
        let mut h = vec![0u8; usize::from(ihl) * 4];
        h[0] = 0x40 | ihl;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[6..8].copy_from_slice(&frag.to_be_bytes());
        h[9] = 6;
        h
    }

    #[test]
    fn skips_options_by_header_length() {
        let mut p = header(6, 28, 0);
        p.extend_from_slice(&[1, 2, 3, 4]);
        let ip = Packet::new_checked(&p[..]).unwrap();
        assert_eq!(ip.header_len(), 24);
        assert_eq!(ip.payload(), &[1, 2, 3, 4]);
    }

    #[test]
    fn rejects_lengths_that_contradict_the_buffer() {
        assert!(Packet::new_checked(&header(5, 40, 0)[..]).is_err());
        assert!(Packet::new_checked(&header(4, 20, 0)[..]).is_err());
        assert!(Packet::new_checked(&header(5, 10, 0)[..]).is_err());
        assert!(Packet::new_checked(&[0x45u8; 10][..]).is_err());
    }

    #[test]
    fn flags_first_and_later_fragments() {
        assert!(Packet::new_checked(&header(5, 20, 0x2000)[..]).unwrap().is_fragment());
        assert!(Packet::new_checked(&header(5, 20, 0x0010)[..]).unwrap().is_fragment());
        assert!(!Packet::new_checked(&header(5, 20, 0x4000)[..]).unwrap().is_fragment());
    }
}

//! The TapDance steganographic channel: 6 payload bits in the low bits of each ciphertext byte.
//!
//! Four wire bytes carry three tag bytes (big-endian 24 bits split 6/6/6/6). The station reads
//! them from a fixed offset before the end of the TLS record body. The encoder (test kit only)
//! chooses plaintext bytes in 0x40..=0x7f so the ciphertext carries the tag, as the client does.

/// Unpacks `wire` (length a multiple of 4) into `out` (3 bytes per 4 wire bytes).
/// Returns the number of bytes written, or `None` when the lengths do not fit.
pub fn extract(wire: &[u8], out: &mut [u8]) -> Option<usize> {
    if wire.len() % 4 != 0 || out.len() < wire.len() / 4 * 3 {
        return None;
    }
    for (chunk, dst) in wire.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let x = (u32::from(chunk[0] & 0x3f) << 18)
            | (u32::from(chunk[1] & 0x3f) << 12)
            | (u32::from(chunk[2] & 0x3f) << 6)
            | u32::from(chunk[3] & 0x3f);
        dst[0] = (x >> 16) as u8;
        dst[1] = (x >> 8) as u8;
        dst[2] = x as u8;
    }
    Some(wire.len() / 4 * 3)
}

/// Plaintext bytes that make `keystream ^ plaintext` carry `tag` (client side; test kit only).
#[cfg(any(test, feature = "testkit"))]
pub fn encode(tag: &[u8], keystream: &[u8]) -> Vec<u8> {
    assert!(tag.len() % 3 == 0 && keystream.len() >= tag.len() / 3 * 4);
    let mut out = Vec::with_capacity(tag.len() / 3 * 4);
    for (g, ks) in tag.chunks_exact(3).zip(keystream.chunks_exact(4)) {
        let x = (u32::from(g[0]) << 16) | (u32::from(g[1]) << 8) | u32::from(g[2]);
        for (i, k) in ks.iter().enumerate() {
            let s = ((x >> (18 - 6 * i)) & 0x3f) as u8;
            let c = (k & 0xc0) | s;
            out.push((c ^ k).wrapping_add(0x40));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_inverts_encode_and_plaintext_stays_printable() {
        let tag: Vec<u8> = (0..180u32).map(|i| (i * 37 + 11) as u8).collect();
        let ks: Vec<u8> = (0..240u32).map(|i| (i * 101 + 7) as u8).collect();
        let p = encode(&tag, &ks);
        assert!(p.iter().all(|b| (0x40..=0x7f).contains(b)));
        let wire: Vec<u8> = p.iter().zip(&ks).map(|(a, b)| a ^ b).collect();
        let mut out = [0u8; 180];
        assert_eq!(extract(&wire, &mut out), Some(180));
        assert_eq!(&out[..], &tag[..]);
    }

    #[test]
    fn extract_refuses_lengths_that_do_not_fit() {
        assert_eq!(extract(&[0; 5], &mut [0; 3]), None);
        assert_eq!(extract(&[0; 8], &mut [0; 5]), None);
    }
}

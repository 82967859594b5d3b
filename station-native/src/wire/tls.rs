//! TLS record headers (RFC 5246 §6.2): content type, version, length. Only what is needed to
//! find the first application-data record in a client segment.

/// Largest record body a peer may send (2^14 plaintext + 2048 expansion).
pub const MAX_BODY: usize = 16384 + 2048;

/// Content type of application data.
pub const APPLICATION_DATA: u8 = 0x17;
/// Content type of a ChangeCipherSpec record.
pub const CHANGE_CIPHER_SPEC: u8 = 0x14;

/// What the start of a segment payload holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan<'a> {
    /// The first application-data record, complete (header included).
    AppData(&'a [u8]),
    /// An application-data record starts here but continues in a later segment.
    AppDataSplit,
    /// Only complete handshake / change-cipher-spec / alert records, or a record that continues
    /// in a later segment: nothing to check yet.
    NotYet,
    /// Not TLS: an unknown content type, a bad version or an impossible length.
    Bogus,
}

/// Walks the records at the start of `payload` (which must begin on a record boundary) to the
/// first application-data record.
pub fn first_app_data(payload: &[u8]) -> Scan<'_> {
    let mut rest = payload;
    while rest.len() >= 5 {
        let ct = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if !(0x14..=0x18).contains(&ct) || rest[1] != 3 || len > MAX_BODY {
            return Scan::Bogus;
        }
        if ct == APPLICATION_DATA {
            return match rest.get(..5 + len) {
                Some(r) => Scan::AppData(r),
                None => Scan::AppDataSplit,
            };
        }
        match rest.get(5 + len..) {
            Some(r) => rest = r,
            None => return Scan::NotYet,
        }
    }
    // A partial header (< 5 bytes) with a plausible content type is not evidence of anything.
    if rest.first().is_none_or(|ct| (0x14..=0x18).contains(ct)) { Scan::NotYet } else { Scan::Bogus }
}

/// Whether a decoy segment carries a ChangeCipherSpec record followed by a whole record (its
/// Finished): a walk from the segment's first byte over plausible, whole records only. The decoy's
/// flight after the client's Finished (NewSessionTicket, ChangeCipherSpec, Finished) starts a
/// segment; a segment in the middle of a record fails the walk.
pub fn ccs_then_record(payload: &[u8]) -> bool {
    let mut rest = payload;
    let mut ccs = false;
    while rest.len() >= 5 {
        let ct = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if !(0x14..=0x17).contains(&ct) || rest[1] != 3 || len > MAX_BODY {
            return false;
        }
        let Some(next) = rest.get(5 + len..) else { return false };
        if ccs {
            return true;
        }
        ccs = ct == CHANGE_CIPHER_SPEC;
        rest = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_decoys_change_cipher_spec_and_finished() {
        let ticket = [0x16, 3, 3, 0, 3, 4, 0, 0];
        let ccs = [0x14, 3, 3, 0, 1, 1];
        let fin = [0x16, 3, 3, 0, 2, 9, 9];
        assert!(ccs_then_record(&[&ticket[..], &ccs, &fin].concat()));
        assert!(ccs_then_record(&[&ccs[..], &fin].concat()));
        // The Finished not whole yet, no ChangeCipherSpec, or bytes from the middle of a record.
        assert!(!ccs_then_record(&[&ccs[..], &fin[..6]].concat()));
        assert!(!ccs_then_record(&[&ticket[..], &fin].concat()));
        assert!(!ccs_then_record(&[0x30, 0x82, 0x05, 0x14, 3, 3, 0, 1, 1]));
        assert!(!ccs_then_record(&[]));
    }

    #[test]
    fn skips_a_finished_record_to_the_application_data() {
        let mut p = vec![0x16, 3, 3, 0, 2, 9, 9];
        p.extend_from_slice(&[0x17, 3, 3, 0, 1, 7]);
        assert_eq!(first_app_data(&p), Scan::AppData(&[0x17, 3, 3, 0, 1, 7]));
    }

    #[test]
    fn reports_split_bogus_and_not_yet() {
        assert_eq!(first_app_data(&[0x17, 3, 3, 0, 9, 1]), Scan::AppDataSplit);
        assert_eq!(first_app_data(&[0x47, 0x45, 0x54, 0x20, 0x2f]), Scan::Bogus);
        assert_eq!(first_app_data(&[0x17, 3, 3, 0xff, 0xff]), Scan::Bogus);
        assert_eq!(first_app_data(&[0x16, 3, 3, 0, 9, 1]), Scan::NotYet);
        assert_eq!(first_app_data(&[0x16, 3]), Scan::NotYet);
        assert_eq!(first_app_data(&[]), Scan::NotYet);
    }
}

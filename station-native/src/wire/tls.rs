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

/// Content type and body length of the record header at the start of `rest` (at least 5 bytes),
/// or `None` when it is not a plausible TLS header (unknown type, major version not 3, oversize).
fn header(rest: &[u8]) -> Option<(u8, usize)> {
    let ct = rest[0];
    let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
    ((0x14..=0x18).contains(&ct) && rest[1] == 3 && len <= MAX_BODY).then_some((ct, len))
}

/// Walks the records at the start of `payload` (which must begin on a record boundary) to the
/// first application-data record.
pub fn first_app_data(payload: &[u8]) -> Scan<'_> {
    let mut rest = payload;
    while rest.len() >= 5 {
        let Some((ct, len)) = header(rest) else { return Scan::Bogus };
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

/// What a decoy segment says about the end of its TLS 1.2 handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoyFinished {
    /// No ChangeCipherSpec followed by a whole record (or not a walk of whole records).
    No,
    /// ChangeCipherSpec and Finished, and nothing after them: the decoy waits for the request.
    Waiting,
    /// More records follow the Finished in the same segment: the decoy already answered (e.g. an
    /// HTTP 400 from a strict parser) and is not a usable decoy for this flow.
    Answered,
}

/// Looks for the decoy's ChangeCipherSpec and Finished in a segment: a walk from the segment's
/// first byte over plausible, whole records. The decoy's flight after the client's Finished
/// (NewSessionTicket, ChangeCipherSpec, Finished) starts a segment; a segment from the middle of a
/// record fails the walk.
pub fn decoy_finished(payload: &[u8]) -> DecoyFinished {
    let mut rest = payload;
    let mut ccs = false;
    while rest.len() >= 5 {
        let Some((ct, len)) = header(rest) else { return DecoyFinished::No };
        let Some(next) = rest.get(5 + len..) else { return DecoyFinished::No };
        if ccs {
            return if next.is_empty() { DecoyFinished::Waiting } else { DecoyFinished::Answered };
        }
        ccs = ct == CHANGE_CIPHER_SPEC;
        rest = next;
    }
    DecoyFinished::No
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_decoys_change_cipher_spec_and_finished() {
        use DecoyFinished::{Answered, No, Waiting};
        let ticket = [0x16, 3, 3, 0, 3, 4, 0, 0];
        let ccs = [0x14, 3, 3, 0, 1, 1];
        let fin = [0x16, 3, 3, 0, 2, 9, 9];
        let response = [0x17, 3, 3, 0, 2, 7, 7];
        assert_eq!(decoy_finished(&[&ticket[..], &ccs, &fin].concat()), Waiting);
        assert_eq!(decoy_finished(&[&ccs[..], &fin].concat()), Waiting);
        assert_eq!(decoy_finished(&[&ticket[..], &ccs, &fin, &response].concat()), Answered);
        // The Finished not whole yet, no ChangeCipherSpec, or bytes from the middle of a record.
        assert_eq!(decoy_finished(&[&ccs[..], &fin[..6]].concat()), No);
        assert_eq!(decoy_finished(&[&ticket[..], &fin].concat()), No);
        assert_eq!(decoy_finished(&[0x30, 0x82, 0x05, 0x14, 3, 3, 0, 1, 1]), No);
        assert_eq!(decoy_finished(&[]), No);
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

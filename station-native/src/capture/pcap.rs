//! pcap and pcapng file reading (replay, tests, benchmarks).
//!
//! The file is read into memory once and frames are handed out as slices of it. Supports both
//! byte orders, microsecond and nanosecond pcap, and pcapng Section Header, Interface
//! Description (link type, `if_tsresol`), Enhanced and Simple Packet blocks; other blocks are
//! skipped. Any length that runs past the file ends the walk with an error, never a panic.

use super::{Capture, CaptureError};
use crate::wire::LinkType;

/// An in-memory capture file.
pub struct PcapFile {
    data: Vec<u8>,
    format: Format,
    pos: usize,
    done: bool,
}

enum Format {
    Pcap { big_endian: bool, nanos: bool, link: LinkType },
    PcapNg { big_endian: bool, ifaces: Vec<(LinkType, u64)> },
}

fn rd32(b: &[u8], off: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

fn rd16(b: &[u8], off: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(off..off + 2)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
}

fn bad(msg: &str) -> CaptureError {
    CaptureError::new("ERR_CAPTURE_FILE", msg.to_string())
}

impl PcapFile {
    /// Reads `path`.
    ///
    /// # Errors
    /// `ERR_CAPTURE_FILE` when the file cannot be read or is not pcap/pcapng.
    pub fn open(path: &str) -> Result<PcapFile, CaptureError> {
        let data = std::fs::read(path).map_err(|e| bad(&format!("cannot read {path}: {e}")))?;
        PcapFile::from_bytes(data)
    }

    /// Parses an in-memory capture.
    ///
    /// # Errors
    /// `ERR_CAPTURE_FILE` for an unknown or cut header or an unsupported link type.
    pub fn from_bytes(data: Vec<u8>) -> Result<PcapFile, CaptureError> {
        let magic = data.get(..4).ok_or_else(|| bad("file too short for a capture header"))?;
        let (format, pos) = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0xc3, 0xd4] | [0x4d, 0x3c, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] => {
                let be = magic[0] == 0xa1;
                let nanos = magic == [0x4d, 0x3c, 0xb2, 0xa1] || magic == [0xa1, 0xb2, 0x3c, 0x4d];
                let lt = rd32(&data, 20, be).ok_or_else(|| bad("pcap header cut short"))? & 0x0fff_ffff;
                let link = LinkType::from_pcap(lt).ok_or_else(|| bad(&format!("unsupported link type {lt}")))?;
                (Format::Pcap { big_endian: be, nanos, link }, 24)
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                let bom = data.get(8..12).ok_or_else(|| bad("pcapng header cut short"))?;
                let be = bom == [0x1a, 0x2b, 0x3c, 0x4d];
                (Format::PcapNg { big_endian: be, ifaces: Vec::new() }, 0)
            }
            _ => return Err(bad("not a pcap or pcapng file")),
        };
        Ok(PcapFile { data, format, pos, done: false })
    }

    /// Calls `f` for every frame in the file, in order.
    ///
    /// # Errors
    /// `ERR_CAPTURE_FILE` when a record runs past the end of the file (frames before it were
    /// already delivered).
    pub fn for_each(&mut self, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<usize, CaptureError> {
        let mut n = 0;
        while let Some(k) = self.next_batch(usize::MAX, f)? {
            n += k;
        }
        Ok(n)
    }

    /// Rewinds to the first frame (benchmarks replay a file several times).
    pub fn rewind(&mut self) {
        self.done = false;
        self.pos = match self.format {
            Format::Pcap { .. } => 24,
            Format::PcapNg { ref mut ifaces, .. } => {
                ifaces.clear();
                0
            }
        };
    }

    fn next_batch(&mut self, max: usize, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<Option<usize>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let mut n = 0;
        while n < max {
            if self.pos >= self.data.len() {
                self.done = true;
                break;
            }
            let d = &self.data;
            match &mut self.format {
                Format::Pcap { big_endian: be, nanos, link } => {
                    let (be, nanos, link) = (*be, *nanos, *link);
                    let hdr = self.pos;
                    let ts_s = rd32(d, hdr, be).ok_or_else(|| bad("record header cut short"))?;
                    let ts_f = rd32(d, hdr + 4, be).ok_or_else(|| bad("record header cut short"))?;
                    let incl = rd32(d, hdr + 8, be).ok_or_else(|| bad("record header cut short"))? as usize;
                    let frame = d.get(hdr + 16..hdr + 16 + incl).ok_or_else(|| bad("record runs past the end of the file"))?;
                    let ns = u64::from(ts_s) * 1_000_000_000 + if nanos { u64::from(ts_f) } else { u64::from(ts_f) * 1000 };
                    f(ns, link, frame);
                    self.pos = hdr + 16 + incl;
                    n += 1;
                }
                Format::PcapNg { big_endian, ifaces } => {
                    let blk = self.pos;
                    let btype = rd32(d, blk, *big_endian).ok_or_else(|| bad("block header cut short"))?;
                    if btype == 0x0a0d_0d0a {
                        let bom = d.get(blk + 8..blk + 12).ok_or_else(|| bad("section header cut short"))?;
                        *big_endian = bom == [0x1a, 0x2b, 0x3c, 0x4d];
                        ifaces.clear();
                    }
                    let be = *big_endian;
                    let blen = rd32(d, blk + 4, be).ok_or_else(|| bad("block header cut short"))? as usize;
                    if blen < 12 || blen % 4 != 0 || blk + blen > d.len() {
                        return Err(bad("pcapng block length is invalid"));
                    }
                    let body = &d[blk + 8..blk + blen - 4];
                    match btype {
                        1 => {
                            let lt = u32::from(rd16(body, 0, be).ok_or_else(|| bad("interface block cut short"))?);
                            let link = LinkType::from_pcap(lt).ok_or_else(|| bad(&format!("unsupported link type {lt}")))?;
                            ifaces.push((link, tsresol_ns(body.get(8..).unwrap_or(&[]), be)));
                        }
                        6 => {
                            let iface = rd32(body, 0, be).ok_or_else(|| bad("packet block cut short"))? as usize;
                            let hi = u64::from(rd32(body, 4, be).ok_or_else(|| bad("packet block cut short"))?);
                            let lo = u64::from(rd32(body, 8, be).ok_or_else(|| bad("packet block cut short"))?);
                            let cap = rd32(body, 12, be).ok_or_else(|| bad("packet block cut short"))? as usize;
                            let frame = body.get(20..20 + cap).ok_or_else(|| bad("packet runs past its block"))?;
                            let &(link, unit) = ifaces.get(iface).ok_or_else(|| bad("packet names an unknown interface"))?;
                            f(((hi << 32) | lo).saturating_mul(unit), link, frame);
                            n += 1;
                        }
                        3 => {
                            let orig = rd32(body, 0, be).ok_or_else(|| bad("packet block cut short"))? as usize;
                            let &(link, _) = ifaces.first().ok_or_else(|| bad("packet before any interface"))?;
                            let frame = body.get(4..4 + orig.min(body.len().saturating_sub(4))).unwrap_or(&[]);
                            f(0, link, frame);
                            n += 1;
                        }
                        _ => {}
                    }
                    self.pos = blk + blen;
                }
            }
        }
        Ok(Some(n))
    }
}

/// Nanoseconds per timestamp unit from the `if_tsresol` option (default microseconds).
fn tsresol_ns(mut opts: &[u8], be: bool) -> u64 {
    while opts.len() >= 4 {
        let code = rd16(opts, 0, be).unwrap_or(0);
        let len = usize::from(rd16(opts, 2, be).unwrap_or(0));
        if code == 0 {
            break;
        }
        if code == 9 && len == 1 {
            let v = opts[4];
            let units_per_s: u64 = if v & 0x80 != 0 { 1u64.checked_shl(u32::from(v & 0x7f)).unwrap_or(0) } else { 10u64.checked_pow(u32::from(v)).unwrap_or(0) };
            return if units_per_s == 0 { 1000 } else { (1_000_000_000 / units_per_s).max(1) };
        }
        let padded = 4 + len.div_ceil(4) * 4;
        opts = opts.get(padded..).unwrap_or(&[]);
    }
    1000
}

impl Capture for PcapFile {
    fn poll(&mut self, _timeout_ms: i32, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<Option<usize>, CaptureError> {
        self.next_batch(256, f)
    }
}

/// Writes a classic little-endian microsecond pcap (tests, benchmarks, fixtures).
pub struct PcapWriter {
    out: Vec<u8>,
}

impl PcapWriter {
    /// Starts a file with link type `link` (pcap LINKTYPE number).
    pub fn new(link: u32) -> PcapWriter {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&262_144u32.to_le_bytes());
        out.extend_from_slice(&link.to_le_bytes());
        PcapWriter { out }
    }

    /// Appends a frame captured at `ns`.
    pub fn push(&mut self, ns: u64, frame: &[u8]) {
        self.out.extend_from_slice(&((ns / 1_000_000_000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(((ns % 1_000_000_000) / 1000) as u32).to_le_bytes());
        self.out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.extend_from_slice(frame);
    }

    /// The file bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

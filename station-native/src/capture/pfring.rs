//! PF_RING capture (what the deployed TapDance stations used), loaded at run time.
//!
//! `libpfring.so` is opened with `dlopen` (libloading) and the few functions used are declared
//! here from ntop's documented user-space API (`pfring_open`, `pfring_set_cluster`,
//! `pfring_enable_ring`, `pfring_recv`, `pfring_stats`, `pfring_close`). Nothing links against
//! PF_RING at build time, so the station builds and runs everywhere; when the library or the
//! `pf_ring` kernel module is missing, [`PfRing::open`] fails with one clear line.
//!
//! Workers join one PF_RING cluster with `cluster_per_flow_2_tuple`, PF_RING's symmetric
//! IP-pair balancing, the same property the AF_PACKET fanout program provides.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_int, c_uchar, c_uint, c_void};

use super::{Capture, CaptureError};
use crate::wire::LinkType;

/// `PF_RING_PROMISC` flag of `pfring_open`.
const PF_RING_PROMISC: u32 = 1 << 1;
/// `cluster_per_flow_2_tuple` in `enum cluster_type`.
const CLUSTER_PER_FLOW_2_TUPLE: c_int = 2;

/// `struct pfring_pkthdr` starts with `struct timeval ts; u_int32_t caplen; u_int32_t len;`
/// followed by an extended header whose size varies between releases; we reserve a generous
/// buffer and read only the leading fields.
#[repr(C, align(8))]
struct PktHdr {
    tv_sec: libc::time_t,
    tv_usec: libc::suseconds_t,
    caplen: u32,
    len: u32,
    rest: [u8; 512],
}

/// `pfring_stat { u_int64_t recv; u_int64_t drop; … }` (leading fields).
#[repr(C)]
struct Stat {
    recv: u64,
    drop: u64,
    rest: [u64; 8],
}

type OpenFn = unsafe extern "C" fn(*const c_char, u32, u32) -> *mut c_void;
type SetClusterFn = unsafe extern "C" fn(*mut c_void, c_uint, c_int) -> c_int;
type EnableFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type RecvFn = unsafe extern "C" fn(*mut c_void, *mut *mut c_uchar, c_uint, *mut PktHdr, u8) -> c_int;
type StatsFn = unsafe extern "C" fn(*mut c_void, *mut Stat) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut c_void);

/// One PF_RING ring.
pub struct PfRing {
    _lib: libloading::Library,
    ring: *mut c_void,
    recv: RecvFn,
    stats: StatsFn,
    close: CloseFn,
    last_drop: u64,
}

// SAFETY: a pfring handle is used by one thread at a time (the worker that owns it).
unsafe impl Send for PfRing {}

fn fail(msg: String) -> CaptureError {
    CaptureError::new("ERR_CAPTURE_PFRING", msg)
}

const LIB_NAMES: [&str; 2] = ["libpfring.so", "libpfring.so.1"];

impl PfRing {
    /// Opens `iface` through PF_RING and joins `cluster_id`.
    ///
    /// # Errors
    /// `ERR_CAPTURE_PFRING` with one line saying whether the library, the kernel module or the
    /// interface is the problem.
    pub fn open(iface: &str, cluster_id: u32, snaplen: u32) -> Result<PfRing, CaptureError> {
        // SAFETY: loading a shared library runs its initialisers; libpfring's are side-effect
        // free apart from allocation.
        let lib = LIB_NAMES
            .iter()
            .find_map(|n| unsafe { libloading::Library::new(*n) }.ok())
            .ok_or_else(|| fail("PF_RING library libpfring.so not found: install ntop's PF_RING user-space library, or use capture 'afpacket'".into()))?;
        // SAFETY: each symbol is looked up with the signature of ntop's documented C API.
        let (open, set_cluster, enable, recv, stats, close) = unsafe {
            let sym = |n: &[u8]| -> Result<(), CaptureError> {
                lib.get::<*const c_void>(n).map(|_| ()).map_err(|e| fail(format!("libpfring.so lacks {}: {e}", String::from_utf8_lossy(&n[..n.len() - 1]))))
            };
            for n in [&b"pfring_open\0"[..], b"pfring_set_cluster\0", b"pfring_enable_ring\0", b"pfring_recv\0", b"pfring_stats\0", b"pfring_close\0"] {
                sym(n)?;
            }
            (
                *lib.get::<OpenFn>(b"pfring_open\0").map_err(|e| fail(e.to_string()))?,
                *lib.get::<SetClusterFn>(b"pfring_set_cluster\0").map_err(|e| fail(e.to_string()))?,
                *lib.get::<EnableFn>(b"pfring_enable_ring\0").map_err(|e| fail(e.to_string()))?,
                *lib.get::<RecvFn>(b"pfring_recv\0").map_err(|e| fail(e.to_string()))?,
                *lib.get::<StatsFn>(b"pfring_stats\0").map_err(|e| fail(e.to_string()))?,
                *lib.get::<CloseFn>(b"pfring_close\0").map_err(|e| fail(e.to_string()))?,
            )
        };
        if !std::path::Path::new("/proc/net/pf_ring").exists() {
            return Err(fail("PF_RING kernel module not loaded (/proc/net/pf_ring is missing): load pf_ring.ko, or use capture 'afpacket'".into()));
        }
        let c = CString::new(iface).map_err(|_| fail(format!("bad interface name {iface:?}")))?;
        // SAFETY: `c` is a valid C string; pfring_open returns NULL on failure.
        let ring = unsafe { open(c.as_ptr(), snaplen, PF_RING_PROMISC) };
        if ring.is_null() {
            return Err(fail(format!("pfring_open({iface}) failed: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: `ring` is a live handle from pfring_open.
        let rc = unsafe { set_cluster(ring, cluster_id, CLUSTER_PER_FLOW_2_TUPLE) };
        // SAFETY: as above.
        let rc2 = unsafe { enable(ring) };
        if rc < 0 || rc2 < 0 {
            // SAFETY: closing the handle we opened.
            unsafe { close(ring) };
            return Err(fail(format!("PF_RING cluster {cluster_id} / enable failed on {iface}")));
        }
        Ok(PfRing { _lib: lib, ring, recv, stats, close, last_drop: 0 })
    }
}

impl Capture for PfRing {
    fn poll(&mut self, timeout_ms: i32, f: &mut dyn FnMut(u64, LinkType, &[u8])) -> Result<Option<usize>, CaptureError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.max(0) as u64);
        let mut n = 0;
        loop {
            let mut buf: *mut c_uchar = std::ptr::null_mut();
            let mut hdr = PktHdr { tv_sec: 0, tv_usec: 0, caplen: 0, len: 0, rest: [0; 512] };
            // SAFETY: zero-copy receive (buffer_len 0): PF_RING points `buf` at the packet, valid
            // until the next call on this ring; non-blocking (wait 0).
            let rc = unsafe { (self.recv)(self.ring, &mut buf, 0, &mut hdr, 0) };
            if rc > 0 && !buf.is_null() {
                // SAFETY: PF_RING guarantees `caplen` readable bytes at `buf` until the next recv.
                let frame = unsafe { std::slice::from_raw_parts(buf, hdr.caplen as usize) };
                let ns = (hdr.tv_sec as u64) * 1_000_000_000 + (hdr.tv_usec as u64) * 1000;
                f(ns, LinkType::Ethernet, frame);
                n += 1;
                if n >= 256 {
                    return Ok(Some(n));
                }
                continue;
            }
            if rc < 0 {
                return Err(fail(format!("pfring_recv failed ({rc})")));
            }
            if n > 0 || std::time::Instant::now() >= deadline {
                return Ok(Some(n));
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }

    fn drops(&mut self) -> u64 {
        let mut s = Stat { recv: 0, drop: 0, rest: [0; 8] };
        // SAFETY: `s` is larger than the leading fields pfring_stats writes.
        if unsafe { (self.stats)(self.ring, &mut s) } < 0 {
            return 0;
        }
        let d = s.drop.saturating_sub(self.last_drop);
        self.last_drop = s.drop;
        d
    }
}

impl Drop for PfRing {
    fn drop(&mut self) {
        // SAFETY: closing the handle opened in `open`, once.
        unsafe { (self.close)(self.ring) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_or_module_is_one_clear_line() {
        match PfRing::open("lo", 99, 1600) {
            Ok(_) => {} // a machine with PF_RING installed
            Err(e) => {
                assert_eq!(e.code, "ERR_CAPTURE_PFRING");
                assert!(!e.message.contains('\n'));
                assert!(e.message.contains("PF_RING"), "{}", e.message);
            }
        }
    }
}

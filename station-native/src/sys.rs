//! The kernel interface: every `unsafe` system call of the crate lives here, each with its
//! safety argument. Callers get safe wrappers returning `std::io::Result`.
//!
//! * AF_PACKET sockets with a TPACKET_V3 receive ring and fanout (capture).
//! * TCP_REPAIR / IP_TRANSPARENT socket options (takeover).
//! * Raw IP_HDRINCL sockets (spoofed RST).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// `socket(2)` returning an owned descriptor (close-on-exec).
pub fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes plain integers; a non-negative result is a new descriptor we own.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(2)` with a plain-old-data value.
pub fn setsockopt<T: Copy>(fd: &OwnedFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to `size_of::<T>()` readable bytes for the duration of the call;
    // T is Copy (plain data) as every option struct passed here is.
    cvt(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), size_of::<T>() as libc::socklen_t) })?;
    Ok(())
}

/// `setsockopt(2)` with raw bytes (variable-length option arrays).
pub fn setsockopt_bytes(fd: &OwnedFd, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    // SAFETY: the slice is valid for reads of its length during the call.
    cvt(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), value.len() as libc::socklen_t) })?;
    Ok(())
}

/// `getsockopt(2)` into a plain-old-data value.
pub fn getsockopt<T: Copy + Default>(fd: &OwnedFd, level: i32, name: i32) -> io::Result<T> {
    let mut v = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` is writable for `len` bytes and `len` is updated by the kernel.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&mut v as *mut T).cast(), &mut len) })?;
    Ok(v)
}

/// Interface index of `name`.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 { Err(io::Error::last_os_error()) } else { Ok(i) }
}

/// Binds an AF_PACKET socket to an interface for all protocols.
pub fn bind_packet(fd: &OwnedFd, ifindex: u32) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as u16;
    sa.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sa.sll_ifindex = ifindex as i32;
    // SAFETY: `sa` is a valid sockaddr_ll and its size is passed.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&sa as *const libc::sockaddr_ll).cast(), size_of::<libc::sockaddr_ll>() as u32) })?;
    Ok(())
}

/// A shared memory mapping of a packet ring; unmapped on drop.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory shared with the kernel; the owning capture uses it from one
// thread at a time (it moves with the worker thread).
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `len` bytes of the ring of `fd`.
    pub fn ring(fd: &OwnedFd, len: usize) -> io::Result<Mapping> {
        // SAFETY: mapping a packet socket's ring with the length configured by PACKET_RX_RING.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_LOCKED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            // MAP_LOCKED may be refused by RLIMIT_MEMLOCK: retry without it.
            // SAFETY: as above.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
            if p == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            return Ok(Mapping { ptr: p.cast(), len });
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    /// Reads the u32 status word at `off` with acquire ordering (the kernel hands blocks over
    /// by writing it).
    pub fn load_u32_acquire(&self, off: usize) -> u32 {
        assert!(off + 4 <= self.len && off % 4 == 0);
        // SAFETY: in bounds and aligned (checked above); AtomicU32 has the layout of u32 and the
        // word is only ever accessed atomically by us and the kernel.
        unsafe { (*(self.ptr.add(off) as *const std::sync::atomic::AtomicU32)).load(std::sync::atomic::Ordering::Acquire) }
    }

    /// Writes the u32 status word at `off` with release ordering (returns a block to the kernel).
    pub fn store_u32_release(&self, off: usize, v: u32) {
        assert!(off + 4 <= self.len && off % 4 == 0);
        // SAFETY: as in `load_u32_acquire`.
        unsafe { (*(self.ptr.add(off) as *const std::sync::atomic::AtomicU32)).store(v, std::sync::atomic::Ordering::Release) }
    }

    /// The bytes of a block the kernel has handed to user space.
    pub fn slice(&self, off: usize, len: usize) -> &[u8] {
        assert!(off.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: in bounds (checked); while a block's status is TP_STATUS_USER the kernel does
        // not write to it, and we return it only after the caller is done with the slice.
        unsafe { std::slice::from_raw_parts(self.ptr.add(off), len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from a successful mmap and are unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Waits up to `timeout_ms` for `fd` to become readable.
pub fn poll_in(fd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd { fd, events: libc::POLLIN | libc::POLLERR, revents: 0 };
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
    }
    Ok(r > 0)
}

/// A socket address for IPv4 or IPv6 (16-byte form; IPv4-mapped means IPv4).
pub fn sockaddr(addr: &[u8; 16], port: u16, v6: bool) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    if v6 {
        let sa = libc::sockaddr_in6 { sin6_family: libc::AF_INET6 as u16, sin6_port: port.to_be(), sin6_flowinfo: 0, sin6_addr: libc::in6_addr { s6_addr: *addr }, sin6_scope_id: 0 };
        // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in6.
        unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sa) };
        (ss, size_of::<libc::sockaddr_in6>() as u32)
    } else {
        let sa = libc::sockaddr_in { sin_family: libc::AF_INET as u16, sin_port: port.to_be(), sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([addr[12], addr[13], addr[14], addr[15]]) }, sin_zero: [0; 8] };
        // SAFETY: as above for sockaddr_in.
        unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sa) };
        (ss, size_of::<libc::sockaddr_in>() as u32)
    }
}

/// `bind(2)`.
pub fn bind(fd: &OwnedFd, addr: &[u8; 16], port: u16, v6: bool) -> io::Result<()> {
    let (ss, len) = sockaddr(addr, port, v6);
    // SAFETY: `ss` holds a valid address of `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), (&ss as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(())
}

/// `connect(2)` (in TCP repair mode this only sets the peer; no SYN is sent).
pub fn connect(fd: &OwnedFd, addr: &[u8; 16], port: u16, v6: bool) -> io::Result<()> {
    let (ss, len) = sockaddr(addr, port, v6);
    // SAFETY: `ss` holds a valid address of `len` bytes.
    cvt(unsafe { libc::connect(fd.as_raw_fd(), (&ss as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(())
}

/// `sendto(2)` of one datagram (raw IP packet) to `addr`.
pub fn sendto(fd: &OwnedFd, buf: &[u8], addr: &[u8; 16], v6: bool) -> io::Result<usize> {
    let (ss, len) = sockaddr(addr, 0, v6);
    // SAFETY: `buf` is readable for its length; `ss` holds a valid address of `len` bytes.
    let n = unsafe { libc::sendto(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0, (&ss as *const libc::sockaddr_storage).cast(), len) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// Sets O_NONBLOCK.
pub fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    let fl = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) })?;
    Ok(())
}

/// CLOCK_REALTIME in nanoseconds (the clock of AF_PACKET timestamps).
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

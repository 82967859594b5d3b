//! Zero-copy views of the packet headers the station reads.
//!
//! Each protocol has a `Packet<T: AsRef<[u8]>>` view built with `new_checked`, which validates
//! lengths once; after that no accessor can panic or read out of bounds, whatever the input.
//! [`parse_frame`] strings the layers together for the per-packet path and reports why a frame
//! is not a TCP segment the station can use. Nothing here allocates or copies.

pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod tls;

/// What a capture's frames start with (pcap LINKTYPE values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// Ethernet II, optionally VLAN-tagged (LINKTYPE_ETHERNET = 1).
    Ethernet,
    /// A bare IPv4 or IPv6 packet (LINKTYPE_RAW = 101, DLT_RAW = 12/14, 228, 229).
    RawIp,
    /// Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL = 113).
    LinuxSll,
    /// Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2 = 276).
    LinuxSll2,
}

impl LinkType {
    /// Maps a pcap link-layer header type number.
    pub fn from_pcap(v: u32) -> Option<LinkType> {
        match v {
            1 => Some(LinkType::Ethernet),
            12 | 14 | 101 | 228 | 229 => Some(LinkType::RawIp),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }
}

/// Why a frame did not yield a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// A header was cut short or its length fields contradict the buffer.
    Truncated,
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// An IP fragment; reassembly is not attempted (TapDance tags are never fragmented).
    Fragment,
    /// IP but not TCP.
    NotTcp,
}

/// An IP address in 16 bytes: IPv4 is stored IPv4-mapped (`::ffff:a.b.c.d`).
pub type Addr = [u8; 16];

/// Builds the IPv4-mapped form of an IPv4 address.
pub fn v4_mapped(a: [u8; 4]) -> Addr {
    let mut o = [0u8; 16];
    o[10] = 0xff;
    o[11] = 0xff;
    o[12..].copy_from_slice(&a);
    o
}

/// True when `a` is IPv4-mapped.
pub fn is_v4(a: &Addr) -> bool {
    a[..10] == [0; 10] && a[10] == 0xff && a[11] == 0xff
}

/// The parts of a frame the flow tracker needs.
#[derive(Clone, Copy, Debug)]
pub struct Parsed<'a> {
    /// Source address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// True for IPv6.
    pub v6: bool,
    /// True when the IPv4 header carried options.
    pub ip_options: bool,
    /// The TCP segment (header and payload).
    pub tcp: tcp::Packet<&'a [u8]>,
}

/// Parses a captured frame down to its TCP segment.
///
/// # Errors
/// A [`Skip`] saying why the frame is not usable; never panics.
pub fn parse_frame(link: LinkType, frame: &[u8]) -> Result<Parsed<'_>, Skip> {
    let (ethertype, l3) = match link {
        LinkType::Ethernet => {
            let eth = ethernet::Frame::new_checked(frame).map_err(|_| Skip::Truncated)?;
            let (t, off) = eth.inner_ethertype().ok_or(Skip::Truncated)?;
            (t, &frame[off..])
        }
        LinkType::RawIp => match frame.first().map(|b| b >> 4) {
            Some(4) => (ethernet::ETHERTYPE_IPV4, frame),
            Some(6) => (ethernet::ETHERTYPE_IPV6, frame),
            Some(_) => return Err(Skip::NotIp),
            None => return Err(Skip::Truncated),
        },
        LinkType::LinuxSll => {
            let h = frame.get(..16).ok_or(Skip::Truncated)?;
            (u16::from_be_bytes([h[14], h[15]]), &frame[16..])
        }
        LinkType::LinuxSll2 => {
            let h = frame.get(..20).ok_or(Skip::Truncated)?;
            (u16::from_be_bytes([h[0], h[1]]), &frame[20..])
        }
    };
    match ethertype {
        ethernet::ETHERTYPE_IPV4 => {
            let ip = ipv4::Packet::new_checked(l3).map_err(|_| Skip::Truncated)?;
            if ip.is_fragment() {
                return Err(Skip::Fragment);
            }
            if ip.protocol() != 6 {
                return Err(Skip::NotTcp);
            }
            let tcp = tcp::Packet::new_checked(&l3[ip.payload_range()]).map_err(|_| Skip::Truncated)?;
            Ok(Parsed { src: v4_mapped(ip.src()), dst: v4_mapped(ip.dst()), v6: false, ip_options: ip.header_len() > 20, tcp })
        }
        ethernet::ETHERTYPE_IPV6 => {
            let ip = ipv6::Packet::new_checked(l3).map_err(|_| Skip::Truncated)?;
            let (proto, payload) = ip.upper_layer().map_err(|e| match e {
                ipv6::UpperError::Fragment => Skip::Fragment,
                ipv6::UpperError::Truncated => Skip::Truncated,
            })?;
            if proto != 6 {
                return Err(Skip::NotTcp);
            }
            let tcp = tcp::Packet::new_checked(&l3[payload]).map_err(|_| Skip::Truncated)?;
            Ok(Parsed { src: ip.src(), dst: ip.dst(), v6: true, ip_options: false, tcp })
        }
        _ => Err(Skip::NotIp),
    }
}

/// A length or format violation in a header (the only wire error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

//! Per-worker counters, readable from any thread while the worker runs.
//!
//! Each worker owns one [`Counters`] (cache-line aligned, so workers never share a line) and
//! bumps it with relaxed atomic adds; readers take a [`Snapshot`]. The list is fixed so that
//! JavaScript sees the same names on every platform.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident ),* $(,)?) => {
        /// Live counters of one worker.
        #[repr(align(64))]
        #[derive(Default)]
        pub struct Counters {
            $( $(#[$doc])* pub $name: AtomicU64, )*
        }

        /// A plain copy of [`Counters`].
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct Snapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Counters {
            /// Reads every counter.
            pub fn snapshot(&self) -> Snapshot {
                Snapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl Snapshot {
            /// Field names and values, in declaration order.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                vec![ $( (stringify!($name), self.$name), )* ]
            }

            /// Adds another snapshot field by field (gauges are summed too).
            pub fn add(&mut self, o: &Snapshot) {
                $( self.$name += o.$name; )*
            }
        }
    };
}

counters! {
    /// Frames received.
    packets,
    /// Bytes of frames received.
    bytes,
    /// Frames the kernel or library dropped before we saw them.
    drops,
    /// Frames whose headers were cut short or inconsistent.
    truncated,
    /// Frames that are not IPv4/IPv6.
    not_ip,
    /// IP fragments (not reassembled).
    fragments,
    /// IPv4 packets carrying options (still processed).
    ip_options,
    /// IP packets that are not TCP.
    not_tcp,
    /// TCP segments not to or from a configured TLS port.
    other_ports,
    /// Client SYNs to a TLS port.
    syns,
    /// Flows currently in the table (gauge).
    flows_tracked,
    /// Flows added.
    flows_created,
    /// Flows removed by timeout.
    flows_evicted,
    /// Flows removed on FIN/RST.
    flows_closed,
    /// SYNs refused because the table was full.
    table_full,
    /// Client payloads that were not TLS records.
    tls_bogus,
    /// First application-data records split across segments (not checked).
    records_split,
    /// Tag checks run.
    tag_checks,
    /// Records too short to hold a tag.
    tag_too_short,
    /// Tags found (GCM authenticated).
    tags_found,
    /// Tags whose cipher suite the station cannot continue.
    verify_unsupported_suite,
    /// Tags whose TLS secrets failed to decrypt the record at sequence 1.
    verify_bad_mac,
    /// Tags whose record was malformed for the TLS check.
    verify_malformed,
    /// Verified tagged flows reported (replay) or queued for takeover.
    tagged_flows,
    /// Takeovers started without seeing the decoy's ACK of the tag (bounded wait expired).
    takeover_ack_timeout,
    /// False Start tags dropped because the decoy's Finished did not pass in time.
    takeover_no_finished,
    /// False Start tags dropped because the decoy answered right after its Finished.
    takeover_decoy_answered,
    /// Takeovers completed (socket handed to JavaScript).
    takeovers,
    /// Takeovers that failed in a socket call.
    takeover_failed_socket,
    /// Takeovers dropped because the queue to the takeover thread was full.
    takeover_failed_queue,
    /// False Start flows whose client acknowledged the decoy's Finished (its spoofed ACK due).
    decoy_acks_due,
    /// Spoofed ACKs of the decoy's Finished sent.
    decoy_acks_sent,
    /// Spoofed RSTs sent to decoys.
    rsts_sent,
    /// Station keys the worker checks tags with (gauge).
    keys,
    /// Times the worker switched to a new key set (live key reload).
    key_updates,
}

impl Counters {
    /// Adds `n` to a counter.
    #[inline]
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a gauge.
    #[inline]
    pub fn set(c: &AtomicU64, n: u64) {
        c.store(n, Ordering::Relaxed);
    }
}

//! The live station: capture workers, the takeover thread, counters and the decoy-RST path.
//!
//! ```text
//!  worker 0..N  (one capture socket each, IP-pair fanout) ──TaggedFlow──▶ bounded queue
//!                                                                           │
//!  takeover thread: TCP_REPAIR socket per verified flow ──event + fd──▶ caller (JavaScript)
//! ```
//! Syscalls of the takeover never run on a capture thread, so a slow takeover cannot stall
//! capture; when the queue is full the flow is dropped and counted.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::capture::afpacket::{AfPacket, RingConfig};
use crate::capture::pfring::PfRing;
use crate::capture::{Capture, CaptureError};
use crate::counters::{Counters, Snapshot};
use crate::flow::FlowId;
use crate::pipeline::{Config, TakenRegistry, TaggedFlow, Worker};
use crate::sys;
use crate::tag::StationKey;
use crate::tag::ring::KeyRing;
use crate::takeover::repair::{RepairPlan, repaired_socket};
use crate::takeover::rst;

/// Which capture backend the workers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureKind {
    /// AF_PACKET TPACKET_V3 ring (default; needs only the kernel).
    AfPacket,
    /// PF_RING via libpfring.so loaded at run time.
    PfRing,
}

/// Live station configuration.
#[derive(Clone, Debug)]
pub struct StationConfig {
    /// Interface carrying the mirrored traffic.
    pub interface: String,
    /// Number of capture workers.
    pub workers: usize,
    /// Capture backend.
    pub capture: CaptureKind,
    /// Per-worker pipeline settings.
    pub pipeline: Config,
    /// AF_PACKET ring geometry and fanout group.
    pub ring: RingConfig,
    /// PF_RING cluster id.
    pub pfring_cluster: u32,
    /// Build the TCP_REPAIR socket (false: report verified flows only).
    pub takeover: bool,
}

/// A verified tagged flow handed to the caller, with the repaired socket when taken over.
pub struct TakeoverEvent {
    /// The worker that saw it.
    pub worker: usize,
    /// Tag, secrets and TCP state.
    pub tagged: TaggedFlow,
    /// The repaired socket (ownership passes to the caller).
    pub fd: Option<OwnedFd>,
    /// Why the takeover failed, when it did.
    pub error: Option<String>,
}

/// Callback for takeover events (called on the takeover thread).
pub type EventFn = Box<dyn Fn(TakeoverEvent) + Send + Sync>;

/// A running station.
pub struct Station {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Vec<Arc<Counters>>,
    registries: Vec<Arc<TakenRegistry>>,
    keys: Arc<KeyRing>,
}

fn open_capture(cfg: &StationConfig) -> Result<Box<dyn Capture>, CaptureError> {
    Ok(match cfg.capture {
        CaptureKind::AfPacket => Box::new(AfPacket::open(&cfg.interface, cfg.ring)?),
        CaptureKind::PfRing => Box::new(PfRing::open(&cfg.interface, cfg.pfring_cluster, 65535)?),
    })
}

impl Station {
    /// Opens every capture (failing fast with one clear line) and starts the threads.
    ///
    /// # Errors
    /// The first capture that cannot be opened.
    pub fn start(cfg: StationConfig, keys: Vec<StationKey>, on_event: EventFn) -> Result<Station, CaptureError> {
        let n = cfg.workers.max(1);
        let mut caps = Vec::with_capacity(n);
        for _ in 0..n {
            caps.push(open_capture(&cfg)?);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let ring = Arc::new(KeyRing::new(keys));
        let (tx, rx): (SyncSender<(usize, TaggedFlow)>, Receiver<(usize, TaggedFlow)>) = sync_channel(256);
        let mut threads = Vec::new();
        let mut counters = Vec::new();
        let mut registries = Vec::new();
        for (wi, mut cap) in caps.into_iter().enumerate() {
            let c = Arc::new(Counters::default());
            let reg = Arc::new(TakenRegistry::default());
            counters.push(Arc::clone(&c));
            registries.push(Arc::clone(&reg));
            // A live station with takeovers sends the False Start decoy ACKs (SPEC.md §5.1).
            let pipeline = Config { decoy_acks: cfg.takeover, ..cfg.pipeline.clone() };
            let mut worker = Worker::with_key_ring(pipeline, Arc::clone(&ring), Arc::clone(&c), reg);
            let (stop, tx) = (Arc::clone(&stop), tx.clone());
            let th = std::thread::Builder::new().name(format!("td-capture-{wi}")).spawn(move || {
                let mut sink = |t: TaggedFlow| match tx.try_send((wi, t)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Counters::add(&c.takeover_failed_queue, 1),
                };
                while !stop.load(Ordering::Relaxed) {
                    if cap.poll(50, &mut |ns, link, frame| worker.process(ns, link, frame, &mut sink)).is_err() {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    worker.tick(sys::realtime_ns(), &mut sink);
                    let d = cap.drops();
                    if d > 0 {
                        Counters::add(&c.drops, d);
                    }
                }
            });
            threads.push(th.map_err(|e| CaptureError::new("ERR_STATION_THREAD", e.to_string()))?);
        }
        drop(tx);
        let (stop2, takeover, counters2) = (Arc::clone(&stop), cfg.takeover, counters.clone());
        let th = std::thread::Builder::new().name("td-takeover".into()).spawn(move || {
            loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok((wi, t)) => {
                        let mut ev = TakeoverEvent { worker: wi, tagged: t, fd: None, error: None };
                        if takeover {
                            let plan = RepairPlan::from_flow(&ev.tagged.flow);
                            match repaired_socket(&plan, sys::realtime_ns()) {
                                Ok(fd) => {
                                    Counters::add(&counters2[wi].takeovers, 1);
                                    ev.fd = Some(fd);
                                }
                                Err(e) => {
                                    Counters::add(&counters2[wi].takeover_failed_socket, 1);
                                    ev.error = Some(e.to_string());
                                }
                            }
                        }
                        on_event(ev);
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if stop2.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
        });
        threads.push(th.map_err(|e| CaptureError::new("ERR_STATION_THREAD", e.to_string()))?);
        Ok(Station { stop, threads, counters, registries, keys: ring })
    }

    /// Stops and joins every thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Replaces the station keys while running: every worker checks new flows with `keys` from
    /// its next tick on (at most one poll interval, 50 ms). Flows already handed over keep going.
    /// Returns the key generation.
    pub fn set_keys(&self, keys: Vec<StationKey>) -> u64 {
        self.keys.replace(keys)
    }

    /// Counters of each worker.
    pub fn counters(&self) -> Vec<Snapshot> {
        self.counters.iter().map(|c| c.snapshot()).collect()
    }

    /// Sends the spoofed RST(s) to the decoy of a taken-over flow; returns how many were sent.
    ///
    /// # Errors
    /// `NotFound` when the flow is unknown or no longer tracked; the raw socket's error otherwise.
    pub fn send_decoy_rst(&self, worker: usize, id: FlowId) -> std::io::Result<usize> {
        let reg = self.registries.get(worker).ok_or(std::io::ErrorKind::NotFound)?;
        let f = reg.get(id).ok_or(std::io::ErrorKind::NotFound)?;
        let n = rst::send_decoy_rst(&f)?;
        Counters::add(&self.counters[worker].rsts_sent, n as u64);
        Ok(n)
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Offline replay: a capture file through the same worker pipeline, without taking anything over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::CaptureError;
use crate::capture::pcap::PcapFile;
use crate::counters::{Counters, Snapshot};
use crate::pipeline::{Config, TakenRegistry, TaggedFlow, Worker};
use crate::tag::StationKey;

/// What a replay found.
pub struct ReplayResult {
    /// Verified tagged flows, in the order they were reported.
    pub tagged: Vec<TaggedFlow>,
    /// Final counters.
    pub counters: Snapshot,
    /// Wall time spent in the pipeline.
    pub elapsed: Duration,
    /// Bytes held by the flow table.
    pub table_memory: usize,
    /// Flow table capacity.
    pub table_capacity: usize,
}

/// Runs every frame of `file` through one worker (`passes` times, for benchmarks; flow state
/// is fresh for each pass).
///
/// # Errors
/// `ERR_CAPTURE_FILE` when the file is cut or malformed past its header.
pub fn replay(file: &mut PcapFile, keys: Vec<StationKey>, cfg: Config, passes: usize) -> Result<ReplayResult, CaptureError> {
    let mut tagged = Vec::new();
    let mut total = Snapshot::default();
    let mut elapsed = Duration::ZERO;
    let (mut mem, mut cap) = (0, 0);
    for _ in 0..passes.max(1) {
        let counters = Arc::new(Counters::default());
        let mut w = Worker::new(cfg.clone(), keys.clone(), Arc::clone(&counters), Arc::new(TakenRegistry::default()));
        mem = w.table_memory();
        cap = w.table_capacity();
        file.rewind();
        let mut last = 0u64;
        let mut sink = |t: TaggedFlow| tagged.push(t);
        let start = Instant::now();
        let res = file.for_each(&mut |ns, link, frame| {
            last = last.max(ns);
            w.process(ns, link, frame, &mut sink);
        });
        w.flush(last, &mut sink);
        elapsed += start.elapsed();
        total.add(&counters.snapshot());
        res?;
    }
    Ok(ReplayResult { tagged, counters: total, elapsed, table_memory: mem, table_capacity: cap })
}

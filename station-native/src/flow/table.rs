//! The flow table: a slab of [`Flow`]s plus an open-addressing index, both sized once.
//!
//! * Slab: `capacity` flows and a free-list stack of slab indices. Flows never move, so the
//!   timing wheel can link them by index and a [`FlowId`] (index + generation) stays valid until
//!   the flow is removed.
//! * Index: `2 × capacity` (rounded to a power of two) 8-byte slots holding the key's 32-bit hash
//!   and the slab index; linear probing, backward-shift deletion (no tombstones). The hash is
//!   SipHash with per-process random keys, so crafted 4-tuples cannot force long probe chains.
//!
//! When the slab is full, new flows are refused ([`InsertError::Full`]) rather than evicting
//! live ones; timeouts bound how long a SYN flood can hold the space.

use std::hash::BuildHasher;
use std::collections::hash_map::RandomState;

use super::wheel::{NIL, Wheel};
use super::{Flow, FlowKey};

/// A stable handle for a flow: slab index and generation (changes on reuse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowId(pub u64);

/// Why a flow could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// Every slot is in use.
    Full,
}

/// Fixed-capacity flow table with a timing wheel.
pub struct FlowTable {
    flows: Vec<Flow>,
    free: Vec<u32>,
    index: Vec<u64>,
    mask: usize,
    hasher: RandomState,
    wheel: Wheel,
    started: bool,
    len: usize,
}

impl FlowTable {
    /// Allocates a table for `capacity` flows (at least 16).
    pub fn new(capacity: usize) -> FlowTable {
        let capacity = capacity.clamp(16, u32::MAX as usize / 4);
        let slots = (capacity * 2).next_power_of_two();
        let mut free: Vec<u32> = (0..capacity as u32).collect();
        free.reverse();
        FlowTable {
            flows: vec![Flow { prev: NIL, next: NIL, ..Flow::default() }; capacity],
            free,
            index: vec![0u64; slots],
            mask: slots - 1,
            hasher: RandomState::new(),
            wheel: Wheel::new(),
            started: false,
            len: 0,
        }
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of flows.
    pub fn capacity(&self) -> usize {
        self.flows.len()
    }

    /// Bytes allocated by the table (slab, index, free list, wheel), fixed at construction.
    pub fn memory_bytes(&self) -> usize {
        self.flows.capacity() * size_of::<Flow>()
            + self.index.capacity() * size_of::<u64>()
            + self.free.capacity() * size_of::<u32>()
            + super::wheel::SLOTS * size_of::<u32>()
    }

    fn hash(&self, key: &FlowKey) -> u32 {
        self.hasher.hash_one(key) as u32
    }

    fn find_slot(&self, key: &FlowKey, h: u32) -> Result<usize, usize> {
        let mut pos = h as usize & self.mask;
        loop {
            let e = self.index[pos];
            if e == 0 {
                return Err(pos);
            }
            if (e >> 32) as u32 == h {
                let i = (e as u32 - 1) as usize;
                if self.flows[i].key == *key {
                    return Ok(pos);
                }
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// The slab index of `key`'s flow.
    pub fn lookup(&self, key: &FlowKey) -> Option<u32> {
        let h = self.hash(key);
        self.find_slot(key, h).ok().map(|pos| (self.index[pos] as u32) - 1)
    }

    /// The flow at a slab index.
    pub fn get(&self, i: u32) -> &Flow {
        &self.flows[i as usize]
    }

    /// The flow at a slab index, mutably. Moving its deadline must go through [`touch`](Self::touch).
    pub fn get_mut(&mut self, i: u32) -> &mut Flow {
        &mut self.flows[i as usize]
    }

    /// The stable id of the flow at `i`.
    pub fn id(&self, i: u32) -> FlowId {
        FlowId((u64::from(self.flows[i as usize].generation) << 32) | u64::from(i))
    }

    /// The slab index of a still-live id.
    pub fn resolve(&self, id: FlowId) -> Option<u32> {
        let i = (id.0 & 0xffff_ffff) as u32;
        let f = self.flows.get(i as usize)?;
        // `hash` is non-zero exactly while the slot is live (insert sets the low bit).
        (f.generation == (id.0 >> 32) as u32 && f.hash != 0).then_some(i)
    }

    /// Adds a flow for `key` expiring at wheel tick `deadline`.
    ///
    /// # Errors
    /// [`InsertError::Full`] when no slot is free.
    pub fn insert(&mut self, key: FlowKey, deadline: u32) -> Result<u32, InsertError> {
        let h = self.hash(&key);
        let pos = match self.find_slot(&key, h) {
            Ok(pos) => return Ok((self.index[pos] as u32) - 1),
            Err(pos) => pos,
        };
        let i = self.free.pop().ok_or(InsertError::Full)?;
        let generation = self.flows[i as usize].generation.wrapping_add(1);
        self.flows[i as usize] = Flow { key, generation, hash: h | 1, deadline, prev: NIL, next: NIL, ..Flow::default() };
        self.index[pos] = (u64::from(h) << 32) | u64::from(i + 1);
        self.wheel.link(&mut self.flows, i);
        self.len += 1;
        Ok(i)
    }

    /// Moves the flow's eviction deadline. A later deadline is re-filed lazily by the wheel; an
    /// earlier one (a shorter timeout after FIN) is re-filed now.
    pub fn touch(&mut self, i: u32, deadline: u32) {
        let old = self.flows[i as usize].deadline;
        self.flows[i as usize].deadline = deadline;
        if deadline.wrapping_sub(old) > u32::MAX / 2 {
            self.wheel.unlink(&mut self.flows, i);
            self.wheel.link(&mut self.flows, i);
        }
    }

    /// Removes the flow at `i`.
    pub fn remove(&mut self, i: u32) {
        self.wheel.unlink(&mut self.flows, i);
        self.drop_from_index(i);
    }

    fn drop_from_index(&mut self, i: u32) {
        let key = self.flows[i as usize].key;
        let h = self.hash(&key);
        let Ok(mut hole) = self.find_slot(&key, h) else { return };
        self.index[hole] = 0;
        // Backward-shift deletion: pull later members of the probe run into the hole.
        let mut pos = (hole + 1) & self.mask;
        loop {
            let e = self.index[pos];
            if e == 0 {
                break;
            }
            let ideal = ((e >> 32) as usize) & self.mask;
            let dist_pos = pos.wrapping_sub(ideal) & self.mask;
            let dist_hole = hole.wrapping_sub(ideal) & self.mask;
            if dist_hole < dist_pos {
                self.index[hole] = e;
                self.index[pos] = 0;
                hole = pos;
            }
            pos = (pos + 1) & self.mask;
        }
        self.flows[i as usize].hash = 0;
        self.free.push(i);
        self.len -= 1;
    }

    /// Advances the wheel to tick `now`, evicting every flow whose deadline has passed; `on_evict`
    /// sees each one before it is removed and may keep it by returning a new deadline.
    pub fn advance(&mut self, now: u32, mut on_evict: impl FnMut(u32, &Flow) -> Option<u32>) {
        if !self.started {
            self.started = true;
            self.wheel.now = now;
        }
        let steps = now.wrapping_sub(self.wheel.now).wrapping_add(1).min(super::wheel::SLOTS as u32);
        if now.wrapping_sub(self.wheel.now) > u32::MAX / 2 {
            return; // time went backwards (pcap reordering): wait for it to catch up
        }
        for s in 0..steps {
            let t = self.wheel.now.wrapping_add(s);
            let mut e = self.wheel.take_slot(t);
            while e != NIL {
                let next = self.flows[e as usize].next;
                self.flows[e as usize].prev = NIL;
                self.flows[e as usize].next = NIL;
                let expired = now.wrapping_sub(self.flows[e as usize].deadline) < u32::MAX / 2;
                if expired {
                    match on_evict(e, &self.flows[e as usize]) {
                        Some(d) => {
                            self.flows[e as usize].deadline = d;
                            self.wheel.link(&mut self.flows, e);
                        }
                        None => self.drop_from_index(e),
                    }
                } else {
                    self.wheel.link(&mut self.flows, e);
                }
                e = next;
            }
        }
        self.wheel.now = now.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::v4_mapped;

    fn key(n: u32) -> FlowKey {
        FlowKey { client: v4_mapped(n.to_be_bytes()), server: v4_mapped([10, 0, 0, 1]), client_port: (n % 60000) as u16 + 1024, server_port: 443 }
    }

    #[test]
    fn inserts_finds_and_removes_many_flows() {
        let mut t = FlowTable::new(1000);
        for n in 0..1000 {
            t.insert(key(n), 10).unwrap();
        }
        assert_eq!(t.insert(key(5000), 10), Err(InsertError::Full));
        for n in (0..1000).step_by(2) {
            let i = t.lookup(&key(n)).unwrap();
            t.remove(i);
        }
        for n in 0..1000 {
            assert_eq!(t.lookup(&key(n)).is_some(), n % 2 == 1, "flow {n}");
        }
        assert_eq!(t.len(), 500);
        assert!(t.insert(key(5000), 10).is_ok());
    }

    #[test]
    fn evicts_exactly_the_flows_whose_deadline_passed() {
        let mut t = FlowTable::new(64);
        t.advance(100, |_, _| None);
        let a = t.insert(key(1), 105).unwrap();
        let _b = t.insert(key(2), 500).unwrap(); // more than one revolution away
        t.insert(key(3), 120).unwrap();
        t.touch(a, 130); // a packet extended it
        let mut evicted = vec![];
        t.advance(125, |i, f| {
            evicted.push((i, f.key));
            None
        });
        assert_eq!(evicted.iter().map(|e| e.1).collect::<Vec<_>>(), vec![key(3)]);
        assert!(t.lookup(&key(1)).is_some());
        evicted.clear();
        t.advance(499, |_, f| {
            evicted.push((0, f.key));
            None
        });
        assert_eq!(evicted.len(), 1);
        t.advance(2000, |_, _| None);
        assert!(t.is_empty());
    }

    #[test]
    fn a_removed_flow_id_no_longer_resolves() {
        let mut t = FlowTable::new(16);
        let i = t.insert(key(1), 5).unwrap();
        let id = t.id(i);
        assert_eq!(t.resolve(id), Some(i));
        t.remove(i);
        assert_eq!(t.resolve(id), None);
        let j = t.insert(key(2), 5).unwrap();
        assert_eq!(j, i);
        assert_ne!(t.id(j), id);
    }

    #[test]
    fn memory_per_flow_stays_within_budget() {
        let t = FlowTable::new(1 << 16);
        let per_flow = t.memory_bytes() / t.capacity();
        assert!(per_flow <= 256, "{per_flow} bytes per flow");
    }
}

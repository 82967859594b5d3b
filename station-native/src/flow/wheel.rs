//! A hashed timing wheel over the flow slab, for eviction without per-packet work.
//!
//! Each flow sits in the list of slot `deadline % SLOTS` (intrusive, doubly linked through the
//! flow's `prev`/`next` slab indices, so insert and unlink are O(1) and nothing allocates).
//! A packet only moves the flow's `deadline` forward; the flow is re-filed lazily when the wheel
//! reaches its old slot and finds the deadline still in the future. Deadlines further than one
//! revolution away simply wait for another pass.

use super::Flow;

/// Number of slots (power of two).
pub const SLOTS: usize = 256;
/// Marks the end of a list.
pub(crate) const NIL: u32 = u32::MAX;

/// Slot heads of the wheel.
pub(crate) struct Wheel {
    heads: Box<[u32; SLOTS]>,
    /// The next tick to process.
    pub(crate) now: u32,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel { heads: Box::new([NIL; SLOTS]), now: 0 }
    }

    /// Files entry `i` under its deadline.
    pub(crate) fn link(&mut self, flows: &mut [Flow], i: u32) {
        let slot = (flows[i as usize].deadline as usize) % SLOTS;
        let head = self.heads[slot];
        flows[i as usize].slot = slot as u16;
        flows[i as usize].prev = NIL;
        flows[i as usize].next = head;
        if head != NIL {
            flows[head as usize].prev = i;
        }
        self.heads[slot] = i;
    }

    /// Removes entry `i` from whatever slot list holds it.
    pub(crate) fn unlink(&mut self, flows: &mut [Flow], i: u32) {
        let (p, n) = (flows[i as usize].prev, flows[i as usize].next);
        if p != NIL {
            flows[p as usize].next = n;
        } else {
            // The slot it was filed under (its deadline may have moved since).
            let slot = usize::from(flows[i as usize].slot);
            if self.heads[slot] == i {
                self.heads[slot] = n;
            }
        }
        if n != NIL {
            flows[n as usize].prev = p;
        }
        flows[i as usize].prev = NIL;
        flows[i as usize].next = NIL;
    }

    /// Detaches the list of the slot for tick `t` and returns its head.
    pub(crate) fn take_slot(&mut self, t: u32) -> u32 {
        let slot = (t as usize) % SLOTS;
        std::mem::replace(&mut self.heads[slot], NIL)
    }
}

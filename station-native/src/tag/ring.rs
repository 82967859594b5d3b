//! Station keys shared by every capture worker and replaceable while the station runs.
//!
//! The operator rotates keys by editing the config and sending SIGHUP; the wrapper calls
//! [`KeyRing::replace`]. Each worker remembers the generation its [`TagChecker`](super::TagChecker)
//! was built for and compares it with [`KeyRing::generation`] (one atomic load) before a tag check
//! and on every timer tick, rebuilding its checker only when the generation moved. Flows already
//! taken over are sockets by then and do not depend on the keys at all, so a key change never
//! touches a live session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::StationKey;

/// The current set of station keys and a generation number that changes with every replacement.
pub struct KeyRing {
    generation: AtomicU64,
    keys: Mutex<Arc<[StationKey]>>,
}

impl KeyRing {
    /// A ring holding `keys` at generation 0.
    pub fn new(keys: Vec<StationKey>) -> KeyRing {
        KeyRing { generation: AtomicU64::new(0), keys: Mutex::new(keys.into()) }
    }

    /// The generation of the current keys (cheap: read it on hot paths, then call
    /// [`snapshot`](Self::snapshot) only when it changed).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current keys and their generation, read together.
    pub fn snapshot(&self) -> (u64, Arc<[StationKey]>) {
        let keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The generation is bumped while the lock is held, so this pair is consistent.
        (self.generation.load(Ordering::Acquire), Arc::clone(&keys))
    }

    /// Installs new keys and returns their generation.
    pub fn replace(&self, keys: Vec<StationKey>) -> u64 {
        let mut slot = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = keys.into();
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_keys_moves_the_generation_and_the_snapshot() {
        let ring = KeyRing::new(vec![StationKey::from_secret([1; 32])]);
        let (g0, k0) = ring.snapshot();
        assert_eq!((g0, k0.len()), (0, 1));
        let g1 = ring.replace(vec![StationKey::from_secret([1; 32]), StationKey::from_secret([2; 32])]);
        assert_eq!(g1, 1);
        assert_eq!(ring.generation(), 1);
        let (g, k) = ring.snapshot();
        assert_eq!((g, k.len()), (1, 2));
        assert_eq!(k[1].public(), StationKey::from_secret([2; 32]).public());
        assert_eq!(k0.len(), 1, "an older snapshot stays valid");
    }
}

//! A bounded cache of decompressed chunks (CLOCK replacement).
//!
//! Parsers read an engine view page by page, often the same pages again
//! (B-tree roots, catalog pages); the cache keeps their decompressed
//! content so a repeated `read_at` costs a hash lookup, not a zstd call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Hash;

/// Thread-safe chunk cache holding at most `capacity` bytes of content.
#[derive(Debug)]
pub struct ChunkCache {
    capacity: usize,
    clock: Mutex<Clock>,
}

#[derive(Debug, Default)]
struct Clock {
    map: HashMap<Hash, usize>,
    slots: Vec<Slot>,
    hand: usize,
    bytes: usize,
}

#[derive(Debug)]
struct Slot {
    hash: Hash,
    data: Arc<[u8]>,
    referenced: bool,
}

impl ChunkCache {
    /// A cache of at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        ChunkCache {
            capacity,
            clock: Mutex::new(Clock::default()),
        }
    }

    /// The cached content of `hash`.
    pub fn get(&self, hash: &Hash) -> Option<Arc<[u8]>> {
        let mut c = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let i = *c.map.get(hash)?;
        let slot = c.slots.get_mut(i)?;
        slot.referenced = true;
        Some(slot.data.clone())
    }

    /// Adds `data` as the content of `hash`, evicting cold entries.
    pub fn insert(&self, hash: Hash, data: Arc<[u8]>) {
        if data.len() > self.capacity {
            return;
        }
        let mut c = self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if c.map.contains_key(&hash) {
            return;
        }
        while c.bytes + data.len() > self.capacity && !c.slots.is_empty() {
            let hand = c.hand % c.slots.len();
            if c.slots[hand].referenced {
                c.slots[hand].referenced = false;
                c.hand = hand + 1;
                continue;
            }
            let gone = c.slots.swap_remove(hand);
            c.bytes -= gone.data.len();
            c.map.remove(&gone.hash);
            if let Some(moved) = c.slots.get(hand) {
                let h = moved.hash;
                c.map.insert(h, hand);
            }
            c.hand = hand;
        }
        c.bytes += data.len();
        let i = c.slots.len();
        c.slots.push(Slot {
            hash,
            data,
            referenced: false,
        });
        c.map.insert(hash, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_capacity_and_keeps_hot_entries() {
        let cache = ChunkCache::new(10 * 100);
        let h = |i: u8| [i; 32];
        for i in 0..10u8 {
            cache.insert(h(i), vec![i; 100].into());
        }
        assert!(cache.get(&h(3)).is_some());
        for i in 10..15u8 {
            cache.insert(h(i), vec![i; 100].into());
        }
        assert_eq!(
            cache.get(&h(3)).map(|d| d[0]),
            Some(3),
            "referenced entry survives"
        );
        let present = (0..15u8).filter(|&i| cache.get(&h(i)).is_some()).count();
        assert_eq!(present, 10);
        for i in 0..15u8 {
            if let Some(d) = cache.get(&h(i)) {
                assert!(d.iter().all(|&b| b == i));
            }
        }
    }
}

//! The in-memory copy (L1) of an application's store: the last good document of each key, so a
//! store outage neither loses refresh tokens nor re-prompts users. Documents changed while the
//! store could not take them are marked pending and merged into the next successful save.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::persistent::TokenCacheDocument;

/// At most this many documents are kept; beyond it the least recently used ones that the store
/// already holds are forgotten, so a middle tier with many users stays bounded.
const MAX_DOCUMENTS: usize = 10_000;

struct Slot {
    document: Arc<TokenCacheDocument>,
    /// Changed since the store last took it.
    pending: bool,
    /// Which version this is: a save clears `pending` only for the version it saved.
    version: u64,
    last_used: u64,
}

#[derive(Default)]
struct Slots {
    by_key: HashMap<String, Slot>,
    counter: u64,
}

/// Last good documents by store key; clones of a [`CacheStore`](crate::CacheStore) share one.
#[derive(Default)]
pub(crate) struct LastGood(Mutex<Slots>);

impl std::fmt::Debug for LastGood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LastGood({} documents)", self.slots().by_key.len())
    }
}

impl LastGood {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last good document of `key`, and whether it waits to be saved.
    pub(crate) fn get(&self, key: &str) -> Option<(Arc<TokenCacheDocument>, bool)> {
        let mut slots = self.slots();
        slots.counter += 1;
        let now = slots.counter;
        let slot = slots.by_key.get_mut(key)?;
        slot.last_used = now;
        Some((slot.document.clone(), slot.pending))
    }

    /// Keeps `document` as the last good one of `key`; returns its version.
    pub(crate) fn put(&self, key: &str, document: TokenCacheDocument, pending: bool) -> u64 {
        let mut slots = self.slots();
        slots.counter += 1;
        let version = slots.counter;
        if !slots.by_key.contains_key(key) && slots.by_key.len() >= MAX_DOCUMENTS {
            forget_oldest_saved(&mut slots.by_key);
        }
        slots.by_key.insert(
            key.to_owned(),
            Slot {
                document: Arc::new(document),
                pending,
                version,
                last_used: version,
            },
        );
        version
    }

    /// The store took version `version` of `key`'s document.
    pub(crate) fn saved(&self, key: &str, version: u64) {
        if let Some(slot) = self.slots().by_key.get_mut(key)
            && slot.version == version
        {
            slot.pending = false;
        }
    }
}

/// Forgets a quarter of the documents: those the store holds first, least recently used
/// first; pending ones (which exist nowhere else) only when too few are saved, so memory stays
/// bounded through a long outage too.
fn forget_oldest_saved(by_key: &mut HashMap<String, Slot>) {
    let mut order: Vec<(bool, u64, String)> = by_key
        .iter()
        .map(|(key, slot)| (slot.pending, slot.last_used, key.clone()))
        .collect();
    order.sort_unstable();
    for (_, _, key) in order.into_iter().take(MAX_DOCUMENTS / 4) {
        by_key.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_pending_documents_survive() {
        let flood = LastGood::default();
        for i in 0..MAX_DOCUMENTS * 2 {
            flood.put(&format!("p{i}"), TokenCacheDocument::new(), true);
        }
        assert!(
            flood.slots().by_key.len() <= MAX_DOCUMENTS,
            "bounded in an outage too"
        );
        let l1 = LastGood::default();
        l1.put("pending", TokenCacheDocument::new(), true);
        for i in 0..MAX_DOCUMENTS * 2 {
            l1.put(&format!("k{i}"), TokenCacheDocument::new(), false);
        }
        assert!(l1.slots().by_key.len() <= MAX_DOCUMENTS);
        assert!(l1.get("pending").is_some_and(|(_, pending)| pending));
        let version = l1.put("pending", TokenCacheDocument::new(), true);
        l1.saved("pending", version - 1);
        assert!(
            l1.get("pending").unwrap().1,
            "an older save leaves it pending"
        );
        l1.saved("pending", version);
        assert!(!l1.get("pending").unwrap().1);
    }
}

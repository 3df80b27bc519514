//! Per-resource write locks: concurrent writes to the same resource through the gateway are
//! serialised, so read-merge-write updates cannot lose each other's changes.
//!
//! Entries live only while someone holds or waits for them; the map never grows with the
//! number of resources ever written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

/// A lock per key (resource type + id).
#[derive(Debug, Default)]
pub struct KeyedLocks {
    entries: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds one key's lock; dropping it releases the lock and forgets unused entries.
pub struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: String) -> KeyGuard<'_> {
        let entry = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            entries.entry(key.clone()).or_default().clone()
        };
        let guard = entry.lock_owned().await;
        KeyGuard {
            locks: self,
            key,
            guard: Some(guard),
        }
    }

    /// Number of keys currently locked or waited for (for tests).
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is locked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut entries = self
            .locks
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map still refers to the mutex: nobody holds or waits for it.
        if entries
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            entries.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn same_key_is_serialised_and_entries_are_dropped() {
        let locks = Arc::new(KeyedLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (locks, inside) = (locks.clone(), inside.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("User/1".into()).await;
                assert_eq!(
                    inside.fetch_add(1, Ordering::SeqCst),
                    0,
                    "two holders at once"
                );
                tokio::task::yield_now().await;
                inside.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn different_keys_do_not_block_each_other() {
        let locks = KeyedLocks::default();
        let _a = locks.lock("User/1".into()).await;
        let _b = locks.lock("User/2".into()).await;
        assert_eq!(locks.len(), 2);
    }
}

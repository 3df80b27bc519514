//! Remembered positions of cursor- and link-paged lists: which token (or link) starts the
//! page at a given offset, so paging through a sequential list page by page does not walk
//! from the first page every time.
//!
//! Entries are hints, not truths: they expire after [`TTL`], a create or delete of the
//! resource type drops them (offsets shift), and a walk that starts from a remembered token
//! the backend no longer accepts starts again from the first page.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mapping::ResourceKind;

/// How long a remembered position is used.
const TTL: Duration = Duration::from_secs(300);
/// Most positions kept per list (resource type and page size).
const MAX_PER_LIST: usize = 1024;

/// Offset → (token of the page starting there, when it was seen), for one list.
type Positions = BTreeMap<u64, (String, Instant)>;

/// Per-tenant memo of `(resource type, page size, offset)` → next-page token.
#[derive(Debug, Default)]
pub struct CursorMemo {
    lists: Mutex<HashMap<(ResourceKind, u64), Positions>>,
}

impl CursorMemo {
    /// The remembered position closest before (or at) `offset`, if any is still fresh.
    pub fn nearest(&self, kind: ResourceKind, size: u64, offset: u64) -> Option<(u64, String)> {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists.get_mut(&(kind, size))?;
        list.retain(|_, (_, at)| at.elapsed() < TTL);
        list.range(..=offset)
            .next_back()
            .map(|(at, (token, _))| (*at, token.clone()))
    }

    /// Remembers that `token` fetches the page starting at `offset`.
    pub fn remember(&self, kind: ResourceKind, size: u64, offset: u64, token: String) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists.entry((kind, size)).or_default();
        if list.len() >= MAX_PER_LIST && !list.contains_key(&offset) {
            // Keep the early positions: every walk passes them.
            if let Some(last) = list.keys().next_back().copied() {
                list.remove(&last);
            }
        }
        list.insert(offset, (token, Instant::now()));
    }

    /// Forgets every position of one resource type (records were added or removed).
    pub fn forget(&self, kind: ResourceKind) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|(k, _), _| *k != kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_position_at_or_before_the_offset() {
        let memo = CursorMemo::default();
        memo.remember(ResourceKind::User, 10, 10, "b".into());
        memo.remember(ResourceKind::User, 10, 20, "c".into());
        assert_eq!(
            memo.nearest(ResourceKind::User, 10, 25),
            Some((20, "c".into()))
        );
        assert_eq!(
            memo.nearest(ResourceKind::User, 10, 20),
            Some((20, "c".into()))
        );
        assert_eq!(
            memo.nearest(ResourceKind::User, 10, 15),
            Some((10, "b".into()))
        );
        assert_eq!(memo.nearest(ResourceKind::User, 10, 5), None);
        assert_eq!(memo.nearest(ResourceKind::User, 50, 25), None);
        assert_eq!(memo.nearest(ResourceKind::Group, 10, 25), None);
        memo.forget(ResourceKind::User);
        assert_eq!(memo.nearest(ResourceKind::User, 10, 25), None);
    }
}

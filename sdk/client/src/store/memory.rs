use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::{SessionStore, StoreKey};
use crate::error::StoreError;

/// Keeps entries in memory: nothing survives the process. Share one between SDK instances with
/// an `Arc` to simulate an app restart in tests.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<BTreeMap<StoreKey, String>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Which entries are present.
    pub fn keys(&self) -> Vec<StoreKey> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<StoreKey, String>> {
        // The map stays consistent whatever panicked while holding it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

impl SessionStore for MemoryStore {
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError> {
        Ok(self.lock().get(&key).cloned())
    }

    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError> {
        self.lock().insert(key, value.to_owned());
        Ok(())
    }

    fn delete(&self, key: StoreKey) -> Result<(), StoreError> {
        self.lock().remove(&key);
        Ok(())
    }
}

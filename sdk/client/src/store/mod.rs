//! Where a device keeps its session between runs: the client token, the device id and the last
//! client snapshot (so the app starts signed in without a network round trip).
//!
//! [`KeyringStore`] is the OS keychain (the default), [`FileStore`] a 0600 file for machines
//! without one, [`MemoryStore`] for tests and for apps that do not want persistence. Implement
//! [`SessionStore`] for anything else.

mod file;
mod keyring;
mod memory;

use std::fmt;
use std::sync::Arc;

pub use self::file::FileStore;
pub use self::keyring::{Backend as KeyringBackend, KeyringStore};
pub use self::memory::MemoryStore;
use crate::error::StoreError;

/// The entries the SDK keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StoreKey {
    /// The rotating client token (a credential).
    ClientToken,
    /// This installation's stable device id, sent as `x-native-device-id`.
    DeviceId,
    /// The last client snapshot (sessions, users), JSON.
    Client,
    /// The Frontend API URL the client token and snapshot belong to. A stored session is used
    /// only with that Frontend API; configured with another one, the SDK discards it unsent.
    FrontendApi,
}

impl StoreKey {
    /// Every entry the SDK keeps.
    pub const ALL: [StoreKey; 4] = [
        StoreKey::ClientToken,
        StoreKey::DeviceId,
        StoreKey::Client,
        StoreKey::FrontendApi,
    ];

    /// The entry's name in a store (`client_token`, `device_id`, `client`, `frontend_api`).
    pub fn as_str(&self) -> &'static str {
        match self {
            StoreKey::ClientToken => "client_token",
            StoreKey::DeviceId => "device_id",
            StoreKey::Client => "client",
            StoreKey::FrontendApi => "frontend_api",
        }
    }
}

impl fmt::Display for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place to keep the SDK's entries. Calls are blocking; the SDK makes them from a blocking
/// thread, never on the async runtime.
pub trait SessionStore: Send + Sync + 'static {
    /// The value stored under `key`, `Ok(None)` when there is none.
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError>;
    /// Stores `value` under `key`, replacing what was there.
    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError>;
    /// Removes `key`; removing a missing entry succeeds.
    fn delete(&self, key: StoreKey) -> Result<(), StoreError>;
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError> {
        (**self).load(key)
    }

    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError> {
        (**self).save(key, value)
    }

    fn delete(&self, key: StoreKey) -> Result<(), StoreError> {
        (**self).delete(key)
    }
}

impl<T: SessionStore + ?Sized> SessionStore for Box<T> {
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError> {
        (**self).load(key)
    }

    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError> {
        (**self).save(key, value)
    }

    fn delete(&self, key: StoreKey) -> Result<(), StoreError> {
        (**self).delete(key)
    }
}

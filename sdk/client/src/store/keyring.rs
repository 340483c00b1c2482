//! The OS keychain through the `keyring` crate: macOS Keychain, Windows Credential Manager, the
//! Secret Service on Linux (GNOME Keyring, KWallet), and the kernel's keyutils store on Linux
//! machines where no Secret Service runs (headless servers, CI, SSH sessions).

use std::fmt;
use std::sync::OnceLock;

use keyring::Entry;

use super::{SessionStore, StoreKey};
use crate::error::{Cause, StoreError};

/// Keeps each entry as one keychain item: service = the app identifier, account = the entry
/// name (`client_token`, `device_id`, `client`).
///
/// On Linux the backend is chosen on first use: the Secret Service when one answers on the
/// session bus, else the kernel keyutils store (which lives in memory: it survives between runs
/// within a login session, not a reboot). Values too long for the platform (Windows limits an
/// item to 2560 bytes) are split over several items.
pub struct KeyringStore {
    service: String,
    backend: OnceLock<Result<Backend, StoreError>>,
    forced: Option<Backend>,
}

/// A keychain implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// The platform's native store (macOS Keychain, Windows Credential Manager).
    Native,
    /// The freedesktop Secret Service over D-Bus (Linux, BSD).
    SecretService,
    /// The Linux kernel's keyutils store.
    Keyutils,
}

impl Backend {
    /// A name to show the user ("macOS Keychain", "Secret Service", …).
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Native if cfg!(target_os = "macos") => "macOS Keychain",
            Backend::Native if cfg!(target_os = "windows") => "Windows Credential Manager",
            Backend::Native => "native credential store",
            Backend::SecretService => "Secret Service",
            Backend::Keyutils => "kernel keyutils",
        }
    }
}

impl KeyringStore {
    /// A store for the app `app_id` (e.g. `com.example.notes`), backend chosen on first use.
    pub fn new(app_id: impl Into<String>) -> Self {
        Self {
            service: app_id.into(),
            backend: OnceLock::new(),
            forced: None,
        }
    }

    /// A store that always uses `backend` (no probing).
    pub fn with_backend(app_id: impl Into<String>, backend: Backend) -> Self {
        Self {
            service: app_id.into(),
            backend: OnceLock::new(),
            forced: Some(backend),
        }
    }

    /// The backend in use, probing for it if needed (a blocking call).
    pub fn backend(&self) -> Result<Backend, StoreError> {
        self.backend
            .get_or_init(|| match self.forced {
                Some(b) => Ok(b),
                None => probe(&self.service),
            })
            .clone()
    }

    fn entry(&self, key: StoreKey, name: &str) -> Result<Entry, StoreError> {
        entry_for(self.backend()?, &self.service, name).map_err(|e| map_err(key, e))
    }
}

fn entry_for(backend: Backend, service: &str, name: &str) -> keyring::Result<Entry> {
    match backend {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        Backend::SecretService => Ok(Entry::new_with_credential(Box::new(
            keyring::secret_service::SsCredential::new_with_target(None, service, name)?,
        ))),
        #[cfg(target_os = "linux")]
        Backend::Keyutils => Ok(Entry::new_with_credential(Box::new(
            keyring::keyutils::KeyutilsCredential::new_with_target(None, service, name)?,
        ))),
        _ => Entry::new(service, name),
    }
}

/// Linux: the Secret Service if it answers, else keyutils. Elsewhere: the native store.
fn probe(service: &str) -> Result<Backend, StoreError> {
    if !cfg!(any(
        target_os = "linux",
        target_os = "freebsd",
        target_os = "openbsd"
    )) {
        return Ok(Backend::Native);
    }
    let mut last = None;
    for backend in [Backend::SecretService, Backend::Keyutils] {
        if backend == Backend::Keyutils && !cfg!(target_os = "linux") {
            continue;
        }
        let probe = entry_for(backend, service, StoreKey::DeviceId.as_str())
            .and_then(|e| e.get_password().map(|_| ()));
        match probe {
            Ok(()) | Err(keyring::Error::NoEntry) | Err(keyring::Error::Ambiguous(_)) => {
                tracing::debug!(backend = backend.name(), "keychain backend selected");
                return Ok(backend);
            }
            Err(e) => {
                tracing::debug!(backend = backend.name(), error = %e, "keychain backend unavailable");
                last = Some(e);
            }
        }
    }
    Err(StoreError::Unavailable {
        source: match last {
            Some(e) => Cause::new(e),
            None => Cause::msg("no keychain backend is compiled in"),
        },
    })
}

fn map_err(key: StoreKey, e: keyring::Error) -> StoreError {
    match e {
        keyring::Error::BadEncoding(_) => StoreError::Corrupt {
            key,
            reason: "the keychain item is not UTF-8".into(),
        },
        keyring::Error::NoStorageAccess(inner) => StoreError::AccessDenied {
            source: Cause::boxed(inner),
        },
        other => StoreError::Platform {
            source: Cause::new(other),
        },
    }
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("backend", &self.backend.get())
            .finish()
    }
}

impl SessionStore for KeyringStore {
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError> {
        chunked::load(&Items(self), key)
    }

    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError> {
        chunked::save(&Items(self), key, value)
    }

    fn delete(&self, key: StoreKey) -> Result<(), StoreError> {
        chunked::delete(&Items(self), key)
    }
}

/// Keychain items by name, as the chunking layer sees them.
struct Items<'a>(&'a KeyringStore);

impl chunked::Slots for Items<'_> {
    fn max_len(&self) -> Option<usize> {
        // A keyutils "user" key holds at most 32767 bytes and refuses more as "invalid".
        match self.0.backend() {
            Ok(Backend::Keyutils) => Some(16 * 1024),
            _ => None,
        }
    }

    fn get(&self, key: StoreKey, name: &str) -> Result<Option<String>, StoreError> {
        match self.0.entry(key, name)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(key, e)),
        }
    }

    fn set(&self, key: StoreKey, name: &str, value: &str) -> Result<chunked::Set, StoreError> {
        match self.0.entry(key, name)?.set_password(value) {
            Ok(()) => Ok(chunked::Set::Done),
            Err(keyring::Error::TooLong(_, max)) => Ok(chunked::Set::TooLong(max as usize)),
            Err(e) => Err(map_err(key, e)),
        }
    }

    fn remove(&self, key: StoreKey, name: &str) -> Result<(), StoreError> {
        match self.0.entry(key, name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(key, e)),
        }
    }
}

/// Values longer than an item may hold: the head item says `latchkey-chunks:v1:<n>:<len>` and
/// items `<name>.1` … `<name>.<n>` hold the parts. Parts are written before the head, so a
/// reader sees either the old value or the complete new one.
mod chunked {
    use super::{StoreError, StoreKey};

    const HEAD: &str = "latchkey-chunks:v1:";

    pub(super) enum Set {
        Done,
        /// The value is longer than the platform's limit (in bytes).
        TooLong(usize),
    }

    pub(super) trait Slots {
        /// The longest value an item holds, when the store says so by failing differently.
        fn max_len(&self) -> Option<usize> {
            None
        }
        fn get(&self, key: StoreKey, name: &str) -> Result<Option<String>, StoreError>;
        fn set(&self, key: StoreKey, name: &str, value: &str) -> Result<Set, StoreError>;
        fn remove(&self, key: StoreKey, name: &str) -> Result<(), StoreError>;
    }

    fn part(key: StoreKey, i: usize) -> String {
        format!("{}.{i}", key.as_str())
    }

    fn parse_head(value: &str) -> Option<Option<(usize, usize)>> {
        let rest = value.strip_prefix(HEAD)?;
        let (n, len) = rest.split_once(':')?;
        Some(n.parse().ok().zip(len.parse().ok()))
    }

    pub(super) fn load(s: &impl Slots, key: StoreKey) -> Result<Option<String>, StoreError> {
        let Some(head) = s.get(key, key.as_str())? else {
            return Ok(None);
        };
        let Some(parsed) = parse_head(&head) else {
            return Ok(Some(head));
        };
        let corrupt = |reason: String| StoreError::Corrupt { key, reason };
        let (n, len) = parsed.ok_or_else(|| corrupt("a malformed chunk header".into()))?;
        let mut value = String::with_capacity(len);
        for i in 1..=n {
            let piece = s
                .get(key, &part(key, i))?
                .ok_or_else(|| corrupt(format!("part {i} of {n} is missing")))?;
            value.push_str(&piece);
        }
        if value.len() != len {
            return Err(corrupt(format!(
                "the parts add up to {} bytes, not {len}",
                value.len()
            )));
        }
        Ok(Some(value))
    }

    /// How many parts the value stored now has (0: not chunked, or nothing stored).
    fn parts_now(s: &impl Slots, key: StoreKey) -> usize {
        match s.get(key, key.as_str()) {
            Ok(Some(head)) => match parse_head(&head) {
                Some(Some((n, _))) => n,
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Removes parts `from..=to` left over from a longer value.
    fn remove_parts(
        s: &impl Slots,
        key: StoreKey,
        from: usize,
        to: usize,
    ) -> Result<(), StoreError> {
        for i in from..=to {
            s.remove(key, &part(key, i))?;
        }
        Ok(())
    }

    pub(super) fn save(s: &impl Slots, key: StoreKey, value: &str) -> Result<(), StoreError> {
        let old_parts = parts_now(s, key);
        // A value that looks like a chunk header is always chunked, so it reads back as itself;
        // one over a store's known limit is chunked without trying.
        let known = if value.starts_with(HEAD) {
            Some(value.len().max(64))
        } else {
            s.max_len().filter(|max| value.len() > *max)
        };
        let max = match known {
            Some(max) => max,
            None => match s.set(key, key.as_str(), value)? {
                Set::Done => return remove_parts(s, key, 1, old_parts),
                Set::TooLong(max) => max,
            },
        };
        // Limits may count UTF-16 units or bytes: half the limit in bytes fits either way.
        let size = (max / 2).max(16);
        let mut parts = Vec::new();
        let mut rest = value;
        while !rest.is_empty() {
            let mut cut = size.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            let (a, b) = rest.split_at(cut);
            parts.push(a);
            rest = b;
        }
        for (i, p) in parts.iter().enumerate() {
            if let Set::TooLong(_) = s.set(key, &part(key, i + 1), p)? {
                return Err(StoreError::Corrupt {
                    key,
                    reason: "the keychain refused a part within its own size limit".into(),
                });
            }
        }
        let head = format!("{HEAD}{}:{}", parts.len(), value.len());
        match s.set(key, key.as_str(), &head)? {
            Set::Done => remove_parts(s, key, parts.len() + 1, old_parts),
            Set::TooLong(_) => Err(StoreError::Corrupt {
                key,
                reason: "the keychain refused a chunk header".into(),
            }),
        }
    }

    pub(super) fn delete(s: &impl Slots, key: StoreKey) -> Result<(), StoreError> {
        let n = parts_now(s, key);
        s.remove(key, key.as_str())?;
        remove_parts(s, key, 1, n)
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]
        use std::collections::HashMap;
        use std::sync::Mutex;

        use super::*;

        /// Items limited to `max` bytes, like Windows' Credential Manager.
        struct Limited {
            max: usize,
            items: Mutex<HashMap<String, String>>,
        }

        impl Slots for Limited {
            fn get(&self, _: StoreKey, name: &str) -> Result<Option<String>, StoreError> {
                Ok(self.items.lock().unwrap().get(name).cloned())
            }
            fn set(&self, _: StoreKey, name: &str, value: &str) -> Result<Set, StoreError> {
                if value.len() > self.max {
                    return Ok(Set::TooLong(self.max));
                }
                self.items
                    .lock()
                    .unwrap()
                    .insert(name.to_owned(), value.to_owned());
                Ok(Set::Done)
            }
            fn remove(&self, _: StoreKey, name: &str) -> Result<(), StoreError> {
                self.items.lock().unwrap().remove(name);
                Ok(())
            }
        }

        #[test]
        fn long_values_are_split_and_read_back() {
            let s = Limited {
                max: 100,
                items: Mutex::default(),
            };
            let k = StoreKey::Client;
            let long: String = "ä{\"sessions\":[]}".repeat(40);
            save(&s, k, "short").unwrap();
            assert_eq!(load(&s, k).unwrap().as_deref(), Some("short"));
            save(&s, k, &long).unwrap();
            assert!(s.items.lock().unwrap().len() > 5);
            assert_eq!(load(&s, k).unwrap().as_deref(), Some(long.as_str()));
            // A shorter value leaves no stale parts behind.
            save(&s, k, "short again").unwrap();
            assert_eq!(s.items.lock().unwrap().len(), 1);
            save(&s, k, &long).unwrap();
            // A value that looks like a header survives too.
            let tricky = format!("{HEAD}2:5");
            save(&s, k, &tricky).unwrap();
            assert_eq!(load(&s, k).unwrap().as_deref(), Some(tricky.as_str()));
            delete(&s, k).unwrap();
            assert_eq!(load(&s, k).unwrap(), None);
            assert!(s.items.lock().unwrap().is_empty(), "parts are deleted too");
        }

        #[test]
        fn a_missing_part_is_a_corrupt_entry() {
            let s = Limited {
                max: 50,
                items: Mutex::default(),
            };
            let k = StoreKey::Client;
            save(&s, k, &"x".repeat(200)).unwrap();
            s.items.lock().unwrap().remove("client.2");
            assert!(matches!(load(&s, k), Err(StoreError::Corrupt { .. })));
        }
    }
}

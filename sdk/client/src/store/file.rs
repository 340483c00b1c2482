use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use super::{SessionStore, StoreKey};
use crate::error::StoreError;

/// Keeps every entry in one JSON file, readable only by its owner (mode 0600 on Unix), replaced
/// atomically (write a temporary file beside it, flush it to disk, rename it over the old one),
/// so a crash leaves either the old file or the new one.
///
/// The file holds the client token in clear text: prefer [`KeyringStore`](super::KeyringStore)
/// where an OS keychain exists. One process at a time should use a file.
pub struct FileStore {
    path: PathBuf,
    /// Serialises this process's read-modify-write cycles.
    lock: Mutex<()>,
}

#[derive(Serialize, Deserialize, Default)]
struct FileContents {
    version: u32,
    entries: BTreeMap<String, String>,
}

const VERSION: u32 = 1;

impl FileStore {
    /// A store in `path` (created on the first save, with its parent directories).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self, key: StoreKey) -> Result<FileContents, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileContents {
                    version: VERSION,
                    entries: BTreeMap::new(),
                })
            }
            Err(e) => return Err(StoreError::io(&self.path, e)),
        };
        let contents: FileContents =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                key,
                reason: format!("{} is not a session file: {e}", self.path.display()),
            })?;
        if contents.version != VERSION {
            return Err(StoreError::Corrupt {
                key,
                reason: format!(
                    "{} has version {}, this SDK reads version {VERSION}",
                    self.path.display(),
                    contents.version
                ),
            });
        }
        Ok(contents)
    }

    fn modify(
        &self,
        key: StoreKey,
        change: impl FnOnce(&mut FileContents),
    ) -> Result<(), StoreError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let mut contents = match self.read(key) {
            Ok(c) => c,
            // A corrupt file is replaced: the SDK has already reported it and signed out.
            Err(StoreError::Corrupt { .. }) => FileContents {
                version: VERSION,
                entries: BTreeMap::new(),
            },
            Err(e) => return Err(e),
        };
        contents.version = VERSION;
        change(&mut contents);
        let bytes = serde_json::to_vec_pretty(&contents).map_err(|e| StoreError::Corrupt {
            key,
            reason: format!("cannot encode the session file: {e}"),
        })?;
        self.replace(&bytes)
    }

    fn replace(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "session".into());
        let tmp = dir.join(format!(
            ".{name}.{}.{:08x}.tmp",
            std::process::id(),
            rand::random::<u32>()
        ));
        let result = write_private(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| StoreError::io(&self.path, e));
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        } else {
            sync_dir(&dir);
        }
        result
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the rename durable (best effort: not every platform can open a directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SessionStore for FileStore {
    fn load(&self, key: StoreKey) -> Result<Option<String>, StoreError> {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(self.read(key)?.entries.remove(key.as_str()))
    }

    fn save(&self, key: StoreKey, value: &str) -> Result<(), StoreError> {
        self.modify(key, |c| {
            c.entries.insert(key.as_str().to_owned(), value.to_owned());
        })
    }

    fn delete(&self, key: StoreKey) -> Result<(), StoreError> {
        {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            match self.read(key) {
                Ok(c) if !c.entries.contains_key(key.as_str()) => return Ok(()),
                _ => {}
            }
        }
        self.modify(key, |c| {
            c.entries.remove(key.as_str());
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "latchkey-filestore-{name}-{}-{:08x}/session.json",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    #[test]
    fn round_trips_replaces_atomically_and_is_private() -> Result<(), StoreError> {
        let path = temp_path("rt");
        let store = FileStore::new(&path);
        assert_eq!(store.load(StoreKey::ClientToken)?, None);
        store.delete(StoreKey::Client)?;
        store.save(StoreKey::ClientToken, "tok-1")?;
        store.save(StoreKey::DeviceId, "dev")?;
        store.save(StoreKey::ClientToken, "tok-2")?;
        assert_eq!(store.load(StoreKey::ClientToken)?.as_deref(), Some("tok-2"));
        assert_eq!(store.load(StoreKey::DeviceId)?.as_deref(), Some("dev"));
        store.delete(StoreKey::ClientToken)?;
        assert_eq!(store.load(StoreKey::ClientToken)?, None);
        assert_eq!(store.load(StoreKey::DeviceId)?.as_deref(), Some("dev"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map_err(|e| StoreError::io(&path, e))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary files are left behind.
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| StoreError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["session.json".to_owned()]);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    #[test]
    fn a_corrupt_file_is_reported_then_replaced() -> Result<(), StoreError> {
        let path = temp_path("corrupt");
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        std::fs::write(&path, b"{not json").map_err(|e| StoreError::io(&path, e))?;
        let store = FileStore::new(&path);
        match store.load(StoreKey::ClientToken) {
            Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, StoreKey::ClientToken),
            other => {
                return Err(StoreError::Corrupt {
                    key: StoreKey::ClientToken,
                    reason: format!("expected a corrupt-entry error, got {other:?}"),
                })
            }
        }
        store.save(StoreKey::DeviceId, "dev")?;
        assert_eq!(store.load(StoreKey::DeviceId)?.as_deref(), Some("dev"));
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}

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
/// so a crash leaves either the old file or the new one. Parent directories it creates get mode
/// 0700.
///
/// On Unix the file is trusted only if it is a regular file (not a symbolic link: it is opened
/// with `O_NOFOLLOW`), owned by the effective user, and not accessible to group or others
/// (`mode & 0o077 == 0`). Any other file at the path is refused with
/// [`StoreError::InsecureFile`], for reading and for writing alike: it is never loaded and never
/// replaced, so a session planted by another user cannot be picked up (fix its mode, or remove
/// it).
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

    /// The session file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self, key: StoreKey) -> Result<FileContents, StoreError> {
        let Some(bytes) = read_trusted(&self.path)? else {
            return Ok(FileContents {
                version: VERSION,
                entries: BTreeMap::new(),
            });
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
        create_private_dirs(&dir).map_err(|e| StoreError::io(&dir, e))?;
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

/// The file's bytes, `None` when there is no file; a file this user should not trust is an
/// [`StoreError::InsecureFile`]. The checks are made on the open descriptor (`fstat`), so the
/// file cannot be swapped between the check and the read.
#[cfg(unix)]
fn read_trusted(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    use std::io::Read;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

    let insecure = |reason: String| StoreError::InsecureFile {
        path: path.to_path_buf(),
        reason,
    };
    // O_NONBLOCK: opening a FIFO planted at the path must not block; it is refused below.
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        // O_NOFOLLOW fails with ELOOP (EMLINK on FreeBSD) on a symbolic link.
        Err(e) => match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(insecure("it is a symbolic link".into()));
            }
            _ => return Err(StoreError::io(path, e)),
        },
    };
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if !meta.file_type().is_file() {
        return Err(insecure("it is not a regular file".into()));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(insecure(format!(
            "it is owned by uid {}, not by this user (uid {euid})",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(insecure(format!(
            "its mode {mode:04o} lets other users read or change it (`chmod 600` it, or remove it)"
        )));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, e))?;
    Ok(Some(bytes))
}

#[cfg(not(unix))]
fn read_trusted(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// `mkdir -p` with mode 0700 for the directories it creates (existing ones are left alone).
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
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
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "latchkey-filestore-{name}-{}-{:08x}/session.json",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    /// A path whose directory exists.
    fn temp_path_in_dir(name: &str) -> PathBuf {
        let path = temp_path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        path
    }

    fn remove_dir_of(path: &Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[cfg(unix)]
    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).unwrap().ino()
    }

    /// A session file as the SDK writes it, holding `token`.
    fn session_json(token: &str) -> String {
        format!(r#"{{"version":1,"entries":{{"client_token":"{token}","device_id":"dev-old"}}}}"#)
    }

    #[cfg(unix)]
    fn write_with_mode(path: &Path, contents: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, contents).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[track_caller]
    fn assert_insecure(r: Result<impl fmt::Debug, StoreError>, why: &str) {
        match r {
            Err(StoreError::InsecureFile { reason, .. }) => {
                assert!(reason.contains(why), "{reason:?} should say {why:?}")
            }
            other => panic!("expected an insecure-file refusal ({why}), got {other:?}"),
        }
    }

    #[test]
    fn round_trips_and_leaves_no_temporary_files() -> Result<(), StoreError> {
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
        assert_eq!(mode(&path), 0o600);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| StoreError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["session.json".to_owned()]);
        remove_dir_of(&path);
        Ok(())
    }

    /// An in-place truncate-and-write would change what a reader of the old file sees and keep
    /// its inode; a replace leaves the old file whole and puts a new one at the path.
    #[cfg(unix)]
    #[test]
    fn a_save_replaces_the_file_and_never_rewrites_it_in_place() {
        use std::io::{Read, Seek};
        let path = temp_path("atomic");
        let store = FileStore::new(&path);
        store.save(StoreKey::ClientToken, "tok-old").unwrap();
        let old = std::fs::read_to_string(&path).unwrap();
        let old_inode = inode(&path);
        let link = path.with_file_name("old-link.json");
        std::fs::hard_link(&path, &link).unwrap();
        let mut open_old = std::fs::File::open(&path).unwrap();

        store.save(StoreKey::ClientToken, "tok-new").unwrap();

        assert_ne!(inode(&path), old_inode, "a new file is at the path");
        assert_eq!(
            std::fs::read_to_string(&link).unwrap(),
            old,
            "the old file is untouched"
        );
        let mut seen = String::new();
        open_old.rewind().unwrap();
        open_old.read_to_string(&mut seen).unwrap();
        assert_eq!(seen, old, "a reader of the old file still sees all of it");
        assert!(seen.contains("tok-old") && !seen.contains("tok-new"));
        assert_eq!(
            store.load(StoreKey::ClientToken).unwrap().as_deref(),
            Some("tok-new")
        );
        assert_eq!(mode(&path), 0o600);
        remove_dir_of(&path);
    }

    /// A file that passes the checks but was not written by the store (0400 here) is replaced by
    /// a new 0600 file that keeps its other entries.
    #[cfg(unix)]
    #[test]
    fn replacing_a_pre_existing_private_file_makes_it_0600_and_keeps_other_entries() {
        let path = temp_path_in_dir("preexisting");
        write_with_mode(&path, &session_json("tok-pre"), 0o400);
        let old_inode = inode(&path);
        let store = FileStore::new(&path);
        assert_eq!(
            store.load(StoreKey::ClientToken).unwrap().as_deref(),
            Some("tok-pre")
        );
        store.save(StoreKey::ClientToken, "tok-next").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_ne!(inode(&path), old_inode);
        assert_eq!(
            store.load(StoreKey::ClientToken).unwrap().as_deref(),
            Some("tok-next")
        );
        assert_eq!(
            store.load(StoreKey::DeviceId).unwrap().as_deref(),
            Some("dev-old")
        );
        remove_dir_of(&path);
    }

    /// A file others can read (0644) is refused for reading and for writing: it is never
    /// loaded, and left exactly as it was.
    #[cfg(unix)]
    #[test]
    fn a_file_readable_by_others_is_refused_for_reading_and_writing() {
        for foreign_mode in [0o644, 0o640, 0o604, 0o660, 0o606] {
            let path = temp_path_in_dir("mode");
            let planted = session_json("tok-planted");
            write_with_mode(&path, &planted, foreign_mode);
            let store = FileStore::new(&path);
            assert_insecure(store.load(StoreKey::ClientToken), "mode");
            assert_insecure(store.load(StoreKey::DeviceId), "mode");
            assert_insecure(store.save(StoreKey::ClientToken, "tok-mine"), "mode");
            assert_insecure(store.delete(StoreKey::ClientToken), "mode");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), planted);
            assert_eq!(mode(&path), foreign_mode);
            let err = store.load(StoreKey::ClientToken).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("session.json"), "{shown}");
            assert!(!shown.contains("tok-planted"), "{shown}");
            remove_dir_of(&path);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_at_the_path_is_refused_and_not_followed() {
        let path = temp_path_in_dir("symlink");
        let target = path.with_file_name("elsewhere.json");
        let planted = session_json("tok-planted");
        write_with_mode(&target, &planted, 0o600);
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let store = FileStore::new(&path);
        assert_insecure(store.load(StoreKey::ClientToken), "symbolic link");
        assert_insecure(
            store.save(StoreKey::ClientToken, "tok-mine"),
            "symbolic link",
        );
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), planted);
        // A dangling link is refused too, not created through.
        std::fs::remove_file(&target).unwrap();
        assert_insecure(
            store.save(StoreKey::ClientToken, "tok-mine"),
            "symbolic link",
        );
        assert!(!target.exists());
        remove_dir_of(&path);
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_or_fifo_at_the_path_is_refused_without_blocking() {
        let path = temp_path_in_dir("special");
        std::fs::create_dir(&path).unwrap();
        let store = FileStore::new(&path);
        assert_insecure(store.load(StoreKey::ClientToken), "not a regular file");
        std::fs::remove_dir(&path).unwrap();

        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        // Without O_NONBLOCK the open would wait for a writer forever: load on a thread, so
        // that such a bug fails this test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(store.load(StoreKey::ClientToken));
        });
        let loaded = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("load returned instead of blocking on the FIFO");
        assert_insecure(loaded, "not a regular file");
        remove_dir_of(&path);
    }

    /// Owner checks need a file owned by someone else, which only root can make. As root (CI
    /// containers) the check is exercised; otherwise this test has nothing it can set up.
    #[cfg(unix)]
    #[test]
    fn a_file_owned_by_another_user_is_refused() {
        let path = temp_path_in_dir("owner");
        write_with_mode(&path, &session_json("tok-planted"), 0o600);
        if let Err(e) = std::os::unix::fs::chown(&path, Some(65534), Some(65534)) {
            eprintln!("skipping the owner check: cannot chown as this user ({e})");
            remove_dir_of(&path);
            return;
        }
        let store = FileStore::new(&path);
        assert_insecure(store.load(StoreKey::ClientToken), "owned by uid 65534");
        assert_insecure(
            store.save(StoreKey::ClientToken, "tok-mine"),
            "owned by uid 65534",
        );
        remove_dir_of(&path);
    }

    #[cfg(unix)]
    #[test]
    fn parent_directories_it_creates_are_private() {
        let base = temp_path_in_dir("dirs");
        let base = base.parent().unwrap().to_path_buf();
        let before = mode(&base);
        let path = base.join("a").join("b").join("session.json");
        FileStore::new(&path)
            .save(StoreKey::DeviceId, "dev")
            .unwrap();
        assert_eq!(mode(&base.join("a")), 0o700);
        assert_eq!(mode(&base.join("a").join("b")), 0o700);
        assert_eq!(mode(&base), before, "an existing directory is left alone");
        let _ = std::fs::remove_dir_all(base);
    }

    #[test]
    fn a_corrupt_file_is_reported_then_replaced() -> Result<(), StoreError> {
        let path = temp_path_in_dir("corrupt");
        #[cfg(unix)]
        write_with_mode(&path, "{not json", 0o600);
        #[cfg(not(unix))]
        std::fs::write(&path, b"{not json").map_err(|e| StoreError::io(&path, e))?;
        let store = FileStore::new(&path);
        match store.load(StoreKey::ClientToken) {
            Err(StoreError::Corrupt { key, .. }) => assert_eq!(key, StoreKey::ClientToken),
            other => panic!("expected a corrupt-entry error, got {other:?}"),
        }
        store.save(StoreKey::DeviceId, "dev")?;
        assert_eq!(store.load(StoreKey::DeviceId)?.as_deref(), Some("dev"));
        remove_dir_of(&path);
        Ok(())
    }
}

//! The cache file (and the keyring's signal file): private to the user, replaced atomically, and
//! identified by a stamp so other processes' writes are noticed.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;
use std::time::SystemTime;

/// Larger than any real cache by far; a bigger file is not read into memory.
pub(crate) const MAX_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// What identifies one version of a file: a rename gives a new inode, an in-place rewrite (as
/// Python's writer does) a new mtime or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The file's stamp, `None` when it does not exist.
pub(crate) fn stamp(path: &Path) -> io::Result<Option<Stamp>> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            #[cfg(not(unix))]
            let inode = 0;
            Ok(Some(Stamp {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode,
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The file's bytes, `None` when it does not exist.
pub(crate) fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_CACHE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CACHE_BYTES {
        return Err(io::Error::other(format!(
            "the file is larger than {MAX_CACHE_BYTES} bytes"
        )));
    }
    Ok(Some(bytes))
}

/// Creates the directory (and its parents) readable only by the user.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

/// Writes a temporary file (mode 0600) next to `path` and renames it over `path`: readers see
/// the old content or the new, never the truncated file Python's in-place writer exposes.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("the cache path has no directory"))?;
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = private_options().create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // Python reloads only when the mtime is later than when it last read; stamping the
        // file after the rename keeps that window as small as it can be.
        if let Ok(file) = OpenOptions::new().write(true).open(path) {
            let _ = file.set_modified(SystemTime::now());
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Creates the file empty (mode 0600) if needed and moves its mtime to now: the signal other
/// processes reload on.
#[cfg_attr(
    not(all(target_os = "linux", feature = "secret-service")),
    allow(dead_code)
)]
pub(crate) fn touch(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let file = private_options().create(true).open(path)?;
    file.set_modified(SystemTime::now())
}

//! Files only this user may read: the CA's temporary directory, Arc keys, the workload
//! identity token, the state directory's keys.

use std::io;
use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents, 0700 on Unix.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A new private directory under the system's temporary directory, named after `name`.
pub(crate) fn private_temp_dir(name: &str) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "azidentity-emulator-{name}-{}",
        uuid::Uuid::new_v4()
    ));
    create_private_dir(&dir)?;
    Ok(dir)
}

/// Creates `path` (it must not exist) with `bytes`: 0600 when `secret`, else 0644.
pub(crate) fn write_new(path: &Path, bytes: &[u8], secret: bool) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    io::Write::write_all(&mut file, bytes)
}

/// Writes `path` through a temporary name and a rename, so a reader never sees half of it.
pub(crate) fn replace(path: &Path, bytes: &[u8], secret: bool) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".{}.partial", uuid::Uuid::new_v4().simple()));
    let partial = PathBuf::from(partial);
    match write_new(&partial, bytes, secret).and_then(|()| std::fs::rename(&partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

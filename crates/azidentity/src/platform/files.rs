//! Bounded reads of small local files named by the environment (CA bundles, zone files): a
//! path that names a FIFO, a device or a huge file must neither hang nor exhaust memory.

use std::io::{self, Read as _};
use std::path::Path;

/// Reads `path` if it is a regular file of at most `limit` bytes. The file is opened without
/// blocking (a FIFO would block `open` until a writer comes) and its type checked on what was
/// opened, not on what the path named a moment before (a path swapped between a check and the
/// open); the size is checked by reading at most `limit + 1` bytes, never from metadata.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_without_blocking(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
}

/// Without FIFOs that block `open`, the type is checked first as well.
#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> io::Result<std::fs::File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    std::fs::File::open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = std::env::temp_dir().join(format!("azid-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, b"12345").unwrap();
        assert_eq!(read_bounded(&small, 5).unwrap(), b"12345");
        assert!(read_bounded(&small, 4).is_err());
        // A FIFO would block `open` forever; a device never ends.
        let fifo = dir.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(read_bounded(&fifo, 100).is_err());
        // Whatever the path names at open time is what is checked: a regular file replaced by
        // a FIFO is refused without blocking.
        let swapped = dir.join("swapped");
        std::fs::write(&swapped, b"x").unwrap();
        assert!(read_bounded(&swapped, 100).is_ok());
        std::fs::remove_file(&swapped).unwrap();
        std::fs::rename(&fifo, &swapped).unwrap();
        assert!(read_bounded(&swapped, 100).is_err());
        assert!(read_bounded(Path::new("/dev/zero"), 100).is_err());
        assert!(read_bounded(&dir, 100).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

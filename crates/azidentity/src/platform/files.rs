//! Bounded reads of small local files named by the environment (CA bundles, zone files): a
//! path that names a FIFO, a device or a huge file must neither hang nor exhaust memory.

use std::io::{self, Read as _};
use std::path::Path;

/// Reads `path` if it is a regular file of at most `limit` bytes. The type is checked before
/// opening (opening a FIFO blocks until a writer comes) and the size while reading (the file
/// may grow after the check).
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
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
        assert!(read_bounded(Path::new("/dev/zero"), 100).is_err());
        assert!(read_bounded(&dir, 100).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

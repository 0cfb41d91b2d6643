//! The cross-process writer lock of msal-extensions: `<cache>.lockfile`, created exclusively,
//! deleted on release. Python's default lock honours only the file's existence, .NET's only
//! `flock`; we take both so every one of them waits for us.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::platform::Clock;

/// msal-extensions polls every 0.25 s for 5 s.
const POLL: Duration = Duration::from_millis(250);
const ATTEMPTS: u32 = 21;
/// Writers hold the lock for milliseconds; a lockfile this old that nobody `flock`s was left by
/// a process that died holding it (which blocks Python's writers until someone deletes it).
const STALE_AFTER: Duration = Duration::from_secs(30);

/// A held lock; dropping it deletes the lockfile, then releases the `flock`.
#[derive(Debug)]
pub(crate) struct CacheLock {
    path: PathBuf,
    _file: Held,
}

#[cfg(target_os = "linux")]
type Held = nix::fcntl::Flock<File>;
#[cfg(not(target_os = "linux"))]
type Held = File;

impl Drop for CacheLock {
    fn drop(&mut self) {
        // Only our own lockfile is deleted: if someone removed ours (a stale-lock breaker, a
        // person) and another writer created a new one, that one is theirs. Deleted before the
        // flock goes (when the field drops), so no waiter ever holds a flock on a file that is
        // about to disappear.
        if still_ours(&self._file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `path` is still the file we hold open (same device and inode).
#[cfg(unix)]
fn still_ours(held: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (held.metadata(), std::fs::metadata(path)) {
        (Ok(ours), Ok(there)) => ours.dev() == there.dev() && ours.ino() == there.ino(),
        _ => false,
    }
}

/// Without inodes we cannot tell; the lockfile's content names its owner.
#[cfg(not(unix))]
fn still_ours(held: &File, path: &Path) -> bool {
    let _ = held;
    let mine = format!("{} ", std::process::id());
    std::fs::read_to_string(path).is_ok_and(|text| text.starts_with(&mine))
}

/// Whether an old lockfile may be removed, once an `flock` on it proves nobody holds it: without
/// `flock` (off Linux) a writer that is merely slow cannot be told from a dead one, so its lock
/// is never broken (the user is told to delete the file if no program is writing).
fn breakable(age: Option<Duration>, flock_works: bool) -> bool {
    flock_works && age.is_some_and(|age| age >= STALE_AFTER)
}

pub(crate) fn lock_path(location: &Path) -> PathBuf {
    let mut path = location.as_os_str().to_owned();
    path.push(".lockfile");
    PathBuf::from(path)
}

#[cfg(target_os = "linux")]
fn try_flock(file: File) -> Result<Held, File> {
    use nix::fcntl::{Flock, FlockArg};
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(file, _)| file)
}

#[cfg(not(target_os = "linux"))]
fn try_flock(file: File) -> Result<Held, File> {
    Ok(file)
}

/// Whether this platform's `try_flock` really locks.
const FLOCK_WORKS: bool = cfg!(target_os = "linux");

fn create_exclusive(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// Deletes the lockfile if its owner is gone: old, and nobody holds a `flock` on it. The inode
/// is compared after taking the flock so a fresh lockfile created meanwhile is never deleted.
fn break_if_stale(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok());
    if !breakable(age, FLOCK_WORKS) {
        return false;
    }
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(held) = try_flock(file) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let ours = held.metadata().map(|m| m.ino()).ok();
        let now_there = std::fs::metadata(path).map(|m| m.ino()).ok();
        if ours.is_none() || ours != now_there {
            return false;
        }
    }
    tracing::warn!(
        lockfile = %path.display(),
        "removing a stale token cache lockfile left by a process that exited while writing"
    );
    let removed = std::fs::remove_file(path).is_ok();
    drop(held);
    removed
}

/// Takes the lock, waiting about five seconds for another writer, as msal-extensions does.
pub(crate) async fn acquire(
    credential: &'static str,
    location: &Path,
    clock: &Arc<dyn Clock>,
    released: &tokio::sync::Notify,
) -> Result<CacheLock, Error> {
    let path = lock_path(location);
    let mut waits = 0;
    let mut first = true;
    while waits < ATTEMPTS {
        // Registered before looking, so a release between the look and the wait is not missed.
        let woken = released.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let attempt_was_first = std::mem::replace(&mut first, false);
        match create_exclusive(&path) {
            Ok(mut file) => {
                // Who holds it, for a person looking at a stuck lock (msal-extensions' format).
                let exe = std::env::args_os().next().unwrap_or_default();
                let _ = write!(file, "{} {}", std::process::id(), exe.to_string_lossy());
                let held = match try_flock(file) {
                    Ok(held) => held,
                    // A .NET writer opened our fresh file and flocked it first: it is the owner.
                    Err(_) => {
                        clock.sleep(POLL).await;
                        waits += 1;
                        continue;
                    }
                };
                return Ok(CacheLock { path, _file: held });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if break_if_stale(&path) {
                    waits += 1;
                    continue;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt_was_first => {
                if let Some(dir) = path.parent() {
                    super::file::create_private_dir(dir).map_err(|e| {
                        Error::failed(
                            credential,
                            format!(
                                "cannot create the token cache directory {}: {e}",
                                dir.display()
                            ),
                        )
                    })?;
                }
                continue;
            }
            Err(e) => {
                return Err(Error::failed(
                    credential,
                    format!("cannot create the token cache lock {}: {e}", path.display()),
                ));
            }
        }
        // Another writer of this process letting go wakes us at once; others are polled for.
        tokio::select! {
            () = clock.sleep(POLL) => waits += 1,
            () = &mut woken => {}
        }
    }
    Err(Error::failed(
        credential,
        format!(
            "the token cache is locked: {} has existed for more than 5 seconds. Another \
             program may be writing the cache; if none is, delete that file",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_old_lock_that_flock_proves_unheld_is_broken() {
        let old = Some(STALE_AFTER + Duration::from_secs(1));
        let young = Some(Duration::from_secs(1));
        assert!(breakable(old, true));
        assert!(!breakable(young, true));
        assert!(!breakable(None, true));
        // No flock on this platform: never, however old.
        assert!(!breakable(old, false));
    }

    /// Our lockfile was removed and another writer made its own: dropping ours leaves theirs.
    #[tokio::test]
    async fn dropping_a_lock_never_deletes_another_writers_lockfile() {
        let dir = std::env::temp_dir().join(format!("azid-lock-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let location = dir.join("cache.nocae");
        let clock: Arc<dyn Clock> = Arc::new(crate::platform::SystemClock);
        let ours = acquire("T", &location, &clock, &tokio::sync::Notify::new())
            .await
            .unwrap();
        let path = lock_path(&location);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "4242 other-writer").unwrap();
        drop(ours);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242 other-writer");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

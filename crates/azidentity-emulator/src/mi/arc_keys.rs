//! Where an Azure Arc host writes the key files of its challenges, and their clean-up.
//!
//! Microsoft's clients read a key only from the agent's own directory
//! (`/var/opt/azcmagent/tokens` on Linux, `%ProgramData%\AzureConnectedMachineAgent\Tokens` on
//! Windows), so a host meant for them writes there when this process may. In-process tests
//! default to a private directory instead: hosts running in parallel then never see each
//! other's files, and the client under test is told where to look.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where an Azure Arc host writes its key files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ArcKeyDir {
    /// A private temporary directory, removed when the host stops (the default). Clients
    /// must be told to trust it (azidentity: `Platform::with_arc_key_dir`).
    #[default]
    Private,
    /// The agent's directory ([`ArcKeyDir::agent_directory`]), which Microsoft's clients
    /// require; a private directory, with a warning, when this process cannot write there.
    Agent,
    /// This directory, created when missing; the host does not start when it cannot write
    /// there.
    At(PathBuf),
}

impl ArcKeyDir {
    /// The directory the Azure Connected Machine agent writes keys to on this platform, if it
    /// has one.
    pub fn agent_directory() -> Option<PathBuf> {
        if cfg!(windows) {
            let data = std::env::var_os("ProgramData")?;
            Some(
                PathBuf::from(data)
                    .join("AzureConnectedMachineAgent")
                    .join("Tokens"),
            )
        } else if cfg!(target_os = "linux") {
            Some(PathBuf::from("/var/opt/azcmagent/tokens"))
        } else {
            None
        }
    }
}

/// How long a key stays valid: the agent's challenge is answered at once, so unanswered ones
/// (and their files) are dropped rather than accumulated.
const KEY_LIFETIME: Duration = Duration::from_secs(60);

/// An Azure Arc key handed out in a challenge and not yet used.
struct ArcKey {
    key: String,
    path: PathBuf,
    issued: Instant,
}

/// A host's key directory, its outstanding keys, and what to remove when the host stops.
pub(crate) struct ArcKeys {
    dir: PathBuf,
    /// Directories this host created, deepest first: removed when empty at the end.
    created: Vec<PathBuf>,
    /// A private directory to remove whole.
    private_root: Option<PathBuf>,
    keys: Mutex<Vec<ArcKey>>,
}

impl ArcKeys {
    pub fn prepare(choice: &ArcKeyDir) -> io::Result<Self> {
        match choice {
            ArcKeyDir::Private => Self::private(),
            ArcKeyDir::At(dir) => Self::at(dir).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("the Arc key directory {} is not usable: {e}", dir.display()),
                )
            }),
            ArcKeyDir::Agent => match ArcKeyDir::agent_directory() {
                Some(dir) => Self::at(&dir).or_else(|error| {
                    tracing::warn!(
                        dir = %dir.display(),
                        %error,
                        "cannot write Azure Arc keys to the agent's directory; using a private \
                         one, which Microsoft's clients will refuse"
                    );
                    Self::private()
                }),
                None => Self::private(),
            },
        }
    }

    fn private() -> io::Result<Self> {
        let root = crate::files::private_temp_dir("arc")?;
        let dir = root.join("tokens");
        std::fs::create_dir(&dir)?;
        Ok(Self {
            dir,
            created: Vec::new(),
            private_root: Some(root),
            keys: Mutex::new(Vec::new()),
        })
    }

    fn at(dir: &Path) -> io::Result<Self> {
        let mut created = Vec::new();
        let mut missing = Some(dir);
        while let Some(path) = missing.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            created.push(path.to_path_buf());
            missing = path.parent();
        }
        crate::files::create_private_dir(dir)?;
        // A probe proves the directory is writable before any client is told about it.
        let probe = dir.join(format!(".azidentity-emulator-{}", uuid::Uuid::new_v4()));
        let written = crate::files::write_new(&probe, b"", true);
        let _ = std::fs::remove_file(&probe);
        if let Err(error) = written {
            remove_created(&created);
            return Err(error);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            created,
            private_root: None,
            keys: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ArcKey>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes a new key file readable only by this user and returns its path.
    pub fn issue(&self) -> io::Result<String> {
        let key = format!("arc-key-{}", uuid::Uuid::new_v4().simple());
        // Another host sharing the directory may have removed it when it stopped.
        crate::files::create_private_dir(&self.dir)?;
        let path = self.dir.join(format!("{}.key", uuid::Uuid::new_v4()));
        crate::files::write_new(&path, key.as_bytes(), true)?;
        let realm = path.display().to_string();
        let mut keys = self.lock();
        keys.retain(|old| {
            let live = old.issued.elapsed() < KEY_LIFETIME;
            if !live {
                let _ = std::fs::remove_file(&old.path);
            }
            live
        });
        keys.push(ArcKey {
            key,
            path,
            issued: Instant::now(),
        });
        Ok(realm)
    }

    /// Takes the key if it is outstanding and fresh (keys work once); its file goes with it.
    pub fn redeem(&self, presented: &str) -> bool {
        let mut keys = self.lock();
        let Some(i) = keys.iter().position(|k| k.key == presented) else {
            return false;
        };
        let used = keys.swap_remove(i);
        let _ = std::fs::remove_file(&used.path);
        used.issued.elapsed() < KEY_LIFETIME
    }
}

impl ArcKeys {
    /// Removes the outstanding keys' files and the directories made for them. Called when the
    /// host's handle is dropped: the server task, which shares this, ends a little later.
    pub fn clean_up(&self) {
        for key in self.lock().drain(..) {
            let _ = std::fs::remove_file(&key.path);
        }
        if let Some(root) = &self.private_root {
            let _ = std::fs::remove_dir_all(root);
        }
        remove_created(&self.created);
    }
}

impl Drop for ArcKeys {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// Only directories left empty go: another host (or the real agent) may be using them.
fn remove_created(created: &[PathBuf]) {
    for dir in created {
        let _ = std::fs::remove_dir(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_directory_is_created_used_and_removed() {
        let base = std::env::temp_dir().join(format!("arc-keys-test-{}", uuid::Uuid::new_v4()));
        let dir = base.join("a").join("tokens");
        let keys = ArcKeys::prepare(&ArcKeyDir::At(dir.clone())).expect("usable");
        let realm = keys.issue().expect("a key file");
        assert!(realm.starts_with(&dir.display().to_string()));
        let key = std::fs::read_to_string(&realm).expect("readable");
        assert!(keys.redeem(&key));
        assert!(!Path::new(&realm).exists(), "a used key's file is removed");
        assert!(!keys.redeem(&key), "keys work once");
        let outstanding = keys.issue().expect("another key");
        drop(keys);
        assert!(!Path::new(&outstanding).exists());
        assert!(!base.exists(), "the directories it created are gone");
    }

    #[test]
    fn an_unusable_directory_is_refused_or_replaced() {
        let file = std::env::temp_dir().join(format!("arc-keys-file-{}", uuid::Uuid::new_v4()));
        std::fs::write(&file, b"").expect("a file");
        let inside_a_file = file.join("tokens");
        assert!(ArcKeys::prepare(&ArcKeyDir::At(inside_a_file)).is_err());
        std::fs::remove_file(&file).ok();
        let private = ArcKeys::prepare(&ArcKeyDir::Private).expect("private");
        let root = private.private_root.clone().expect("a private root");
        drop(private);
        assert!(!root.exists());
    }
}

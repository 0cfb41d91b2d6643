//! `azid token`'s cache flags: a persistent cache shared with Python `azure-identity`
//! (`--cache-name`), or Redis shared by many processes and hosts (`--redis`).

use std::path::PathBuf;

use azidentity::TokenCachePersistenceOptions;
use clap::Args;

use crate::flags::Failure;

/// Where tokens are kept between runs (default: nowhere, each run asks Entra ID).
#[derive(Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Keep tokens in the persistent cache NAME (the Secret Service, or
    /// ~/.IdentityService/NAME.nocae), shared with other processes and Python azure-identity's
    /// TokenCachePersistenceOptions(name=NAME). With --redis: the prefix of the Redis keys.
    #[arg(long, value_name = "NAME", value_parser = crate::flags::cache_name)]
    cache_name: Option<String>,
    /// With --cache-name: keep the cache in a plain file (mode 0600) when the Secret Service is
    /// unusable, instead of failing. With --redis: store tokens in Redis unencrypted.
    #[arg(long)]
    allow_unencrypted_storage: bool,
    /// Keep tokens in Redis (redis://HOST:PORT/DB): processes and hosts sharing it send one
    /// token request between them. A Redis that is down or slow is warned about, not fatal.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// With --redis: encrypt the values (AES-256-GCM) with the key in FILE (32 bytes, raw or as
    /// 64 hexadecimal digits). Without it (and without --allow-unencrypted-storage) the key is
    /// ~/.azid/redis.key, made on first use: hosts sharing one Redis need the same key file.
    #[arg(long, value_name = "FILE", requires = "redis")]
    redis_key_file: Option<PathBuf>,
}

impl CacheArgs {
    /// The persistence options these flags ask for.
    pub fn persistence(&self) -> Result<Option<TokenCachePersistenceOptions>, Failure> {
        if self.allow_unencrypted_storage && self.cache_name.is_none() && self.redis.is_none() {
            return Err(Failure::Usage(
                "--allow-unencrypted-storage needs --cache-name or --redis".to_owned(),
            ));
        }
        let mut options = TokenCachePersistenceOptions {
            allow_unencrypted_storage: self.allow_unencrypted_storage,
            ..Default::default()
        };
        if let Some(name) = &self.cache_name {
            options.name = name.clone();
        }
        match &self.redis {
            Some(url) => options.store = Some(self.redis_store(url)?),
            None if self.cache_name.is_none() => return Ok(None),
            None => {}
        }
        Ok(Some(options))
    }

    #[cfg(feature = "redis")]
    fn redis_store(&self, url: &str) -> Result<azidentity::CacheStore, Failure> {
        // Opening only parses the URL (the connection is made on first use): its error is about
        // the flag's value.
        let store = azidentity::RedisTokenStore::open(url)
            .map_err(|e| Failure::Usage(format!("--redis: {e}")))?;
        let store = azidentity::CacheStore::new(store);
        if self.allow_unencrypted_storage && self.redis_key_file.is_none() {
            return Ok(store);
        }
        let key = match &self.redis_key_file {
            Some(path) => read_key(path)?,
            None => own_key()?,
        };
        Ok(store
            .with_encryption_key(&key)
            .map_err(|e| format!("azid: {e}"))?)
    }

    #[cfg(not(feature = "redis"))]
    fn redis_store(&self, _: &str) -> Result<azidentity::CacheStore, Failure> {
        Err(Failure::Usage(
            "--redis: this build has no Redis support (feature \"redis\")".to_owned(),
        ))
    }
}

/// The key `--redis` encrypts with when no key file is named: `~/.azid/redis.key`, made on
/// first use from the system's random source. Tokens in Redis are encrypted unless the user
/// said otherwise, with no set-up on one host. Many processes may start at once: the key is
/// written to a private temporary file and published with a hard link, which fails if another
/// process published first; everyone then reads the one published key.
#[cfg(feature = "redis")]
fn own_key() -> Result<[u8; 32], String> {
    use std::io::Write;

    let dir = crate::profile::dir()?;
    let path = dir.join("redis.key");
    if !path.exists() {
        let fail = |e: std::io::Error| {
            format!(
                "azid: cannot create the Redis encryption key {}: {e}; name one with \
                 --redis-key-file FILE",
                path.display()
            )
        };
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| fail(std::io::Error::other(format!("no random source: {e}"))))?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let temp = dir.join(format!("redis.key.{}", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(fail)?;
        let written = file
            .write_all(format!("{hex}\n").as_bytes())
            .and_then(|()| file.sync_all());
        let published = written.and_then(|()| std::fs::hard_link(&temp, &path));
        let _ = std::fs::remove_file(&temp);
        match published {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e)),
        }
    }
    read_key(&path)
}

/// A 32-byte key, raw or as hexadecimal text.
#[cfg(feature = "redis")]
fn read_key(path: &std::path::Path) -> Result<[u8; 32], String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("azid: cannot read the key file {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let hex = text.trim();
    let key: Option<Vec<u8>> = if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
            .collect()
    } else {
        Some(bytes.clone())
    };
    key.and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or_else(|| {
            format!(
                "azid: the key file {} must hold 32 bytes (or 64 hexadecimal digits)",
                path.display()
            )
        })
}

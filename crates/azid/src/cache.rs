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
    /// unusable, instead of failing. With --redis: store tokens in Redis unencrypted (without
    /// it, --redis needs --redis-key-file).
    #[arg(long)]
    allow_unencrypted_storage: bool,
    /// Keep tokens in Redis (redis://HOST:PORT/DB): processes and hosts sharing it send one
    /// token request between them. A Redis that is down or slow is warned about, not fatal.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// With --redis: encrypt the values (AES-256-GCM) with the key in FILE (32 bytes, raw or as
    /// 64 hexadecimal digits).
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
        if self.redis.is_some() && self.redis_key_file.is_none() && !self.allow_unencrypted_storage
        {
            return Err(Failure::Usage(
                "--redis keeps tokens in Redis: give --redis-key-file FILE to encrypt them, or \
                 --allow-unencrypted-storage to store them in plain text"
                    .to_owned(),
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
        let mut store = azidentity::CacheStore::new(store);
        if let Some(path) = &self.redis_key_file {
            store = store
                .with_encryption_key(&read_key(path)?)
                .map_err(|e| format!("azid: {e}"))?;
        }
        Ok(store)
    }

    #[cfg(not(feature = "redis"))]
    fn redis_store(&self, _: &str) -> Result<azidentity::CacheStore, Failure> {
        Err(Failure::Usage(
            "--redis: this build has no Redis support (feature \"redis\")".to_owned(),
        ))
    }
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

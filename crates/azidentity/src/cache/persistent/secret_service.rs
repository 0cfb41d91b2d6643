//! The cache as one secret in the Secret Service (GNOME Keyring, KWallet), stored exactly as
//! msal-extensions' `LibsecretPersistence` stores it for azure-identity, so Python and we find
//! each other's item: attributes `xdg:schema=<cache name>` (libsecret adds the schema name as
//! that attribute) and `MsalClientID=Microsoft.Developer.IdentityService`, label `MSALCache`.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use secret_service::{EncryptionType, SecretService};

use crate::Platform;

const CLIENT_ID_ATTRIBUTE: &str = "MsalClientID";
const CLIENT_ID: &str = "Microsoft.Developer.IdentityService";
const LABEL: &str = "MSALCache";
/// libsecret's `secret_password_store` stores text.
const CONTENT_TYPE: &str = "text/plain";
/// A D-Bus peer that accepts a connection and never answers must not hang a credential.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the Secret Service is and which item holds the cache.
#[derive(Debug, Clone)]
pub(crate) struct SecretServiceStore {
    address: String,
    schema: String,
}

/// The session bus address from the platform's environment, as libdbus/GIO find it: the
/// variable, else the systemd user bus socket. Never the process's own environment, so tests
/// with a private environment cannot touch the user's keyring.
fn session_bus_address(platform: &Platform) -> Option<String> {
    let env = platform.env();
    if let Some(address) = env.non_empty("DBUS_SESSION_BUS_ADDRESS") {
        return Some(address);
    }
    let socket = PathBuf::from(env.non_empty("XDG_RUNTIME_DIR")?).join("bus");
    socket
        .exists()
        .then(|| format!("unix:path={}", socket.display()))
}

async fn timed<T>(
    what: &str,
    call: impl Future<Output = Result<T, secret_service::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer within {} s",
            CALL_TIMEOUT.as_secs()
        )),
    }
}

impl SecretServiceStore {
    /// Connects and checks that the default collection exists and is unlocked (Python runs a
    /// trial store at this point): a keyring that would need a password prompt is unusable
    /// for a credential.
    pub(crate) async fn open(platform: &Platform, schema: &str) -> Result<Self, String> {
        let address = session_bus_address(platform).ok_or_else(|| {
            "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is no \
             $XDG_RUNTIME_DIR/bus)"
                .to_owned()
        })?;
        let store = SecretServiceStore {
            address,
            schema: schema.to_owned(),
        };
        let service = store.connect().await?;
        let collection = timed("no default keyring", service.get_default_collection()).await?;
        if timed("cannot query the default keyring", collection.is_locked()).await? {
            return Err("the default keyring is locked".to_owned());
        }
        Ok(store)
    }

    async fn connect(&self) -> Result<SecretService<'static>, String> {
        let connection = tokio::time::timeout(CALL_TIMEOUT, async {
            zbus::connection::Builder::address(self.address.as_str())?
                .build()
                .await
        })
        .await
        .map_err(|_| "the D-Bus session bus did not answer".to_owned())?
        .map_err(|e| format!("cannot connect to the D-Bus session bus: {e}"))?;
        timed(
            "no Secret Service on the session bus",
            SecretService::connect_with_existing(EncryptionType::Dh, connection),
        )
        .await
    }

    fn attributes(&self) -> HashMap<&str, &str> {
        HashMap::from([
            ("xdg:schema", self.schema.as_str()),
            (CLIENT_ID_ATTRIBUTE, CLIENT_ID),
        ])
    }

    /// The cache's JSON, `None` when there is no item yet.
    pub(crate) async fn read(&self) -> Result<Option<Vec<u8>>, String> {
        let service = self.connect().await?;
        let found = timed(
            "cannot search the keyring",
            service.search_items(self.attributes()),
        )
        .await?;
        let Some(item) = found.unlocked.first() else {
            if found.locked.is_empty() {
                return Ok(None);
            }
            return Err("the token cache's keyring item is locked".to_owned());
        };
        timed("cannot read the keyring item", item.get_secret())
            .await
            .map(Some)
    }

    /// Replaces the item with `bytes`.
    pub(crate) async fn write(&self, bytes: &[u8]) -> Result<(), String> {
        let service = self.connect().await?;
        let collection = timed("no default keyring", service.get_default_collection()).await?;
        timed(
            "cannot store the token cache in the keyring",
            collection.create_item(LABEL, self.attributes(), bytes, true, CONTENT_TYPE),
        )
        .await
        .map(|_| ())
    }
}

//! The encrypted persistent cache in a real Secret Service: a private D-Bus session bus and an
//! unlocked GNOME Keyring started for each test (throw-away password, unix socket in a temp
//! directory; `scripts/install-test-packages` installs them). libsecret's own `secret-tool`
//! and msal-extensions' `LibsecretPersistence` (system Python with PyGObject, plus the venv's
//! msal-extensions) are the judges.

mod persistence_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use azidentity::{
    PersistentTokenCache, TokenCacheDocument, TokenCacheEvent, TokenCachePersistenceOptions,
};
use persistence_support::{TempDir, last_json, mode, platform, run_python_with, script};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

/// Debian's Python, where `python3-gi` installs PyGObject (a venv cannot build it offline).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
const STARTUP: Duration = Duration::from_secs(15);
const ATTRIBUTES: [&str; 4] = [
    "xdg:schema",
    "msal.cache.nocae",
    "MsalClientID",
    "Microsoft.Developer.IdentityService",
];

fn tool(name: &str) -> PathBuf {
    azidentity::platform::which(&azidentity::Env::System, name).unwrap_or_else(|| {
        panic!("{name} is missing: run scripts/install-test-packages (scripts/test does this)")
    })
}

/// A session bus and an unlocked keyring that live as long as this value.
struct PrivateKeyring {
    home: TempDir,
    address: String,
    _bus: Child,
    _keyring: Child,
}

impl PrivateKeyring {
    async fn start() -> Self {
        let home = TempDir::new("keyring");
        // No service directories: a call that arrives before our keyring owns its name must
        // fail, not D-Bus-activate another gnome-keyring-daemon in the real home directory.
        let config = home.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                home.path().join("bus").display()
            ),
        )
        .unwrap();
        let mut bus = Command::new(tool("dbus-daemon"))
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("dbus-daemon starts");
        let mut lines = BufReader::new(bus.stdout.take().unwrap()).lines();
        let address = tokio::time::timeout(STARTUP, lines.next_line())
            .await
            .expect("dbus-daemon prints its address")
            .unwrap()
            .expect("an address");
        let mut keyring = Command::new(tool("gnome-keyring-daemon"))
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env_clear()
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("gnome-keyring-daemon starts");
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(b"throw-away-password").await.unwrap();
        drop(stdin);
        let keyring = PrivateKeyring {
            home,
            address,
            _bus: bus,
            _keyring: keyring,
        };
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            let probe = keyring.open(&TokenCachePersistenceOptions::default()).await;
            match probe {
                Ok(cache) if cache.is_encrypted() => break,
                _ if tokio::time::Instant::now() > deadline => {
                    panic!("the keyring did not come up: {probe:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        keyring
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("DBUS_SESSION_BUS_ADDRESS", self.address.as_str())]
    }

    async fn open(
        &self,
        options: &TokenCachePersistenceOptions,
    ) -> Result<PersistentTokenCache, azidentity::Error> {
        PersistentTokenCache::open(options, false, &platform(&self.home, &self.env())).await
    }

    fn signal_file(&self) -> PathBuf {
        self.home.path().join(".IdentityService/msal.cache.nocae")
    }

    /// libsecret's command-line tool.
    async fn secret_tool(&self, args: &[&str], stdin: &str) -> String {
        let mut child = Command::new(tool("secret-tool"))
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("secret-tool runs");
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        let output = tokio::time::timeout(STARTUP, child.wait_with_output())
            .await
            .expect("secret-tool finishes")
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// msal-extensions' `LibsecretPersistence` (needs PyGObject: the system Python's, with the
    /// venv's packages on the path).
    async fn python(&self, args: &[&str], stdin: &str) -> Value {
        self.python_script("msal_cache.py", args, &[], stdin).await
    }

    async fn python_script(
        &self,
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: &str,
    ) -> Value {
        let venv = persistence_support::python();
        let site = venv
            .parent()
            .and_then(Path::parent)
            .map(|v| v.join("lib"))
            .and_then(|lib| std::fs::read_dir(lib).ok()?.flatten().next())
            .map(|python| python.path().join("site-packages"))
            .expect("the venv's site-packages");
        let script = script(name);
        let mut all = vec![script.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut vars = vec![
            ("DBUS_SESSION_BUS_ADDRESS", self.address.as_str()),
            ("PYTHONPATH", site.to_str().unwrap()),
        ];
        vars.extend_from_slice(env);
        last_json(
            &run_python_with(
                Path::new(SYSTEM_PYTHON),
                &all,
                self.home.path(),
                &vars,
                stdin,
            )
            .await,
        )
    }
}

fn app_token(secret: &str) -> impl FnOnce(&mut TokenCacheDocument) {
    let secret = secret.to_owned();
    move |document| {
        let response = match json!({"access_token": secret, "expires_in": 3600}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        document.add(&TokenCacheEvent {
            client_id: "app",
            environment: "login.microsoftonline.com",
            realm: "tenant",
            scopes: &["https://management.azure.com/.default"],
            grant_type: Some("client_credentials"),
            response: &response,
            username: None,
            skip_account_creation: false,
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
        });
    }
}

fn secrets(text: &str) -> Vec<String> {
    let document = TokenCacheDocument::deserialize(text).unwrap();
    let mut found: Vec<String> = document.as_json()["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["secret"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[tokio::test]
async fn the_cache_is_a_secret_item_and_the_file_only_a_signal() {
    let keyring = PrivateKeyring::start().await;
    let cache = keyring
        .open(&TokenCachePersistenceOptions::default())
        .await
        .unwrap();
    assert!(cache.is_encrypted());
    assert_eq!(cache.location(), keyring.signal_file());
    cache.modify(app_token("in-the-keyring")).await.unwrap();
    let signal = keyring.signal_file();
    assert_eq!(std::fs::read(&signal).unwrap(), b"", "no token on disk");
    assert_eq!(mode(&signal), 0o600);
    let mut lookup = vec!["lookup"];
    lookup.extend(ATTRIBUTES);
    let stored = keyring.secret_tool(&lookup, "").await;
    assert_eq!(secrets(&stored), ["in-the-keyring"]);
    let mut search = vec!["search", "--all"];
    search.extend(ATTRIBUTES);
    let listing = keyring.secret_tool(&search, "").await;
    assert!(listing.contains("label = MSALCache"), "{listing}");
    // Every write moves the signal file's mtime (how other processes notice).
    let before = mtime(&signal);
    tokio::time::sleep(Duration::from_millis(20)).await;
    cache.modify(app_token("second")).await.unwrap();
    assert!(mtime(&signal) > before);
    // A second process (another cache object) sees the latest write (same key: replaced).
    let other = keyring
        .open(&TokenCachePersistenceOptions::default())
        .await
        .unwrap();
    let document = other.load().await.unwrap();
    assert_eq!(secrets(&document.serialize().unwrap()), ["second"]);
    // The unencrypted option changes nothing while the Secret Service works.
    let allowed = TokenCachePersistenceOptions {
        allow_unencrypted_storage: true,
        ..Default::default()
    };
    assert!(keyring.open(&allowed).await.unwrap().is_encrypted());
}

/// Reference test 18: msal-extensions' libsecret persistence reads what we store and we read
/// what it stores, and its writes move the signal file we reload on.
#[tokio::test]
async fn msal_extensions_libsecret_persistence_shares_the_item() {
    let keyring = PrivateKeyring::start().await;
    let cache = keyring
        .open(&TokenCachePersistenceOptions::default())
        .await
        .unwrap();
    cache.modify(app_token("from-rust")).await.unwrap();
    let signal = keyring.signal_file();
    let signal = signal.to_str().unwrap();
    let read = keyring
        .python(&["libsecret-read", "msal.cache.nocae", signal], "")
        .await;
    assert_eq!(secrets(read["data"].as_str().unwrap()), ["from-rust"]);

    let mut document = TokenCacheDocument::new();
    app_token("from-python")(&mut document);
    let before = mtime(&keyring.signal_file());
    tokio::time::sleep(Duration::from_millis(20)).await;
    keyring
        .python(
            &["libsecret-write", "msal.cache.nocae", signal],
            &document.serialize().unwrap(),
        )
        .await;
    assert!(mtime(&keyring.signal_file()) > before);
    let reloaded = cache.load().await.unwrap();
    assert_eq!(secrets(&reloaded.serialize().unwrap()), ["from-python"]);
}

#[tokio::test]
async fn a_cache_name_is_its_own_item() {
    let keyring = PrivateKeyring::start().await;
    let named = TokenCachePersistenceOptions {
        name: "myapp".into(),
        allow_unencrypted_storage: false,
        ..Default::default()
    };
    let mine = keyring.open(&named).await.unwrap();
    mine.modify(app_token("myapp-token")).await.unwrap();
    let default = keyring
        .open(&TokenCachePersistenceOptions::default())
        .await
        .unwrap();
    assert!(default.load().await.unwrap().is_empty());
    let stored = keyring
        .secret_tool(
            &[
                "lookup",
                "xdg:schema",
                "myapp.nocae",
                "MsalClientID",
                "Microsoft.Developer.IdentityService",
            ],
            "",
        )
        .await;
    assert_eq!(secrets(&stored), ["myapp-token"]);
}

/// The desktop case end to end: a device code sign-in with the default (encrypted) persistence
/// lands in the keyring; SharedTokenCacheCredential finds the account there, and Python
/// azure-identity (libsecret through PyGObject) authenticates silently from our record.
#[tokio::test]
async fn an_encrypted_sign_in_serves_the_shared_cache_and_python() {
    use azidentity::{
        ClientOptions, DeviceCodeCredential, DeviceCodeCredentialOptions,
        SharedTokenCacheCredential, SharedTokenCacheCredentialOptions, TokenCredential,
        TokenRequestOptions,
    };
    use azidentity_emulator::{Application, DEFAULT_USERNAME, Emulator};
    use std::sync::Arc;
    const ARM: &str = "https://management.azure.com/.default";
    const DEV_SIGN_ON: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

    let keyring = PrivateKeyring::start().await;
    let emu = Emulator::builder()
        .app(Application::public(DEV_SIGN_ON).multi_tenant(true))
        .start()
        .await
        .unwrap();
    emu.auto_approve_device_codes(Some((DEFAULT_USERNAME, 0)));
    let ca = emu.ca_path().display().to_string();
    let client_options = || ClientOptions {
        authority_host: Some(emu.authority_host()),
        disable_instance_discovery: true,
        platform: platform(
            &keyring.home,
            &[
                ("DBUS_SESSION_BUS_ADDRESS", keyring.address.as_str()),
                ("SSL_CERT_FILE", ca.as_str()),
            ],
        ),
        ..Default::default()
    };
    let signed_in = DeviceCodeCredential::new(DeviceCodeCredentialOptions {
        prompt_callback: Some(Arc::new(|_: &azidentity::DeviceCodeMessage| {})),
        cache_persistence_options: Some(TokenCachePersistenceOptions::default()),
        client_options: client_options(),
        ..Default::default()
    })
    .unwrap();
    let record = signed_in
        .authenticate(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(keyring.signal_file()).unwrap(),
        b"",
        "no token on disk"
    );
    let mut lookup = vec!["lookup"];
    lookup.extend(ATTRIBUTES);
    assert!(
        keyring
            .secret_tool(&lookup, "")
            .await
            .contains("RefreshToken")
    );

    let shared = SharedTokenCacheCredential::new(SharedTokenCacheCredentialOptions {
        client_options: client_options(),
        ..Default::default()
    })
    .unwrap();
    let token = shared
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );

    let answer = keyring
        .python_script(
            "device_code.py",
            &["silent", "-", &record.serialize(), ARM],
            &[
                ("REQUESTS_CA_BUNDLE", ca.as_str()),
                ("SSL_CERT_FILE", ca.as_str()),
            ],
            "",
        )
        .await;
    let claims = emu
        .verify_token(answer["token"].as_str().unwrap())
        .expect("Python got a token from our keyring entry");
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    // Python stored its refreshed token in the keyring too, not in a plaintext file.
    assert_eq!(std::fs::read(keyring.signal_file()).unwrap(), b"");
    assert!(
        keyring
            .secret_tool(&lookup, "")
            .await
            .contains(answer["token"].as_str().unwrap())
    );
}

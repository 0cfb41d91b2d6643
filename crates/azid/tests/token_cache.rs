//! `azid token --cache-name`: the persistent cache shared with Microsoft's Python azure-identity
//! 1.27.0, both ways, with no token request on the second side. Needs `AZIDENTITY_PYTHON` (set
//! by scripts/test).

mod support;

use azidentity_emulator::Emulator;
use support::{SCOPE, TempDir, azid, python_app_token, token_of};

const NAME: &str = "azid-interop";

fn cached_token(emu: &azidentity_emulator::RunningEmulator, home: &TempDir) -> String {
    token_of(&azid(
        emu,
        home.path(),
        &[
            "token",
            "--credential",
            "env",
            "--disable-instance-discovery",
            "--cache-name",
            NAME,
            "--allow-unencrypted-storage",
            "--scope",
            SCOPE,
        ],
    ))
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_stores_and_azid_reads_without_a_request() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("py-first");
    let from_python = python_app_token(&emu, home.path(), NAME);
    assert_eq!(emu.stats().token_requests, 1);
    let file = home
        .path()
        .join(".IdentityService")
        .join(format!("{NAME}.nocae"));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    assert_eq!(cached_token(&emu, &home), from_python);
    assert_eq!(emu.stats().token_requests, 1, "azid found Python's token");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azid_stores_and_python_reads_without_a_request() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("azid-first");
    let from_azid = cached_token(&emu, &home);
    assert_eq!(emu.stats().token_requests, 1);
    let file = home
        .path()
        .join(".IdentityService")
        .join(format!("{NAME}.nocae"));
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let secret = azidentity_emulator::DEFAULT_CLIENT_SECRET;
    assert!(!text.contains(secret), "the client secret is never cached");
    assert_eq!(python_app_token(&emu, home.path(), NAME), from_azid);
    assert_eq!(emu.stats().token_requests, 1, "Python found azid's token");
    // And azid again, from the file.
    assert_eq!(cached_token(&emu, &home), from_azid);
    assert_eq!(emu.stats().token_requests, 1);
}

/// Without `--allow-unencrypted-storage` and with no Secret Service (no session bus in the
/// environment): a clear error, and no plaintext file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_cache_without_permission() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("no-plaintext");
    let out = azid(
        &emu,
        home.path(),
        &[
            "token",
            "--credential",
            "env",
            "--disable-instance-discovery",
            "--cache-name",
            NAME,
            "--scope",
            SCOPE,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("allow_unencrypted_storage"), "{stderr}");
    assert!(stderr.contains("Secret Service"), "{stderr}");
    let dir = home.path().join(".IdentityService");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".nocae")),
        "{files:?}"
    );
    assert_eq!(emu.stats().token_requests, 0, "no token without a cache");
}

//! Microsoft's Python `ManagedIdentityCredential` (azure-identity 1.27.0, sync and async)
//! against the emulator's IMDS and App Service hosts, pointed there the way Azure does it (the
//! hosts' own environment variables). The real client judges the fidelity of our endpoints.
//!
//! Needs `AZIDENTITY_PYTHON`: a Python with `azure-identity==1.27.0` and `aiohttp`
//! (`scripts/test` creates it). Without it these tests fail on purpose, so a missing
//! interpreter cannot pass unnoticed.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use azidentity_emulator::{
    HostKind, ManagedIdentityEndpoint, ManagedIdentityHost, RunningEmulator,
    SYSTEM_ASSIGNED_OBJECT_ID, USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID,
};
use common::emulator;
use serde_json::Value;

const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);
const SCOPE: &str = "https://management.azure.com/.default";

const SCRIPT: &str = r#"
import asyncio, json, sys
from azure.identity import ManagedIdentityCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential

mode, scope, client_id = sys.argv[1], sys.argv[2], sys.argv[3]
kwargs = {"client_id": client_id} if client_id else {}

def report(token):
    print(json.dumps({"token": token.token, "expires_on": token.expires_on}))

try:
    if mode == "sync":
        with ManagedIdentityCredential(**kwargs) as credential:
            report(credential.get_token(scope))
    else:
        async def main():
            async with AsyncManagedIdentityCredential(**kwargs) as credential:
                report(await credential.get_token(scope))
        asyncio.run(main())
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    sys.exit(1)
"#;

fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 and aiohttp \
             (scripts/test does this)"
        ),
    }
}

/// Runs the script with an environment built from scratch: the host's variables, no proxies,
/// nothing inherited that could send a request elsewhere.
async fn run(host: &ManagedIdentityEndpoint, mode: &str, client_id: &str) -> Value {
    let mut command = tokio::process::Command::new(python());
    command
        .arg("-c")
        .arg(SCRIPT)
        .arg(mode)
        .arg(SCOPE)
        .arg(client_id)
        .env_clear()
        .envs(host.env().iter().cloned())
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG", "SYSTEMROOT"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let output = tokio::time::timeout(PYTHON_TIMEOUT, command.output())
        .await
        .expect("Python finished in time")
        .expect("Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|_| {
        panic!(
            "unexpected output from Python ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

async fn check(emu: &RunningEmulator, kind: HostKind) {
    let host = emu
        .start_managed_identity(ManagedIdentityHost::new(kind))
        .await
        .expect("host starts");
    for mode in ["sync", "async"] {
        for (client_id, object_id) in [
            ("", SYSTEM_ASSIGNED_OBJECT_ID),
            (USER_ASSIGNED_CLIENT_ID, USER_ASSIGNED_OBJECT_ID),
        ] {
            emu.reset();
            let answer = run(&host, mode, client_id).await;
            let token = answer["token"]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} {mode} {client_id:?}: {answer}"));
            let claims = emu.verify_token(token).expect("an emulator token");
            assert_eq!(claims["oid"], object_id, "{kind} {mode}");
            assert_eq!(claims["aud"], "https://management.azure.com");
            assert_eq!(
                answer["expires_on"].as_i64(),
                claims["exp"].as_i64(),
                "{kind} {mode}"
            );
            let requests = emu.token_requests();
            assert_eq!(requests.len(), 1, "{kind} {mode}: {requests:?}");
            if !client_id.is_empty() {
                assert_eq!(requests[0].query_value("client_id"), Some(client_id));
            }
        }
    }
}

#[tokio::test]
async fn python_managed_identity_accepts_our_imds() {
    let emu = emulator().await;
    check(&emu, HostKind::Imds).await;
}

#[tokio::test]
async fn python_managed_identity_accepts_our_app_service() {
    let emu = emulator().await;
    check(&emu, HostKind::AppService).await;
}

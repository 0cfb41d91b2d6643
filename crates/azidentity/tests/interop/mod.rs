//! Running Microsoft's Python azure-identity 1.27.0 (`tests/python/grants.py`) against an
//! emulator. Needs `AZIDENTITY_PYTHON`; without it the tests fail on purpose rather than skip,
//! so a missing interpreter cannot pass unnoticed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use azidentity_emulator::RunningEmulator;
use serde_json::Value;

/// Python start-up plus a few HTTPS round trips; bounded so a hung client is a failure.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(180);

fn python() -> PathBuf {
    match std::env::var_os("AZIDENTITY_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "set AZIDENTITY_PYTHON to a Python with azure-identity==1.27.0 and aiohttp \
             (scripts/test does this)"
        ),
    }
}

/// Runs `grants.py KIND STACKS` with an environment built from scratch: the emulator's
/// authority and CA, `vars`, and nothing inherited that could send a request elsewhere.
pub async fn run(
    emu: &RunningEmulator,
    kind: &str,
    stacks: &str,
    vars: &[(&str, &str)],
) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/grants.py");
    let mut command = tokio::process::Command::new(python());
    command
        .arg(script)
        .arg(kind)
        .arg(stacks)
        .env_clear()
        .env("AZURE_AUTHORITY_HOST", emu.authority_host())
        .env("SSL_CERT_FILE", emu.ca_path())
        .env("REQUESTS_CA_BUNDLE", emu.ca_path())
        .env("NO_PROXY", "*")
        .env("no_proxy", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .kill_on_drop(true);
    for name in ["PATH", "HOME", "LANG", "SYSTEMROOT"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = tokio::time::timeout(PYTHON_TIMEOUT, command.output())
        .await
        .expect("Python finished within the timeout")
        .unwrap_or_else(|e| panic!("could not run {}: {e}", python().display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bad line {line:?} ({e}); stderr:\n{stderr}"))
        })
        .collect()
}

/// The one result of `stack`, which must be a success whose token the emulator verifies; its
/// claims.
pub fn token_claims(emu: &RunningEmulator, results: &[Value], stack: &str) -> Value {
    let matching: Vec<&Value> = results.iter().filter(|r| r["stack"] == stack).collect();
    assert_eq!(matching.len(), 1, "one {stack} result in {results:?}");
    let result = matching[0];
    assert_eq!(result["ok"], true, "{stack}: {result}");
    emu.verify_token(result["token"].as_str().expect("token"))
        .expect("the token Python got verifies against the emulator's key")
}

/// Checks a token's RS256 signature with the key the emulator publishes at its JWKS endpoint
/// (fetched over HTTPS like any relying party would), independently of `verify_token`.
pub async fn verify_with_jwks(emu: &RunningEmulator, tenant: &str, token: &str) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let http = azidentity::Platform::system()
        .with_env(azidentity::Env::from_pairs([(
            "SSL_CERT_FILE",
            emu.ca_path().to_string_lossy().into_owned(),
        )]))
        .http_client()
        .expect("transport");
    let url = format!("{}/{tenant}/discovery/v2.0/keys", emu.authority_host());
    let request = http::Request::get(url).body(bytes::Bytes::new()).unwrap();
    let response = http.send(request).await.expect("JWKS answered");
    let jwks: Value = serde_json::from_slice(response.body()).expect("JWKS is JSON");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is published");
    let component = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let public = ring::signature::RsaPublicKeyComponents {
        n: component("n"),
        e: component("e"),
    };
    let signed = &token[..parts[0].len() + 1 + parts[1].len()];
    public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signed.as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .expect("the signature verifies with the published key");
}

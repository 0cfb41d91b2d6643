//! What `fake-az`, `fake-azd` and `fake-pwsh` share: configuration from the environment, a
//! token from the emulator (a blocking HTTPS POST, so the tools start in milliseconds), the
//! argument log, and the misbehaviours a credential must survive.
//!
//! Environment:
//!
//! | variable | meaning |
//! |---|---|
//! | `AZIDENTITY_FAKE_AUTHORITY` | the emulator, `https://127.0.0.1:PORT` |
//! | `AZIDENTITY_FAKE_CA_FILE` | the emulator's CA (PEM) |
//! | `AZIDENTITY_FAKE_TENANT`, `AZIDENTITY_FAKE_CLIENT_ID`, `AZIDENTITY_FAKE_CLIENT_SECRET` | the "signed-in" service principal |
//! | `AZIDENTITY_FAKE_MODE`, `AZIDENTITY_FAKE_AZ_MODE` (`_AZD_`, `_PWSH_`) | `ok` (default), `not-logged-in`, `aadsts`, `old` (az without `expires_on`), `no-module` (pwsh), `no-claims-flag` (azd), `garbage`, `html`, `empty`, `huge` (100 MB on stdout), `hang`, `fail` |
//! | `AZIDENTITY_FAKE_ARGS_LOG` | append one JSON line per run: `{"tool", "args", "cwd", "env": {AZURE_CORE_NO_COLOR, NO_COLOR}}` |

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// What the tool was asked to do: `AZIDENTITY_FAKE_<TOOL>_MODE` (e.g. `AZIDENTITY_FAKE_AZ_MODE`),
/// else `AZIDENTITY_FAKE_MODE`, else `ok`.
pub fn mode(tool: &str) -> String {
    std::env::var(format!(
        "AZIDENTITY_FAKE_{}_MODE",
        tool.to_ascii_uppercase()
    ))
    .or_else(|_| std::env::var("AZIDENTITY_FAKE_MODE"))
    .unwrap_or_else(|_| "ok".to_owned())
}

/// Records the invocation when `AZIDENTITY_FAKE_ARGS_LOG` is set.
pub fn log_invocation(tool: &str) {
    let Ok(path) = std::env::var("AZIDENTITY_FAKE_ARGS_LOG") else {
        return;
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let line = serde_json::json!({
        "tool": tool,
        "args": args,
        "cwd": cwd,
        "env": {
            "AZURE_CORE_NO_COLOR": std::env::var("AZURE_CORE_NO_COLOR").ok(),
            "NO_COLOR": std::env::var("NO_COLOR").ok(),
        },
    });
    // One write call: a tool killed mid-run (a chain dropping a member it no longer needs)
    // must not leave half a line for the next tool's line to run into.
    let line = format!("{line}\n");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The behaviours every tool shares; returns the exit code when the mode was one of them.
pub fn common_misbehaviour(mode: &str) -> Option<i32> {
    match mode {
        "hang" => {
            std::thread::sleep(Duration::from_secs(3600));
            Some(0)
        }
        "huge" => {
            let line = "x".repeat(1023) + "\n";
            let mut out = std::io::stdout().lock();
            for _ in 0..100 * 1024 {
                if out.write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            Some(0)
        }
        "garbage" => {
            println!("this is not the output you are looking for");
            Some(0)
        }
        "html" => {
            println!("<html><head><title>Proxy error</title></head><body>502</body></html>");
            Some(0)
        }
        "empty" => Some(0),
        "fail" => Some(3),
        _ => None,
    }
}

/// A token and its lifetime in seconds.
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// The tenant the tool is "signed in" to.
pub fn tenant() -> String {
    std::env::var("AZIDENTITY_FAKE_TENANT").unwrap_or_default()
}

/// A client-credentials token for `scope` from the emulator. Errors are Entra's
/// `error_description` (with its AADSTS code) or a transport failure.
pub fn fetch_token(scope: &str, tenant_override: Option<&str>) -> Result<Token, String> {
    let authority = var("AZIDENTITY_FAKE_AUTHORITY")?;
    let ca = std::fs::read(var("AZIDENTITY_FAKE_CA_FILE")?).map_err(|e| e.to_string())?;
    let home_tenant = var("AZIDENTITY_FAKE_TENANT")?;
    let tenant = tenant_override.unwrap_or(&home_tenant);
    let client_id = var("AZIDENTITY_FAKE_CLIENT_ID")?;
    let secret = var("AZIDENTITY_FAKE_CLIENT_SECRET")?;
    let url = url::Url::parse(&authority).map_err(|e| e.to_string())?;
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port().unwrap_or(443);
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &client_id)
        .append_pair("client_secret", &secret)
        .append_pair("scope", scope)
        .finish();
    let request = format!(
        "POST /{tenant}/oauth2/v2.0/token HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: \
         application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, response) = https_exchange(&host, port, &ca, request.as_bytes())?;
    let json: serde_json::Value =
        serde_json::from_slice(&response).map_err(|e| format!("bad JSON from Entra: {e}"))?;
    if status != 200 {
        return Err(json
            .get("error_description")
            .and_then(|d| d.as_str())
            .unwrap_or("unknown error")
            .to_owned());
    }
    let access_token = json
        .get("access_token")
        .and_then(|t| t.as_str())
        .ok_or("no access_token")?
        .to_owned();
    let expires_in = json
        .get("expires_in")
        .and_then(|e| e.as_i64())
        .unwrap_or(3599);
    Ok(Token {
        access_token,
        expires_in,
    })
}

fn https_exchange(
    host: &str,
    port: u16,
    ca: &[u8],
    request: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let socket = TcpStream::connect((host, port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(request).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // The server may close without close_notify once the body is complete.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = &raw[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk")?;
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line_end]).trim(), 16)
            .map_err(|e| e.to_string())?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok((status, out));
        }
        out.extend_from_slice(rest.get(..size).ok_or("short chunk")?);
        rest = rest.get(size + 2..).ok_or("short chunk")?;
    }
}

/// `2026-11-26 08:01:02.123456`, the naive local time `az` prints; the fake's "local" zone is UTC.
pub fn az_local_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `2026-11-26T08:01:02Z`, as `azd` prints `expiresOn`.
pub fn rfc3339_utc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// The value following `flag` in `args`.
pub fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

//! The Azure Arc agent (himds): a first request gets a 401 naming a fresh key file only
//! privileged users can read; the second must carry the key as `Authorization: Basic <key>`.
//! Keys are single-use. An agent that supports user-assigned identities echoes the selector.

use std::path::Path;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::Value;

use super::identity::IdKind;
use super::imds::{error, token_body};
use super::rules::{Guard, HostRules};
use super::server::{ArcKey, HostState, MiRequest};
use crate::http::{Response, json, set_header};

pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";

const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Metadata,
    api_versions: &["2019-11-01", "2020-06-01", "2021-02-01"],
    selectors: &[
        ("client_id", IdKind::Client),
        ("object_id", IdKind::Object),
        ("msi_res_id", IdKind::Resource),
    ],
    error,
    api_version_missing: None,
    api_version_invalid: ("invalid_request", "Invalid or missing api-version"),
    ..super::imds::RULES
};

/// How long a key stays valid: the agent's challenge is answered at once, so unanswered ones
/// (and their files) are dropped rather than accumulated.
const KEY_LIFETIME: Duration = Duration::from_secs(60);

/// Writes a new key file readable only by this user and returns its path.
fn new_key(state: &HostState, dir: &Path) -> Result<String, String> {
    let key = format!("arc-key-{}", uuid::Uuid::new_v4().simple());
    let path = dir.join(format!("{}.key", uuid::Uuid::new_v4()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut file, key.as_bytes()).map_err(|e| e.to_string())?;
    let realm = path.display().to_string();
    let mut keys = state.arc_keys.lock().unwrap_or_else(|p| p.into_inner());
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
fn redeem(state: &HostState, presented: &str) -> bool {
    let mut keys = state.arc_keys.lock().unwrap_or_else(|p| p.into_inner());
    let Some(i) = keys.iter().position(|k| k.key == presented) else {
        return false;
    };
    let used = keys.swap_remove(i);
    let _ = std::fs::remove_file(&used.path);
    used.issued.elapsed() < KEY_LIFETIME
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if let Err(refusal) = RULES.check(state, request) {
        return *refusal;
    }
    let Some(dir) = state.arc_key_dir.as_deref() else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no key directory",
        );
    };
    match request.header("authorization") {
        None => {
            let realm = match new_key(state, dir) {
                Ok(path) => path,
                Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
            };
            let mut answer = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Authorization header is required; read the key file named in WWW-Authenticate",
            );
            set_header(
                &mut answer,
                "www-authenticate",
                &format!("Basic realm={realm}"),
            );
            return answer;
        }
        Some(value) => {
            let key = value
                .strip_prefix("Basic ")
                .or_else(|| value.strip_prefix("basic "))
                .unwrap_or("");
            if !redeem(state, key.trim()) {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "The key is not valid or was already used",
                );
            }
        }
    }
    // A legacy agent does not know the selectors and answers for the system identity.
    let legacy: Option<&[(&str, IdKind)]> = state.host.legacy_arc_agent.then_some(&[]);
    let (resource, resolved) = match RULES.resolve(state, request, legacy) {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    match token_body(state, &resolved, resource) {
        Ok(mut body) => {
            body.remove("client_id");
            let echo = match resolved.by {
                Some(IdKind::Client) => Some(("client_id", &resolved.identity.client_id)),
                Some(IdKind::Object) => Some(("object_id", &resolved.identity.object_id)),
                Some(IdKind::Resource) => Some(("msi_res_id", &resolved.identity.resource_id)),
                None => None,
            };
            if let Some((name, value)) = echo {
                body.insert(name.into(), value.clone().into());
            }
            json(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}

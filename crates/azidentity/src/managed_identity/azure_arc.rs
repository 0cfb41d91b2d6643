//! Azure Arc-enabled servers: the local agent answers a first request with a 401 challenge
//! naming a key file only administrators (and the agent's group) can read; reading it proves we
//! run on the machine with that right. The path comes from the network, so it is checked
//! strictly before anything is read, and a requested user-assigned identity must be echoed back.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use http::HeaderValue;
use http::header::HeaderName;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::source::{LocalEndpoint, MiSource, NAME, endpoint_url};
use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error, Platform};

const API_VERSION: &str = "2020-06-01";
/// Arc honours IMDS's `msi_res_id` (it silently ignores `mi_res_id`).
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "msi_res_id",
};
/// The agent's keys are small; a large file is not one of them.
const MAX_KEY_BYTES: u64 = 4096;

#[derive(Debug)]
pub(crate) struct AzureArc {
    local: LocalEndpoint,
    key_dir: PathBuf,
}

impl AzureArc {
    pub(crate) fn new(
        env: &Env,
        platform: &Platform,
        id: ManagedIdentityId,
    ) -> Result<Self, Error> {
        let url = endpoint_url(env, Vars::IDENTITY_ENDPOINT, false)?;
        let key_dir = platform.arc_key_dir().ok_or_else(|| {
            Error::config(
                NAME,
                "Azure Arc managed identity works only on Linux and Windows (on Windows \
                 PROGRAMDATA must be set): there is no Arc key directory on this platform",
            )
        })?;
        Ok(AzureArc {
            local: LocalEndpoint::new(url, id, Some(API_VERSION), SELECTORS),
            key_dir,
        })
    }

    fn challenge_failure(&self, what: impl std::fmt::Display) -> Error {
        Error::failed(
            NAME,
            format!("Azure Arc managed identity at {}: {what}", self.endpoint()),
        )
    }
}

/// The key file path from `WWW-Authenticate: Basic realm=<path>`.
fn realm_path(header: &str) -> Option<&str> {
    let (scheme, path) = header.trim().split_once('=')?;
    if !scheme.trim().eq_ignore_ascii_case("basic realm") {
        return None;
    }
    let path = path.trim().trim_matches('"');
    (!path.is_empty()).then_some(path)
}

/// Checks the path the agent named and reads the key. Rules: an absolute path directly inside
/// the Arc key directory, no `.` or `..` segments, a `.key` name, a regular file of at most
/// 4096 bytes, and still inside the directory once links are resolved.
fn read_key(realm: &str, key_dir: &Path) -> Result<Zeroizing<String>, String> {
    let path = Path::new(realm);
    if !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(format!(
            "the challenge names {realm:?}, which is not a plain absolute path"
        ));
    }
    if path.parent() != Some(key_dir) {
        return Err(format!(
            "the challenge names {realm:?}, which is not in the Arc key directory {}",
            key_dir.display()
        ));
    }
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err(format!(
            "the challenge names {realm:?}, which does not have the .key extension"
        ));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| format!("the key file {realm:?} cannot be opened: {e}"))?;
    let canonical_dir = key_dir
        .canonicalize()
        .map_err(|e| format!("the Arc key directory cannot be opened: {e}"))?;
    if canonical.parent() != Some(canonical_dir.as_path()) {
        return Err(format!(
            "the key file {realm:?} links outside the Arc key directory"
        ));
    }
    let file = std::fs::File::open(&canonical)
        .map_err(|e| format!("the key file {realm:?} cannot be read: {e}"))?;
    let metadata = file
        .metadata()
        .map_err(|e| format!("the key file {realm:?} cannot be read: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("{realm:?} is not a regular file"));
    }
    if metadata.len() > MAX_KEY_BYTES {
        return Err(format!(
            "the key file {realm:?} is larger than {MAX_KEY_BYTES} bytes"
        ));
    }
    let mut key = Zeroizing::new(String::new());
    // The size is checked again while reading: the file may grow after the check.
    file.take(MAX_KEY_BYTES + 1)
        .read_to_string(&mut key)
        .map_err(|e| format!("the key file {realm:?} cannot be read as text: {e}"))?;
    if key.len() as u64 > MAX_KEY_BYTES {
        return Err(format!(
            "the key file {realm:?} is larger than {MAX_KEY_BYTES} bytes"
        ));
    }
    let key = Zeroizing::new(key.trim_end_matches(['\r', '\n']).to_owned());
    if key.is_empty() {
        return Err(format!("the key file {realm:?} is empty"));
    }
    Ok(key)
}

impl MiSource for AzureArc {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AzureArc
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        let mut request = self.local.get(resource);
        request.headers.push((
            HeaderName::from_static("metadata"),
            HeaderValue::from_static("true"),
        ));
        request
    }

    fn answer_challenge(
        &self,
        first: &http::Response<Bytes>,
        request: &Outgoing,
    ) -> Result<Option<Outgoing>, Error> {
        let status = first.status();
        if status.is_success() {
            // The agent always challenges first; a token without the challenge did not come
            // from the agent, so it is not trusted (MSAL fails closed the same way).
            return Err(self.challenge_failure(
                "the endpoint returned a token without the 401 challenge the Arc agent always \
                 sends; it may not be the Arc agent. Check IDENTITY_ENDPOINT",
            ));
        }
        if status != http::StatusCode::UNAUTHORIZED {
            return Ok(None);
        }
        let header = first
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let realm = realm_path(header).ok_or_else(|| {
            self.challenge_failure(format!(
                "the 401 challenge has no usable WWW-Authenticate header (expected \
                 'Basic realm=<key file path>', got {header:?})"
            ))
        })?;
        let key = read_key(realm, &self.key_dir).map_err(|why| {
            self.challenge_failure(format!(
                "{why}. Run as a user in the Arc agent's group (himds) or as an administrator"
            ))
        })?;
        let mut basic = Zeroizing::new(String::with_capacity("Basic ".len() + key.len()));
        basic.push_str("Basic ");
        basic.push_str(&key);
        let mut value = HeaderValue::from_str(&basic).map_err(|_| {
            self.challenge_failure("the key file holds characters that cannot be sent in a header")
        })?;
        value.set_sensitive(true);
        let mut answer = request.clone();
        answer.headers.push((http::header::AUTHORIZATION, value));
        Ok(Some(answer))
    }

    fn check_body(&self, body: &Map<String, Value>) -> Result<(), Error> {
        let id = self.id();
        let Some(requested) = id.value() else {
            return Ok(());
        };
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        let echoed = match id {
            ManagedIdentityId::ClientId(_) => field("client_id"),
            ManagedIdentityId::ObjectId(_) => field("object_id"),
            ManagedIdentityId::ResourceId(_) => field("msi_res_id").or_else(|| field("mi_res_id")),
            ManagedIdentityId::SystemAssigned => None,
        };
        match echoed {
            Some(echoed) if echoed.eq_ignore_ascii_case(requested) => Ok(()),
            _ => Err(Error::failed(
                NAME,
                format!(
                    "Azure Arc did not confirm the requested {} in the token response. The \
                     agent likely does not support user-assigned managed identities and \
                     returned the system-assigned identity; update the Arc agent or use the \
                     system-assigned identity",
                    id
                ),
            )),
        }
    }

    fn advice(&self) -> &'static str {
        "Check that the Arc agent (himds) is running and connected, and that the identity is \
         assigned to the machine"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "azid-arc-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn realm_parsing() {
        assert_eq!(realm_path("Basic realm=/k/a.key"), Some("/k/a.key"));
        assert_eq!(realm_path("basic REALM=\"/k/a.key\""), Some("/k/a.key"));
        assert_eq!(realm_path("Bearer realm=/k/a.key"), None);
        assert_eq!(realm_path("Basic realm="), None);
        assert_eq!(realm_path(""), None);
    }

    #[test]
    fn key_file_rules() {
        let dir = temp_dir("rules");
        let other = temp_dir("other");
        std::fs::write(dir.join("good.key"), "the-key\n").unwrap();
        std::fs::write(dir.join("wrong.txt"), "x").unwrap();
        std::fs::write(dir.join("big.key"), vec![b'a'; 5 * 1024 * 1024]).unwrap();
        std::fs::write(dir.join("empty.key"), "").unwrap();
        std::fs::write(other.join("outside.key"), "x").unwrap();
        let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
        assert_eq!(read_key(&p("good.key"), &dir).unwrap().as_str(), "the-key");
        for (path, why) in [
            (p("wrong.txt"), ".key"),
            (p("big.key"), "larger than 4096"),
            (p("empty.key"), "empty"),
            (p("missing.key"), "cannot be opened"),
            (
                other.join("outside.key").to_string_lossy().into_owned(),
                "not in the Arc key directory",
            ),
            (
                format!(
                    "{}/../{}/outside.key",
                    dir.display(),
                    other.file_name().unwrap().to_string_lossy()
                ),
                "not a plain absolute path",
            ),
            ("relative/good.key".to_owned(), "not a plain absolute path"),
        ] {
            let err = read_key(&path, &dir).unwrap_err();
            assert!(err.contains(why), "{path}: {err}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(other.join("outside.key"), dir.join("link.key")).unwrap();
            let err = read_key(&p("link.key"), &dir).unwrap_err();
            assert!(err.contains("links outside"), "{err}");
        }
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_dir_all(&other).ok();
    }

    #[test]
    fn echo_check_fails_closed() {
        let env = Env::from_pairs([(
            "IDENTITY_ENDPOINT",
            "http://127.0.0.1:40342/metadata/identity/oauth2/token",
        )]);
        let platform = Platform::system().with_arc_key_dir("/nonexistent");
        let body = |json: &str| match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let system = AzureArc::new(&env, &platform, ManagedIdentityId::SystemAssigned).unwrap();
        assert!(system.check_body(&body("{}")).is_ok());
        let client =
            AzureArc::new(&env, &platform, ManagedIdentityId::ClientId("ABC".into())).unwrap();
        assert!(client.check_body(&body(r#"{"client_id":"abc"}"#)).is_ok());
        assert!(
            client
                .check_body(&body(r#"{"client_id":"other"}"#))
                .is_err()
        );
        assert!(client.check_body(&body(r#"{}"#)).is_err());
        let res =
            AzureArc::new(&env, &platform, ManagedIdentityId::ResourceId("/R".into())).unwrap();
        assert!(res.check_body(&body(r#"{"mi_res_id":"/r"}"#)).is_ok());
        assert!(res.check_body(&body(r#"{"object_id":"/r"}"#)).is_err());
        let r = client.request("https://management.azure.com");
        assert!(r.url.contains("api-version=2020-06-01"));
        assert!(r.url.ends_with("&client_id=ABC"));
    }
}

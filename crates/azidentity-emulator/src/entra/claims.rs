//! The claims of an app-only (client credentials) access token, as Entra's v1.0 tokens have.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::BACKDATE_SECS;
use crate::config::Application;

#[derive(Debug, Serialize)]
pub(crate) struct AppTokenClaims {
    aud: String,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    aio: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_displayname: Option<String>,
    appid: String,
    appidacr: &'static str,
    azp: String,
    azpacr: &'static str,
    idp: String,
    idtyp: &'static str,
    oid: String,
    rh: String,
    sub: String,
    tid: String,
    uti: String,
    ver: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    xms_cc: Option<[&'static str; 1]>,
}

impl AppTokenClaims {
    pub fn new(app: &Application, tenant: &str, resource: &str, now: i64, lifetime: i64) -> Self {
        let issuer = format!("https://sts.windows.net/{tenant}/");
        let principal = service_principal_id(app.client_id(), tenant);
        Self {
            aud: resource.to_owned(),
            iss: issuer.clone(),
            iat: now - BACKDATE_SECS,
            nbf: now - BACKDATE_SECS,
            exp: now.saturating_add(lifetime),
            aio: STANDARD.encode(random_bytes::<33>()),
            app_displayname: app.display_name.clone(),
            appid: app.client_id().to_owned(),
            appidacr: "1",
            azp: app.client_id().to_owned(),
            azpacr: "1",
            idp: issuer,
            idtyp: "app",
            oid: principal.clone(),
            rh: format!("0.{}.", URL_SAFE_NO_PAD.encode(random_bytes::<32>())),
            sub: principal,
            tid: tenant.to_owned(),
            uti: URL_SAFE_NO_PAD.encode(random_bytes::<16>()),
            ver: "1.0",
            xms_cc: None,
        }
    }

    /// Marks the token as issued to a CAE-capable client.
    pub fn with_cae(mut self, cae: bool) -> Self {
        self.xms_cc = cae.then_some(["CP1"]);
        self
    }
}

/// The service principal is per app and tenant in Entra, and its object id is stable; a
/// digest of both keeps it stable across emulator restarts too.
pub(crate) fn service_principal_id(client_id: &str, tenant: &str) -> String {
    let digest = Sha256::digest(format!(
        "service-principal:{}:{}",
        client_id.to_ascii_lowercase(),
        tenant.to_ascii_lowercase()
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    for chunk in bytes.chunks_mut(16) {
        let random = uuid::Uuid::new_v4();
        let source = random.as_bytes();
        chunk.copy_from_slice(&source[..chunk.len()]);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_ids_are_stable_per_app_and_tenant() {
        let a = service_principal_id("app", "t1");
        assert_eq!(a, service_principal_id("APP", "T1"));
        assert_ne!(a, service_principal_id("app", "t2"));
        assert!(uuid::Uuid::try_parse(&a).is_ok());
    }

    #[test]
    fn claims_shape() {
        let app = Application::confidential("c1").display_name("demo");
        let claims = serde_json::to_value(AppTokenClaims::new(&app, "t1", "https://x", 1000, 3599))
            .expect("serializes");
        assert_eq!(claims["aud"], "https://x");
        assert_eq!(claims["iss"], "https://sts.windows.net/t1/");
        assert_eq!(claims["exp"], 4599);
        assert_eq!(claims["nbf"], 700);
        assert_eq!(claims["appid"], "c1");
        assert_eq!(claims["azp"], "c1");
        assert_eq!(claims["oid"], claims["sub"]);
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(claims["ver"], "1.0");
        assert_eq!(claims["app_displayname"], "demo");
    }
}

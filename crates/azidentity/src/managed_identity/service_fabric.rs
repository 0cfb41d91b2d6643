//! Service Fabric: an https endpoint whose certificate no public CA signed. The host names the
//! certificate by its SHA-1 thumbprint, and that pin is the only trust anchor; verification is
//! never turned off (async Python does turn it off; MSAL pins, and so do we).

use std::sync::Arc;

use super::source::{
    LocalEndpoint, MiSource, NAME, endpoint_url, secret_header, user_assigned_unsupported,
};
use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::pipeline::Outgoing;
use crate::platform::{HttpClient, TransportError};
use crate::{Env, EnvironmentVariables as Vars, Error, Platform};

const API_VERSION: &str = "2019-07-01-preview";
/// Only the system-assigned identity is asked for, so no selector is ever sent.
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "mi_res_id",
};

pub(crate) struct ServiceFabric {
    local: LocalEndpoint,
    thumbprint: [u8; 20],
}

impl std::fmt::Debug for ServiceFabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFabric")
            .field("endpoint", &self.endpoint())
            .field("thumbprint", &hex(&self.thumbprint))
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MSAL's normalisation: spaces, tabs, line breaks and colons are dropped; 40 hex digits remain.
pub(crate) fn parse_thumbprint(text: &str) -> Option<[u8; 20]> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b':'))
        .collect();
    if digits.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in digits.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

impl ServiceFabric {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        if id.is_user_assigned() {
            return Err(user_assigned_unsupported(
                ManagedIdentitySource::ServiceFabric,
                &id,
            ));
        }
        let url = endpoint_url(env, Vars::IDENTITY_ENDPOINT, true)?;
        let thumbprint = env
            .non_empty(Vars::IDENTITY_SERVER_THUMBPRINT)
            .as_deref()
            .and_then(parse_thumbprint)
            .ok_or_else(|| {
                Error::config(
                    NAME,
                    "IDENTITY_SERVER_THUMBPRINT must be a SHA-1 certificate thumbprint (40 hex \
                     digits)",
                )
            })?;
        let secret = secret_header(env, Vars::IDENTITY_HEADER, "secret")?;
        Ok(ServiceFabric {
            local: LocalEndpoint::new(url, id, Some(API_VERSION), SELECTORS).with_secret(secret),
            thumbprint,
        })
    }
}

impl MiSource for ServiceFabric {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::ServiceFabric
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        self.local.get(resource)
    }

    fn transport(&self, platform: &Platform) -> Result<Arc<dyn HttpClient>, String> {
        platform.pinned_http_client(self.thumbprint)
    }

    fn transport_error(&self, error: TransportError) -> Error {
        Error::failed(
            NAME,
            format!(
                "Service Fabric managed identity at {} could not be reached securely: {error}. \
                 The endpoint's certificate must have the SHA-1 thumbprint in \
                 IDENTITY_SERVER_THUMBPRINT ({}); a mismatch means another server answered",
                self.endpoint(),
                hex(&self.thumbprint)
            ),
        )
        .with_source(error)
    }

    fn advice(&self) -> &'static str {
        "Check the application's managed identity settings in the cluster manifest"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprints() {
        let t = parse_thumbprint("AB:cd:01 23 45\t67\r\n89abcdef0123456789abcdef0123").unwrap();
        assert_eq!(hex(&t), "abcd0123456789abcdef0123456789abcdef0123");
        assert!(parse_thumbprint("abcd").is_none());
        assert!(parse_thumbprint(&"g".repeat(40)).is_none());
        assert!(parse_thumbprint(&"é".repeat(20)).is_none());
    }

    #[test]
    fn construction_rules() {
        let good = [
            (
                "IDENTITY_ENDPOINT",
                "https://127.0.0.1:2377/metadata/identity/oauth2/token",
            ),
            ("IDENTITY_HEADER", "sf-secret"),
            (
                "IDENTITY_SERVER_THUMBPRINT",
                "0123456789abcdef0123456789abcdef01234567",
            ),
        ];
        let env = Env::from_pairs(good);
        let source = ServiceFabric::new(&env, ManagedIdentityId::SystemAssigned).unwrap();
        let r = source.request("https://vault.azure.net");
        assert!(
            r.url.ends_with(
                "?api-version=2019-07-01-preview&resource=https%3A%2F%2Fvault.azure.net"
            )
        );
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "secret" && v == "sf-secret")
        );
        assert!(!format!("{source:?}").contains("sf-secret"));
        let e = ServiceFabric::new(&env, ManagedIdentityId::ObjectId("o".into())).unwrap_err();
        assert!(e.message().contains("does not support selecting"), "{e}");
        let http = Env::from_pairs([good[0], good[1], good[2]].map(|(k, v)| {
            (
                k,
                if k == "IDENTITY_ENDPOINT" {
                    "http://127.0.0.1:2377/"
                } else {
                    v
                },
            )
        }));
        assert!(ServiceFabric::new(&http, ManagedIdentityId::SystemAssigned).is_err());
        let bad = Env::from_pairs([good[0], good[1], ("IDENTITY_SERVER_THUMBPRINT", "nope")]);
        let e = ServiceFabric::new(&bad, ManagedIdentityId::SystemAssigned).unwrap_err();
        assert!(e.message().contains("IDENTITY_SERVER_THUMBPRINT"));
    }
}

//! An emulated Key Vault for the official `SecretClient`: the 401 challenge Key Vault sends to a
//! request without a token, then bearer tokens checked with the emulator (signature against its
//! signing key, expiry, audience) before a secret is returned.
#![allow(dead_code)]

use std::sync::Arc;

use azidentity_emulator::RunningEmulator;
use serde_json::json;

use super::https_stub::{HttpsStub, StubRequest, StubResponse};

/// The vault's DNS name. The SDK checks that the challenge's resource (vault.azure.net) is a
/// suffix of the vault's host, so the stub is reached under this name, which the transport
/// resolves to 127.0.0.1 (`HttpOptions::resolve_overrides`): no DNS query, no packet elsewhere.
pub const VAULT_HOST: &str = "stub-vault.vault.azure.net";
pub const RESOURCE: &str = "https://vault.azure.net";
pub const SECRET_NAME: &str = "db-password";
pub const SECRET_VALUE: &str = "the-vaulted-value-5150";

pub async fn start(emu: Arc<RunningEmulator>, tenant: &str) -> HttpsStub {
    let authorization = format!("{}/{tenant}", emu.authority_host());
    HttpsStub::start(&[VAULT_HOST], move |request| {
        answer(&emu, &authorization, request)
    })
    .await
}

fn answer(emu: &RunningEmulator, authorization: &str, request: &StubRequest) -> StubResponse {
    let challenge = format!(r#"Bearer authorization="{authorization}", resource="{RESOURCE}""#);
    let Some(token) = request.bearer() else {
        return StubResponse::json(
            401,
            &json!({"error": {"code": "Unauthorized",
            "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
        )
        .with_header("www-authenticate", &challenge);
    };
    let claims = match emu.verify_token(token) {
        Ok(claims) => claims,
        Err(why) => {
            return StubResponse::json(
                401,
                &json!({"error": {"code": "Unauthorized",
                "message": format!("AKV10032: Invalid token: {why}")}}),
            )
            .with_header("www-authenticate", &challenge);
        }
    };
    if claims["aud"] != RESOURCE {
        return StubResponse::json(
            401,
            &json!({"error": {"code": "Unauthorized",
            "message": format!("AKV10022: Invalid audience {}", claims["aud"])}}),
        )
        .with_header("www-authenticate", &challenge);
    }
    let path = request.target.split('?').next().unwrap_or_default();
    if request.method == "GET" && path.trim_end_matches('/') == format!("/secrets/{SECRET_NAME}") {
        return StubResponse::json(
            200,
            &json!({
                "value": SECRET_VALUE,
                "id": format!("https://{VAULT_HOST}/secrets/{SECRET_NAME}/0123456789abcdef"),
                "attributes": {"enabled": true, "created": 1_700_000_000, "updated": 1_700_000_000,
                               "recoveryLevel": "Recoverable+Purgeable"}
            }),
        );
    }
    StubResponse::json(
        404,
        &json!({"error": {"code": "SecretNotFound", "message": "not in this stub"}}),
    )
}

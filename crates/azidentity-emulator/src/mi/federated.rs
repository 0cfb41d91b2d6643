//! Federated identity credentials: the emulator's test OIDC issuers (Kubernetes service
//! accounts, Azure DevOps service connections) sign JWTs with the emulator key, and the Entra
//! token endpoint accepts them as client assertions of apps that trust that issuer and subject.

use std::sync::Mutex;
use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use crate::config::Application;
use crate::entra::SKEW_SECS;
use crate::entra::error::EntraError;
use crate::entra::jwt;
use crate::state::Shared;

/// The issuer of the emulator's Kubernetes service account tokens.
pub const KUBERNETES_ISSUER: &str = "https://oidc.emulator.azidentity.invalid/kubernetes/";
/// The default service account subject of workload identity token files.
pub const KUBERNETES_SUBJECT: &str = "system:serviceaccount:default:workload-identity-sa";
/// The audience Entra requires of federated assertions.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The service connection the emulated Azure Pipelines job may use.
pub const AZURE_PIPELINES_SERVICE_CONNECTION_ID: &str = "6f3e2d1c-0b9a-4887-a665-544332211000";
/// The Azure DevOps organization id in the emulated pipeline's issuer.
pub(crate) const AZURE_DEVOPS_ORG_ID: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";

#[derive(Debug, Clone)]
struct FederatedCredential {
    client_id: String,
    issuer: String,
    subject: String,
}

/// Managed identity state kept with the emulator's shared state.
#[derive(Debug, Default)]
pub(crate) struct MiState {
    federated: Mutex<Vec<FederatedCredential>>,
}

impl MiState {
    pub(crate) fn add_federated_credential(&self, client_id: &str, issuer: &str, subject: &str) {
        let mut all = self.federated.lock().unwrap_or_else(|p| p.into_inner());
        let credential = FederatedCredential {
            client_id: client_id.to_owned(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        };
        let known = all.iter().any(|c| {
            c.client_id.eq_ignore_ascii_case(client_id)
                && c.issuer == issuer
                && c.subject == subject
        });
        if !known {
            all.push(credential);
        }
    }

    fn trusts(&self, client_id: &str, issuer: &str, subject: &str) -> bool {
        self.federated
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|c| {
                c.client_id.eq_ignore_ascii_case(client_id)
                    && c.issuer == issuer
                    && c.subject == subject
            })
    }
}

/// A JWT from a test OIDC issuer, signed with the emulator's key.
pub(crate) fn issue(shared: &Shared, issuer: &str, subject: &str, lifetime: Duration) -> String {
    let now = shared.now();
    let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
    let claims = json!({
        "aud": [TOKEN_EXCHANGE_AUDIENCE],
        "iss": issuer,
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(lifetime),
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    shared.signer.sign(&claims).unwrap_or_default()
}

fn entra(status: StatusCode, error: &'static str, code: u32, message: String) -> EntraError {
    EntraError {
        status,
        error,
        code,
        message,
    }
}

/// The token endpoint's check of a federated `client_assertion` for `client_id` (its type was
/// checked by the client authentication). An assertion not signed by the emulator's key is
/// not a federated one: it gets the answer for an unknown signing certificate, as before
/// federated credentials existed.
pub(crate) fn check_assertion(
    shared: &Shared,
    app: &Application,
    assertion: &str,
) -> Result<(), EntraError> {
    let client_id = app.client_id();
    let ours = jwt::header(assertion).is_some_and(|header| {
        header.get("kid").and_then(Value::as_str) == Some(shared.signer.kid())
    });
    if !ours {
        return Err(EntraError::certificate_not_registered());
    }
    let now = shared.now();
    let claims = shared.signer.verify(assertion, now).map_err(|why| {
        if why.contains("expired") {
            entra(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                700024,
                format!("Client assertion is not within its valid time range. {why}."),
            )
        } else {
            entra(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.".to_owned(),
            )
        }
    })?;
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now.saturating_add(SKEW_SECS))
    {
        return Err(entra(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range (nbf is in the future)."
                .to_owned(),
        ));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    let (issuer, subject) = (text("iss"), text("sub"));
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let registered = app
        .federated
        .iter()
        .any(|(i, s)| i == issuer && s == subject);
    if !audiences.contains(&TOKEN_EXCHANGE_AUDIENCE)
        || !(registered || shared.mi.trusts(client_id, issuer, subject))
    {
        return Err(entra(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                audiences.join(",")
            ),
        ));
    }
    Ok(())
}

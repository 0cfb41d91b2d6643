//! Continuous access evaluation: a CAE-capable client (claims `xms_cc: CP1`) gets long-lived
//! tokens that a resource rejects with a claims challenge once the subject's tokens are
//! revoked; a token request carrying that challenge gets a fresh token.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::BACKDATE_SECS;
use super::jwt::Jwt;
use crate::state::Shared;

/// Whether the request's `claims` ask for the CP1 client capability. The value is compared
/// without regard to case: msal-node sends `cp1`, which Entra honours.
pub(crate) fn wants_cae(claims: Option<&str>) -> bool {
    let Some(Ok(Value::Object(root))) = claims.map(serde_json::from_str::<Value>) else {
        return false;
    };
    root.get("access_token")
        .and_then(|a| a.get("xms_cc"))
        .and_then(|x| x.get("values"))
        .and_then(Value::as_array)
        .is_some_and(|values| {
            values
                .iter()
                .any(|v| v.as_str().is_some_and(|c| c.eq_ignore_ascii_case("CP1")))
        })
}

/// The second a token for `subject` is issued at: after any revocation of the subject, so
/// that a token issued in the same second as a revocation is not itself revoked.
pub(crate) fn issue_time(shared: &Shared, subject: &str, now: i64) -> i64 {
    match shared.entra.revoked_at(subject) {
        Some(revoked) if revoked >= now => revoked + 1,
        _ => now,
    }
}

/// What a resource answers for a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceAnswer {
    /// 200: the token is valid; its claims.
    Accepted(Value),
    /// 401 with this `WWW-Authenticate` header value.
    Rejected(String),
}

/// A resource's check of a token: signature and expiry, then CAE revocation. Revoked CAE
/// tokens get an `insufficient_claims` challenge; revoked other tokens a plain
/// `invalid_token` (they are short-lived and not subject to CAE in Entra).
pub(crate) fn check(shared: &Shared, token: &str, now: i64) -> ResourceAnswer {
    let claims = match shared.signer.verify(token, now) {
        Ok(claims) => claims,
        Err(why) => {
            return ResourceAnswer::Rejected(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                why.replace('"', "'")
            ));
        }
    };
    let subject = claims.get("oid").and_then(Value::as_str).unwrap_or("");
    let issued = claims.get("iat").and_then(Value::as_i64).unwrap_or(0) + BACKDATE_SECS;
    let revoked = shared.entra.revoked_at(subject);
    let Some(revoked) = revoked.filter(|r| issued <= *r) else {
        return ResourceAnswer::Accepted(claims);
    };
    let cae = claims
        .get("xms_cc")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|c| c.as_str() == Some("CP1")));
    if !cae {
        return ResourceAnswer::Rejected(
            "Bearer error=\"invalid_token\", error_description=\"The token has been revoked\""
                .to_owned(),
        );
    }
    let challenge =
        format!(r#"{{"access_token":{{"nbf":{{"essential":true,"value":"{revoked}"}}}}}}"#);
    let authority = format!("{}/common/oauth2/authorize", shared.authority_host);
    ResourceAnswer::Rejected(format!(
        "Bearer realm=\"\", authorization_uri=\"{authority}\", error=\"insufficient_claims\", claims=\"{}\"",
        STANDARD.encode(challenge)
    ))
}

/// The object id a revocation names: a user's name, an app's client id (its service
/// principal in every tenant), or an object id as given.
pub(crate) fn subjects(shared: &Shared, name: &str) -> Vec<String> {
    let config = shared.config();
    if let Some(user) = config.user(name) {
        return vec![super::delegated::user_object_id(user)];
    }
    if let Some(app) = config.app(name) {
        return config
            .tenants
            .iter()
            .map(|t| super::claims::service_principal_id(app.client_id(), t))
            .collect();
    }
    vec![name.to_owned()]
}

/// The `oid` of a token, for tests that revoke exactly one subject.
pub(crate) fn subject_of(token: &str) -> Option<String> {
    Jwt::parse(token)?.claim_str("oid").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1_is_found_in_claims() {
        assert!(wants_cae(Some(
            r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#
        )));
        assert!(wants_cae(Some(
            r#"{"access_token":{"nbf":{"essential":true},"xms_cc":{"values":["CP1","X"]}}}"#
        )));
        assert!(!wants_cae(Some(
            r#"{"access_token":{"nbf":{"essential":true}}}"#
        )));
        // msal-node's spelling.
        assert!(wants_cae(Some(
            r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#
        )));
        assert!(!wants_cae(Some("not json")));
        assert!(!wants_cae(None));
    }
}

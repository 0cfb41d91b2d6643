//! Client assertions signed with a certificate (`private_key_jwt`): the thumbprint header must
//! name a certificate registered on the app (or, for subject name / issuer authentication, the
//! `x5c` chain must lead to a trusted CA), the signature must verify with that certificate's
//! key, and the claims must be for this client, this token endpoint and now.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest;
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::SKEW_SECS;
use super::error::EntraError;
use super::jwt::{Jwt, decode_segment};
use crate::config::Application;
use crate::state::Shared;

/// Whether the assertion names a certificate (its header has a thumbprint or a chain); other
/// assertions are federated tokens.
pub(crate) fn names_certificate(assertion: &str) -> bool {
    Jwt::parse(assertion).is_some_and(|jwt| {
        ["x5t", "x5t#S256", "x5c"]
            .iter()
            .any(|h| jwt.header.get(*h).is_some())
    })
}

/// Checks a certificate assertion of `app`. `audiences` are the URLs the request may have been
/// addressed as (the token endpoint it was sent to).
pub(crate) fn verify(
    shared: &Shared,
    app: &Application,
    assertion: &str,
    audiences: &[String],
    now: i64,
) -> Result<(), EntraError> {
    let jwt = Jwt::parse(assertion)
        .ok_or_else(|| EntraError::malformed_jwt("The client assertion is not a JWT."))?;
    let alg = jwt.header_str("alg").unwrap_or("");
    if alg != "RS256" && alg != "PS256" {
        return Err(EntraError::malformed_jwt(&format!(
            "Unsupported signing algorithm '{alg}'; use RS256 or PS256."
        )));
    }
    match signing_key(app, &jwt, now)? {
        Some(public_key) => {
            if !jwt.verify_rsa(alg, &public_key) {
                return Err(EntraError::assertion_signature_invalid(
                    "The provided signature value did not match the expected signature value.",
                ));
            }
        }
        None => tracing::warn!(
            client_id = app.client_id(),
            "a client assertion names a certificate registered by thumbprint only and sends no \
             x5c: its signature cannot be checked"
        ),
    }
    let audience = jwt.claim_str("aud").unwrap_or("");
    let normalise = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
    if !audiences
        .iter()
        .any(|a| normalise(a) == normalise(audience))
    {
        return Err(EntraError::assertion_audience(audience));
    }
    let client_id = app.client_id();
    let is_client = |claim: &str| {
        jwt.claim_str(claim)
            .is_some_and(|v| v.eq_ignore_ascii_case(client_id))
    };
    if !is_client("iss") || !is_client("sub") {
        return Err(EntraError::assertion_client_mismatch());
    }
    let Some(exp) = jwt.claim_i64("exp") else {
        return Err(EntraError::malformed_jwt(
            "The client assertion has no exp claim.",
        ));
    };
    // `exp` is the client's: saturating, so a huge value is just "not expired".
    if exp.saturating_add(SKEW_SECS) < now {
        return Err(EntraError::assertion_time_range(&format!(
            "Current time: {now}, expiry time of assertion {exp}."
        )));
    }
    if let Some(nbf) = jwt.claim_i64("nbf")
        && nbf > now.saturating_add(SKEW_SECS)
    {
        return Err(EntraError::assertion_time_range(&format!(
            "Current time: {now}, assertion valid from {nbf}."
        )));
    }
    let Some(jti) = jwt.claim_str("jti").filter(|j| !j.is_empty()) else {
        return Err(EntraError::malformed_jwt(
            "The client assertion has no jti claim.",
        ));
    };
    let first_use = shared.entra.first_use_of_jti(
        &format!("{client_id}:{jti}"),
        exp.saturating_add(SKEW_SECS),
        now,
    );
    if !first_use && shared.config().refuse_assertion_replay {
        return Err(EntraError::assertion_replayed());
    }
    Ok(())
}

/// The RSA public key (`RSAPublicKey` DER) the assertion must be signed with; `None` for a
/// certificate registered by thumbprint alone when the client sent no `x5c` to check with.
fn signing_key(app: &Application, jwt: &Jwt<'_>, now: i64) -> Result<Option<Vec<u8>>, EntraError> {
    let by_sha256 = jwt.header_str("x5t#S256").and_then(decode_segment);
    let by_sha1 = jwt.header_str("x5t").and_then(decode_segment);
    let thumbprint_of = |der: &[u8]| match (&by_sha256, &by_sha1) {
        (Some(wanted), _) => digest::digest(&digest::SHA256, der).as_ref() == wanted.as_slice(),
        (None, Some(wanted)) => {
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref() == wanted.as_slice()
        }
        (None, None) => false,
    };
    if let Some(registered) = app.certificates.iter().find(|der| thumbprint_of(der)) {
        return rsa_key(registered)
            .map(Some)
            .ok_or_else(|| EntraError::assertion_signature_invalid("The key is not an RSA key."));
    }
    let named = |registered: &Vec<u8>| match registered.len() {
        32 => by_sha256.as_ref() == Some(registered),
        _ => by_sha1.as_ref() == Some(registered),
    };
    if app.thumbprints.iter().any(named) {
        return match x5c_leaf(jwt)? {
            None => Ok(None),
            Some(leaf) if thumbprint_of(&leaf) => rsa_key(&leaf).map(Some).ok_or_else(|| {
                EntraError::assertion_signature_invalid("The key is not an RSA key.")
            }),
            Some(_) => Err(EntraError::subject_name_issuer(
                "The thumbprint header does not match the first certificate of x5c.",
            )),
        };
    }
    if !app.trusted_issuers.is_empty()
        && let Some(leaf) = x5c_leaf(jwt)?
    {
        if !thumbprint_of(&leaf) {
            return Err(EntraError::subject_name_issuer(
                "The thumbprint header does not match the first certificate of x5c.",
            ));
        }
        return trusted_by_issuer(app, &leaf, now).map(Some);
    }
    let shown = by_sha256.or(by_sha1).unwrap_or_default();
    let hex: String = shown.iter().map(|b| format!("{b:02X}")).collect();
    Err(EntraError::assertion_key_not_found(app.client_id(), &hex))
}

/// The DER of the first certificate of the `x5c` header, if there is one.
fn x5c_leaf(jwt: &Jwt<'_>) -> Result<Option<Vec<u8>>, EntraError> {
    let Some(chain) = jwt.header.get("x5c").and_then(|v| v.as_array()) else {
        return Ok(None);
    };
    chain
        .first()
        .and_then(|c| c.as_str())
        .and_then(|c| STANDARD.decode(c).ok())
        .map(Some)
        .ok_or_else(|| EntraError::malformed_jwt("The x5c header is not base64 DER."))
}

/// Subject name / issuer authentication: the leaf must be issued by a trusted CA, carry the
/// trusted subject, and be within its validity period.
fn trusted_by_issuer(app: &Application, leaf_der: &[u8], now: i64) -> Result<Vec<u8>, EntraError> {
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|_| EntraError::malformed_jwt("The x5c leaf certificate is not X.509."))?;
    let subject = leaf.subject().to_string();
    for (ca_der, trusted_subject) in &app.trusted_issuers {
        let Ok((_, ca)) = X509Certificate::from_der(ca_der) else {
            continue;
        };
        if subject != *trusted_subject || leaf.issuer() != ca.subject() {
            continue;
        }
        if leaf.verify_signature(Some(ca.public_key())).is_err() {
            return Err(EntraError::subject_name_issuer(
                "The certificate chain is not valid: the leaf is not signed by the trusted issuer.",
            ));
        }
        let validity = leaf.validity();
        if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
            return Err(EntraError::subject_name_issuer(
                "The signing certificate is not within its validity period.",
            ));
        }
        return rsa_key(leaf_der)
            .ok_or_else(|| EntraError::assertion_signature_invalid("The key is not an RSA key."));
    }
    Err(EntraError::subject_name_issuer(&format!(
        "A matching trusted authority policy was not found for the subject name '{subject}'."
    )))
}

fn rsa_key(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

//! The client assertion a certificate credential sends: a JWT signed with the certificate's key.
//!
//! PS256 with an `x5t#S256` header, as Python's `AadClient` signs; ADFS only understands RS256
//! with a SHA-1 `x5t`. Segments are base64url without padding (RFC 7515); Entra accepts both.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::certificate::ClientCertificate;
use crate::{Error, Secret};

/// How long an assertion is valid. MSAL uses ten minutes; a new one is made for every request.
const LIFETIME_SECS: i64 = 600;

/// Which signature and thumbprint header to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signature {
    /// PS256 and `x5t#S256` (Entra ID).
    Ps256,
    /// RS256 and `x5t` (ADFS).
    Rs256,
}

impl Signature {
    pub(crate) fn for_tenant(tenant: &str) -> Self {
        if tenant.eq_ignore_ascii_case("adfs") {
            Signature::Rs256
        } else {
            Signature::Ps256
        }
    }
}

/// A signed assertion for `client_id` whose audience is `audience` (the token endpoint).
pub(crate) fn sign(
    credential: &'static str,
    certificate: &ClientCertificate,
    client_id: &str,
    audience: &str,
    signature: Signature,
    send_chain: bool,
    now: OffsetDateTime,
) -> Result<Secret, Error> {
    let mut header = Map::new();
    match signature {
        Signature::Ps256 => {
            header.insert("alg".into(), "PS256".into());
            header.insert(
                "x5t#S256".into(),
                URL_SAFE_NO_PAD
                    .encode(certificate.sha256_thumbprint())
                    .into(),
            );
        }
        Signature::Rs256 => {
            header.insert("alg".into(), "RS256".into());
            header.insert(
                "x5t".into(),
                URL_SAFE_NO_PAD.encode(certificate.sha1_thumbprint()).into(),
            );
        }
    }
    header.insert("typ".into(), "JWT".into());
    if send_chain {
        let chain: Vec<Value> = certificate
            .chain_der()
            .map(|der| Value::String(STANDARD.encode(der)))
            .collect();
        header.insert("x5c".into(), Value::Array(chain));
    }
    let now = now.unix_timestamp();
    let claims = json!({
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now,
        "exp": now + LIFETIME_SECS,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = certificate.key();
    let mut signed = vec![0; key.public().modulus_len()];
    let padding: &'static dyn ring::signature::RsaEncoding = match signature {
        Signature::Ps256 => &RSA_PSS_SHA256,
        Signature::Rs256 => &RSA_PKCS1_SHA256,
    };
    key.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut signed)
        .map_err(|_| {
            Error::failed(
                credential,
                format!(
                    "signing the client assertion with the certificate {} failed; check that \
                     its key is an RSA key of 2048 bits or more that matches the certificate",
                    crate::certificate::hex_upper(&certificate.sha1_thumbprint())
                ),
            )
        })?;
    Ok(Secret::new(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signed)
    )))
}

//! Reading JWTs a client sends: segments in base64url with or without padding (Python's async
//! stack pads them), the JOSE header and claims as JSON, RSA signature checks.

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey, VerificationAlgorithm,
};
use serde_json::Value;

/// A JWT split into its parts; nothing is verified yet.
pub(crate) struct Jwt<'a> {
    pub header: Value,
    pub claims: Value,
    signing_input: &'a str,
    signature: Vec<u8>,
}

/// base64url, padded or not.
pub(crate) fn decode_segment(segment: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(segment))
        .ok()
}

/// The JOSE header alone (the key is chosen by it before the rest is read).
pub(crate) fn header(jwt: &str) -> Option<Value> {
    let value: Value = serde_json::from_slice(&decode_segment(jwt.split('.').next()?)?).ok()?;
    value.is_object().then_some(value)
}

impl<'a> Jwt<'a> {
    pub fn parse(jwt: &'a str) -> Option<Self> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let json = |segment: &str| -> Option<Value> {
            let value: Value = serde_json::from_slice(&decode_segment(segment)?).ok()?;
            value.is_object().then_some(value)
        };
        Some(Jwt {
            header: json(header)?,
            claims: json(claims)?,
            signing_input: &jwt[..header.len() + 1 + claims.len()],
            signature: decode_segment(signature)?,
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim; PyJWT writes floats.
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
    }

    /// Checks the signature with an RSA public key (`RSAPublicKey` DER) for `alg`.
    pub fn verify_rsa(&self, alg: &str, rsa_public_key: &[u8]) -> bool {
        let algorithm: &dyn VerificationAlgorithm = match alg {
            "RS256" => &RSA_PKCS1_2048_8192_SHA256,
            "PS256" => &RSA_PSS_2048_8192_SHA256,
            _ => return false,
        };
        UnparsedPublicKey::new(algorithm, rsa_public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_and_unpadded_segments() {
        assert_eq!(decode_segment("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_segment("YQ==").as_deref(), Some(&b"a"[..]));
        let padded = "eyJhbGciOiAiUFMyNTYifQ==.eyJhIjogMX0=.AAA=";
        let jwt = Jwt::parse(padded).expect("parses");
        assert_eq!(jwt.header_str("alg"), Some("PS256"));
        assert_eq!(jwt.claim_i64("a"), Some(1));
        assert!(Jwt::parse("a.b").is_none());
        assert!(
            Jwt::parse("W10.e30.AA").is_none(),
            "a header that is not an object"
        );
    }
}

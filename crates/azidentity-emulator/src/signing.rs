//! The emulator's token signing key: RS256 JWTs, their verification, and the JWK.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::rsa::{KeyPair, PublicKeyComponents};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// A throw-away RSA-2048 key published with the emulator so that tokens are real RS256 JWTs.
/// ring cannot generate RSA keys, hence a fixed one. It is a public test key: nothing outside
/// the emulator's own tests may ever trust it.
const TEST_SIGNING_KEY_PEM: &str = include_str!("test_signing_key.pem");

pub(crate) struct Signer {
    key: KeyPair,
    public: PublicKeyComponents<Vec<u8>>,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    pub fn new() -> Result<Self, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(TEST_SIGNING_KEY_PEM.as_bytes())
            .map_err(|e| format!("embedded signing key is not PKCS#8 PEM: {e}"))?;
        let key = KeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| format!("embedded signing key rejected: {e}"))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(key.public());
        // Entra's kids are opaque strings; a digest of the modulus keeps ours stable per key.
        let digest = Sha256::digest(&public.n);
        let kid = URL_SAFE_NO_PAD.encode(&digest[..20]);
        Ok(Self {
            key,
            public,
            kid,
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: &impl Serialize) -> Result<String, String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid});
        let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Checks the header, the RS256 signature and `exp` against `now` (Unix seconds), and
    /// returns the claims.
    pub fn verify(&self, jwt: &str, now: i64) -> Result<Value, String> {
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("a JWT has exactly three dot-separated parts".to_owned());
        };
        let header: Value = decode_json(header, "header")?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(format!("unexpected alg in header {header}"));
        }
        if header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
            return Err(format!("unknown kid in header {header}"));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|e| format!("signature is not base64url: {e}"))?;
        let signing_input = &jwt[..header_and_claims_len(jwt)];
        self.public
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                signing_input.as_bytes(),
                &signature,
            )
            .map_err(|_| "signature does not verify with the emulator key".to_owned())?;
        let claims: Value = decode_json(claims, "claims")?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or("claims have no integer exp")?;
        if exp <= now {
            return Err(format!("token expired at {exp} (now {now})"));
        }
        Ok(claims)
    }

    /// The public key as a JWKS entry, in the shape of Entra's `discovery/v2.0/keys`.
    pub fn jwk(&self, issuer: &str) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.public.n),
            "e": URL_SAFE_NO_PAD.encode(&self.public.e),
            "issuer": issuer,
        })
    }
}

fn header_and_claims_len(jwt: &str) -> usize {
    jwt.rfind('.').unwrap_or(jwt.len())
}

fn decode_json(segment: &str, what: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| format!("{what} is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{what} is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify() {
        let signer = Signer::new().expect("key loads");
        let jwt = signer
            .sign(&json!({"exp": 2000, "sub": "x"}))
            .expect("signs");
        let claims = signer.verify(&jwt, 1000).expect("verifies");
        assert_eq!(claims["sub"], "x");
        assert!(signer.verify(&jwt, 2000).unwrap_err().contains("expired"));
    }

    #[test]
    fn tampering_is_detected() {
        let signer = Signer::new().expect("key loads");
        let jwt = signer
            .sign(&json!({"exp": 2000, "sub": "x"}))
            .expect("signs");
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"exp":2000,"sub":"y"}"#);
        let mut parts: Vec<&str> = jwt.split('.').collect();
        parts[1] = &forged_claims;
        assert!(signer.verify(&parts.join("."), 1000).is_err());
        assert!(signer.verify("a.b", 1000).is_err());
        assert!(signer.verify("", 1000).is_err());
        assert!(signer.verify("!!.??.**", 1000).is_err());
    }

    #[test]
    fn jwk_has_rsa_fields() {
        let signer = Signer::new().expect("key loads");
        let jwk = signer.jwk("https://issuer");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], signer.kid());
    }
}

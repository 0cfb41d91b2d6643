//! The emulator's token signing key: RS256 JWTs, their verification, and the JWK.

use std::sync::OnceLock;

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
use zeroize::Zeroizing;

/// A new RSA-2048 key as PKCS#8 PEM (ring cannot generate RSA keys).
fn generate_pem() -> Result<Zeroizing<String>, String> {
    use rsa::pkcs8::{EncodePrivateKey as _, LineEnding};
    let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
        .map_err(|e| format!("RSA key generation failed: {e}"))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| format!("the generated key could not be encoded: {e}"))?;
    Ok(Zeroizing::new(pem.to_string()))
}

/// Signs the emulator's tokens with an RS256 key of its own: made per run (once per process,
/// see [`Signer::generate`]) or kept in the state directory, never a key from the repository.
pub(crate) struct Signer {
    key: KeyPair,
    /// PKCS#8 PEM of the key, for the state directory.
    pem: Zeroizing<String>,
    public: PublicKeyComponents<Vec<u8>>,
    kid: String,
    rng: SystemRandom,
}

/// RSA key generation takes a noticeable fraction of a second, and test suites start hundreds
/// of emulators: one generated key serves every emulator of a process that has no state
/// directory. Tokens of one emulator then verify with another of the same process, which no
/// real deployment could notice.
static PROCESS_KEY: OnceLock<Zeroizing<String>> = OnceLock::new();

impl Signer {
    /// The process's generated key (made on first use).
    pub fn generate() -> Result<Self, String> {
        if let Some(pem) = PROCESS_KEY.get() {
            return Self::from_pem(pem);
        }
        let pem = generate_pem()?;
        let pem = PROCESS_KEY.get_or_init(|| pem);
        Self::from_pem(pem)
    }

    /// A key saved by an earlier run (PKCS#8 PEM).
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("the signing key is not PKCS#8 PEM: {e}"))?;
        let key = KeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| format!("the signing key is not a usable RSA key: {e}"))?;
        let public = PublicKeyComponents::<Vec<u8>>::from(key.public());
        // Entra's kids are opaque strings; a digest of the modulus keeps ours stable per key.
        let digest = Sha256::digest(&public.n);
        let kid = URL_SAFE_NO_PAD.encode(&digest[..20]);
        Ok(Self {
            key,
            pem: Zeroizing::new(pem.to_owned()),
            public,
            kid,
            rng: SystemRandom::new(),
        })
    }

    /// The key as PKCS#8 PEM.
    pub fn pem(&self) -> &str {
        &self.pem
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
        let signer = Signer::generate().expect("key");
        let jwt = signer
            .sign(&json!({"exp": 2000, "sub": "x"}))
            .expect("signs");
        let claims = signer.verify(&jwt, 1000).expect("verifies");
        assert_eq!(claims["sub"], "x");
        assert!(signer.verify(&jwt, 2000).unwrap_err().contains("expired"));
    }

    #[test]
    fn tampering_is_detected() {
        let signer = Signer::generate().expect("key");
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
    fn a_saved_key_signs_as_before() {
        let signer = Signer::generate().expect("key");
        let again = Signer::from_pem(signer.pem()).expect("loads");
        assert_eq!(again.kid(), signer.kid());
        let jwt = again.sign(&json!({"exp": 2000})).expect("signs");
        signer.verify(&jwt, 1000).expect("verifies");
        assert!(Signer::from_pem("not a key").is_err());
    }

    #[test]
    fn jwk_has_rsa_fields() {
        let signer = Signer::generate().expect("key");
        let jwk = signer.jwk("https://issuer");
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(jwk["kid"], signer.kid());
    }
}

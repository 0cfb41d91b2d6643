//! What the credential needs from a certificate: its thumbprints, its validity and whether it
//! holds the public half of the private key.

use ring::digest;
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::public_key::PublicKey;

/// A parsed certificate, kept as DER (what `x5c` carries and what thumbprints hash).
#[derive(Clone)]
pub(crate) struct CertInfo {
    pub der: Vec<u8>,
    pub subject: String,
    pub not_after: i64,
    /// The RSA modulus without leading zero bytes; `None` for other key types.
    pub rsa_modulus: Option<Vec<u8>>,
}

impl CertInfo {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| format!("a certificate could not be parsed ({e})"))?;
        let rsa_modulus = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => Some(strip_zeros(rsa.modulus).to_vec()),
            _ => None,
        };
        Ok(CertInfo {
            der: der.to_vec(),
            subject: cert.subject().to_string(),
            not_after: cert.validity().not_after.timestamp(),
            rsa_modulus,
        })
    }

    /// SHA-1 of the DER: the `x5t` header and the thumbprint shown in the Azure portal.
    pub(crate) fn sha1(&self) -> Vec<u8> {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.der)
            .as_ref()
            .to_vec()
    }

    /// SHA-256 of the DER: the `x5t#S256` header.
    pub(crate) fn sha256(&self) -> Vec<u8> {
        digest::digest(&digest::SHA256, &self.der).as_ref().to_vec()
    }
}

pub(crate) fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

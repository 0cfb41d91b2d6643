//! The emulator's CA and the server certificates it issues: the Entra server's (127.0.0.1,
//! localhost and extra DNS names), the Azure Pipelines endpoint's (the same), and Service
//! Fabric's (clients pin its thumbprint; JavaScript clients trust it through the CA).

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

const CA_NAME: &str = "azidentity emulator CA";

/// A certificate authority: its certificate (PEM) and what signs with its key.
pub(crate) struct Ca {
    pub pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate with its key.
pub(crate) struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

fn io_error(error: rcgen::Error) -> io::Error {
    io::Error::other(error)
}

/// The CA's own parameters: also what its issuer is rebuilt from when it is loaded from disk
/// (the issuer needs the name and key usages, not the certificate).
fn ca_params(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> io::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(io_error)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before;
    params.not_after = not_after;
    Ok(params)
}

impl Ca {
    /// A new CA valid from an hour ago (a client whose clock is slightly behind still accepts
    /// it) for `days`.
    pub fn generate(days: i64) -> io::Result<Self> {
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate().map_err(io_error)?;
        let params = ca_params(now - Duration::hours(1), now + Duration::days(days))?;
        let cert = params.self_signed(&key).map_err(io_error)?;
        Ok(Self {
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// A CA saved by an earlier run (`pem` and `key_pem` as [`Ca::generate`] made them).
    pub fn load(pem: &str, key_pem: &str) -> io::Result<Self> {
        let key = KeyPair::from_pem(key_pem).map_err(io_error)?;
        let now = OffsetDateTime::now_utc();
        let params = ca_params(now, now)?;
        Ok(Self {
            pem: pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A TLS server certificate for `names` (IP addresses or DNS names), valid like the CA's
    /// first issue: from an hour ago, for `days`.
    pub fn issue(&self, names: &[String], common_name: &str, days: i64) -> io::Result<ServerCert> {
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate().map_err(io_error)?;
        let mut params = CertificateParams::new(names.to_vec()).map_err(io_error)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        // OpenSSL's strict mode (Python 3.13+ defaults to it) wants an authority key identifier.
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days);
        let cert = params.signed_by(&key, &self.issuer).map_err(io_error)?;
        Ok(ServerCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl ServerCert {
    /// The certificate's DER.
    pub fn der(&self) -> io::Result<Vec<u8>> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject as _;
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map(|c| c.as_ref().to_vec())
            .map_err(io::Error::other)
    }

    /// A rustls server configuration presenting this certificate (HTTP/1.1 only).
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        use rustls_pki_types::pem::PemObject as _;
        let der = self.der()?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(io::Error::other)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(vec![der.into()], PrivateKeyDer::Pkcs8(key))
            .map_err(io::Error::other)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The names on the Entra server's certificate: `127.0.0.1`, `localhost` and `dns_names`.
pub(crate) fn server_names(dns_names: &[String]) -> Vec<String> {
    let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    names.extend(dns_names.iter().cloned());
    names
}

/// [`server_names`] plus the address the server is bound to, when it is a specific one
/// (clients on other machines connect to it by that address).
pub(crate) fn bound_server_names(dns_names: &[String], bind: std::net::IpAddr) -> Vec<String> {
    let mut names = server_names(dns_names);
    if !bind.is_loopback() && !bind.is_unspecified() {
        names.push(bind.to_string());
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loaded_ca_issues_certificates_that_chain_to_it() {
        let ca = Ca::generate(1).expect("CA");
        let again = Ca::load(&ca.pem, ca.key_pem()).expect("loads");
        let leaf = again
            .issue(&server_names(&[]), "127.0.0.1", 1)
            .expect("issues");
        let ca_der = rustls_pki_types::CertificateDer::from(
            x509_parser::pem::parse_x509_pem(ca.pem.as_bytes())
                .expect("pem")
                .1
                .contents,
        );
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).expect("CA parses");
        let leaf_der = leaf.der().expect("der");
        let (_, leaf_cert) = x509_parser::parse_x509_certificate(&leaf_der).expect("leaf");
        assert_eq!(leaf_cert.issuer(), ca_cert.subject());
        leaf_cert
            .verify_signature(Some(ca_cert.public_key()))
            .expect("signed by the CA");
        leaf.server_config().expect("rustls takes it");
    }
}

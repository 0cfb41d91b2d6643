//! A throw-away CA and a server certificate for 127.0.0.1, made fresh at every start.

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

pub(crate) struct Tls {
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

/// Generates the CA and the server certificate (SANs: 127.0.0.1, localhost and `dns_names`).
pub(crate) fn generate(dns_names: &[String]) -> io::Result<Tls> {
    let now = OffsetDateTime::now_utc();
    // Backdated so that a client whose clock is slightly behind still accepts it.
    let not_before = now - Duration::hours(1);
    let not_after = now + Duration::days(30);

    let ca_key = KeyPair::generate().map_err(io::Error::other)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "azidentity emulator throw-away CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(io::Error::other)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    names.extend(dns_names.iter().cloned());
    let server_key = KeyPair::generate().map_err(io::Error::other)?;
    let mut server_params = CertificateParams::new(names).map_err(io::Error::other)?;
    server_params.distinguished_name = rcgen::DistinguishedName::new();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // OpenSSL's strict mode (Python 3.13+ defaults to it) wants an authority key identifier.
    server_params.use_authority_key_identifier_extension = true;
    server_params.not_before = not_before;
    server_params.not_after = not_after;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(io::Error::other)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)
        .map_err(io::Error::other)?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(Tls {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(server_config),
    })
}

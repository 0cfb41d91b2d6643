//! The emulator's CA and the server certificates it issues: the Entra server's (127.0.0.1,
//! localhost and extra DNS names), the Azure Pipelines endpoint's (the same), and Service
//! Fabric's (clients pin its thumbprint; JavaScript clients trust it through the CA).

use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
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

/// What the CA may certify: loopback (`localhost` and its subdomains, 127.0.0.0/8, ::1) and
/// the extra names the emulator serves. Clients that honour name constraints (rustls/webpki,
/// OpenSSL under Python and Node) then refuse any other name signed by a leaked CA key.
fn name_constraints(names: &[String]) -> NameConstraints {
    let mut permitted = vec![
        GeneralSubtree::DnsName("localhost".to_owned()),
        GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([127, 0, 0, 0], 8)),
        GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
            std::net::Ipv6Addr::LOCALHOST.into(),
            128,
        )),
    ];
    for name in names {
        let subtree = match name.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_loopback() => continue,
            Ok(ip) => {
                let bits = if ip.is_ipv4() { 32 } else { 128 };
                GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, bits))
            }
            Err(_) if name.eq_ignore_ascii_case("localhost") => continue,
            Err(_) => GeneralSubtree::DnsName(name.clone()),
        };
        permitted.push(subtree);
    }
    NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: Vec::new(),
    }
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
    /// it) for `days`, that may certify loopback and `names` only.
    pub fn generate(days: i64, names: &[String]) -> io::Result<Self> {
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate().map_err(io_error)?;
        let mut params = ca_params(now - Duration::hours(1), now + Duration::days(days))?;
        params.name_constraints = Some(name_constraints(names));
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
        let ca = Ca::generate(1, &server_names(&[])).expect("CA");
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

    #[test]
    fn the_ca_may_certify_loopback_and_the_served_names_only() {
        let names = bound_server_names(&["emulator.test".to_owned()], "192.0.2.7".parse().unwrap());
        let ca = Ca::generate(1, &names).expect("CA");
        let der = x509_parser::pem::parse_x509_pem(ca.pem.as_bytes())
            .expect("pem")
            .1
            .contents;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("CA parses");
        let constraints = cert
            .name_constraints()
            .expect("one extension")
            .expect("name constraints");
        assert!(constraints.critical);
        let permitted: Vec<String> = constraints
            .value
            .permitted_subtrees
            .as_ref()
            .expect("permitted")
            .iter()
            .map(|s| format!("{:?}", s.base))
            .collect();
        let text = permitted.join(" ");
        for expected in [
            "localhost",
            "emulator.test",
            "[127, 0, 0, 0, 255, 0, 0, 0]",
            "[192, 0, 2, 7, 255, 255, 255, 255]",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert_eq!(permitted.len(), 5, "{text}");
    }

    /// rustls (webpki) enforces the constraints: a certificate the CA's key signs for a real
    /// host is refused.
    #[test]
    fn a_client_refuses_a_name_the_ca_may_not_certify() {
        use rustls::client::WebPkiServerVerifier;
        use rustls::client::danger::ServerCertVerifier as _;
        use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
        let ca = Ca::generate(1, &server_names(&[])).expect("CA");
        let mut roots = rustls::RootCertStore::empty();
        let ca_der = x509_parser::pem::parse_x509_pem(ca.pem.as_bytes())
            .expect("pem")
            .1
            .contents;
        roots.add(CertificateDer::from(ca_der)).expect("a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("a verifier");
        let check = |name: &str| {
            let leaf = ca.issue(&[name.to_owned()], name, 1).expect("issues");
            verifier.verify_server_cert(
                &CertificateDer::from(leaf.der().expect("der")),
                &[],
                &ServerName::try_from(name.to_owned()).expect("a name"),
                &[],
                UnixTime::now(),
            )
        };
        for allowed in ["localhost", "127.0.0.1", "127.0.0.2", "::1"] {
            check(allowed).unwrap_or_else(|e| panic!("{allowed}: {e:?}"));
        }
        for refused in [
            "login.microsoftonline.com",
            "169.254.169.254",
            "localhost.example",
        ] {
            let error = check(refused).expect_err(refused);
            assert!(
                format!("{error:?}").contains("NameConstraint"),
                "{refused}: {error:?}"
            );
        }
    }
}

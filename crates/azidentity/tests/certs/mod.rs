//! Throw-away test certificates, made at test time: RSA keys by the `openssl` command (ring
//! cannot generate RSA keys), certificates by rcgen (so validity can be in the past), PKCS#12
//! files and encrypted keys by `openssl` again. Nothing here is ever trusted by anything.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_RSA_SHA256};
use time::{Duration, OffsetDateTime};

/// A private temporary directory, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("azid-test-certs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, data).expect("write test file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs (it makes the test keys)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A certificate and its RSA key.
pub struct TestCert {
    pub key_pem: String,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub subject_cn: String,
    params: CertificateParams,
}

fn rsa_key() -> String {
    let scratch = Scratch::new();
    let pem = openssl(
        scratch.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ],
    );
    String::from_utf8(pem).expect("PEM is text")
}

fn params(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

fn key_pair(pem: &str) -> KeyPair {
    KeyPair::from_pem_and_sign_algo(pem, &PKCS_RSA_SHA256).expect("RSA key loads in rcgen")
}

impl TestCert {
    /// A self-signed certificate valid from an hour ago for a day.
    pub fn self_signed(cn: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::build(
            cn,
            now - Duration::hours(1),
            now + Duration::days(1),
            None,
            false,
        )
    }

    /// A certificate that expired yesterday.
    pub fn expired(cn: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::build(
            cn,
            now - Duration::days(30),
            now - Duration::days(1),
            None,
            false,
        )
    }

    /// A CA for subject name / issuer tests.
    pub fn ca(cn: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::build(
            cn,
            now - Duration::hours(1),
            now + Duration::days(1),
            None,
            true,
        )
    }

    /// A certificate issued by `ca`.
    pub fn issued_by(ca: &TestCert, cn: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self::build(
            cn,
            now - Duration::hours(1),
            now + Duration::days(1),
            Some(ca),
            false,
        )
    }

    fn build(
        cn: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        issuer: Option<&TestCert>,
        is_ca: bool,
    ) -> Self {
        let key_pem = rsa_key();
        let key = key_pair(&key_pem);
        let mut params = params(cn, not_before, not_after);
        if is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let cert = match issuer {
            None => params.self_signed(&key).expect("self-signed"),
            Some(ca) => {
                let ca_key = key_pair(&ca.key_pem);
                let issuer = Issuer::new(ca.params.clone(), ca_key);
                params.signed_by(&key, &issuer).expect("issued")
            }
        };
        TestCert {
            key_pem,
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            subject_cn: cn.to_owned(),
            params,
        }
    }

    /// Key then certificate, as most PEM files hold them.
    pub fn pem_bundle(&self) -> Vec<u8> {
        format!("{}{}", self.key_pem, self.cert_pem).into_bytes()
    }

    /// Key, certificate, then the chain's other certificates.
    pub fn pem_bundle_with_chain(&self, chain: &[&TestCert]) -> Vec<u8> {
        let mut text = format!("{}{}", self.key_pem, self.cert_pem);
        for cert in chain {
            text.push_str(&cert.cert_pem);
        }
        text.into_bytes()
    }

    /// The key encrypted as PKCS#8 (PBES2, AES-256-CBC), then the certificate.
    pub fn encrypted_pem_bundle(&self, password: &str) -> Vec<u8> {
        let scratch = Scratch::new();
        scratch.write("key.pem", self.key_pem.as_bytes());
        let pass = format!("pass:{password}");
        let key = openssl(
            scratch.path(),
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                "key.pem",
                "-passout",
                &pass,
            ],
        );
        let mut out = key;
        out.extend_from_slice(self.cert_pem.as_bytes());
        out
    }

    /// A PKCS#12 file; `legacy` uses OpenSSL's old RC2/3DES encryption.
    pub fn pkcs12(&self, password: &str, legacy: bool, chain: &[&TestCert]) -> Vec<u8> {
        let scratch = Scratch::new();
        scratch.write("key.pem", self.key_pem.as_bytes());
        scratch.write("cert.pem", self.cert_pem.as_bytes());
        let pass = format!("pass:{password}");
        let mut args = vec![
            "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-passout", &pass,
        ];
        if legacy {
            args.push("-legacy");
        }
        let chain_pem: String = chain.iter().map(|c| c.cert_pem.as_str()).collect();
        if !chain.is_empty() {
            scratch.write("chain.pem", chain_pem.as_bytes());
            args.extend(["-certfile", "chain.pem"]);
        }
        openssl(scratch.path(), &args)
    }
}

impl TestCert {
    /// A client assertion signed with this certificate's key (RS256, `x5t#S256`), as an
    /// application's own signing code would make it.
    pub fn client_assertion(&self, client_id: &str, audience: &str) -> String {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body: String = self
            .key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("PEM body");
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("PKCS#8 RSA key");
        let thumbprint = ring::digest::digest(&ring::digest::SHA256, &self.cert_der);
        let header = serde_json::json!({
            "alg": "RS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(thumbprint),
        });
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("signs");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

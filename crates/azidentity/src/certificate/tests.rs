//! Loading every supported form of a certificate. Keys and certificates are made by the
//! `openssl` command at test time: throw-away material, never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// key.pem (PKCS#8), cert.pem, and an EC pair.
fn material() -> Dir {
    let dir = std::env::temp_dir().join(format!("azid-cert-unit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = Dir(dir);
    openssl(
        &d.0,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
            "cert.pem", "-days", "2", "-subj", "/CN=unit",
        ],
    );
    d
}

fn read(dir: &Dir, name: &str) -> Vec<u8> {
    std::fs::read(dir.0.join(name)).unwrap()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn load(data: Vec<u8>, password: Option<&str>) -> Result<ClientCertificate, Error> {
    let password = password.map(Secret::new);
    ClientCertificate::load(
        "CertificateCredential",
        &CertificateSource::bytes(data),
        password.as_ref(),
        now(),
    )
}

fn concat(dir: &Dir, names: &[&str]) -> Vec<u8> {
    names.iter().flat_map(|n| read(dir, n)).collect()
}

#[test]
fn pem_in_either_order_with_pkcs8_pkcs1_and_encrypted_keys() {
    let d = material();
    let a = load(concat(&d, &["key.pem", "cert.pem"]), None).unwrap();
    let b = load(concat(&d, &["cert.pem", "key.pem"]), None).unwrap();
    assert_eq!(a.sha1_thumbprint(), b.sha1_thumbprint());
    assert_eq!(a.sha256_thumbprint().len(), 32);

    openssl(
        &d.0,
        &["rsa", "-in", "key.pem", "-traditional", "-out", "rsa.pem"],
    );
    assert!(
        String::from_utf8(read(&d, "rsa.pem"))
            .unwrap()
            .contains("BEGIN RSA PRIVATE KEY")
    );
    load(concat(&d, &["rsa.pem", "cert.pem"]), None).unwrap();

    openssl(
        &d.0,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "key.pem",
            "-out",
            "enc.pem",
            "-passout",
            "pass:pem-pass-1",
        ],
    );
    let encrypted = concat(&d, &["enc.pem", "cert.pem"]);
    load(encrypted.clone(), Some("pem-pass-1")).unwrap();
    let e = load(encrypted.clone(), Some("nope")).unwrap_err();
    assert!(
        e.message().contains("password of the private key is wrong"),
        "{e}"
    );
    let e = load(encrypted, None).unwrap_err();
    assert!(e.message().contains("pass its password"), "{e}");
    assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
}

#[test]
fn pkcs12_modern_legacy_and_without_password() {
    let d = material();
    openssl(
        &d.0,
        &[
            "pkcs12",
            "-export",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "m.pfx",
            "-passout",
            "pass:pfx-pass",
        ],
    );
    openssl(
        &d.0,
        &[
            "pkcs12",
            "-export",
            "-legacy",
            "-in",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "l.pfx",
            "-passout",
            "pass:pfx-pass",
        ],
    );
    openssl(
        &d.0,
        &[
            "pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem", "-out", "n.pfx",
            "-passout", "pass:",
        ],
    );
    let pem = load(concat(&d, &["key.pem", "cert.pem"]), None).unwrap();
    for (file, password) in [
        ("m.pfx", Some("pfx-pass")),
        ("l.pfx", Some("pfx-pass")),
        ("n.pfx", None),
    ] {
        let loaded = load(read(&d, file), password).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(loaded.sha1_thumbprint(), pem.sha1_thumbprint(), "{file}");
    }
    for file in ["m.pfx", "l.pfx"] {
        let e = load(read(&d, file), Some("wrong")).unwrap_err();
        assert!(
            e.message()
                .contains("password of the PKCS#12 file is wrong"),
            "{file}: {e}"
        );
        let e = load(read(&d, file), None).unwrap_err();
        assert!(
            e.message().contains("protected by a password"),
            "{file}: {e}"
        );
    }
}

#[test]
fn bad_inputs_say_what_is_wrong() {
    let d = material();
    let e = load(read(&d, "cert.pem"), None).unwrap_err();
    assert!(e.message().contains("has no private key"), "{e}");

    openssl(
        &d.0,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(
        &d.0,
        &[
            "req",
            "-x509",
            "-key",
            "ec.pem",
            "-out",
            "ec-cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=ec",
        ],
    );
    let e = load(concat(&d, &["ec.pem", "ec-cert.pem"]), None).unwrap_err();
    assert!(e.message().contains("elliptic curve"), "{e}");
    openssl(
        &d.0,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "ec8.pem",
        ],
    );
    let e = load(concat(&d, &["ec8.pem", "ec-cert.pem"]), None).unwrap_err();
    assert!(e.message().contains("elliptic curve"), "{e}");

    let e = load(b"definitely not a certificate".to_vec(), None).unwrap_err();
    assert!(e.message().contains("PEM or PKCS12"), "{e}");
    let e = load(Vec::new(), None).unwrap_err();
    assert!(e.message().contains("empty"), "{e}");

    // A key with somebody else's certificate.
    openssl(
        &d.0,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k2.pem",
            "-out",
            "c2.pem",
            "-days",
            "1",
            "-subj",
            "/CN=other",
        ],
    );
    let e = load(concat(&d, &["key.pem", "c2.pem"]), None).unwrap_err();
    assert!(e.message().contains("belong together"), "{e}");

    let missing = ClientCertificate::load(
        "CertificateCredential",
        &CertificateSource::path(d.0.join("missing.pem")),
        None,
        now(),
    )
    .unwrap_err();
    assert!(missing.message().contains("missing.pem"), "{missing}");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_path_works_and_is_named_in_errors() {
    use std::os::unix::ffi::OsStrExt as _;
    let d = material();
    let name = std::ffi::OsStr::from_bytes(b"cert-\xff.pem");
    let path = d.0.join(name);
    std::fs::write(&path, concat(&d, &["key.pem", "cert.pem"])).unwrap();
    ClientCertificate::load("C", &CertificateSource::path(&path), None, now()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let e = ClientCertificate::load("C", &CertificateSource::path(&path), None, now()).unwrap_err();
    assert!(e.message().contains("cert-\u{fffd}.pem"), "{e}");
}

#[test]
fn the_chain_starts_with_the_signing_certificate() {
    let d = material();
    openssl(
        &d.0,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=ca",
        ],
    );
    let loaded = load(concat(&d, &["ca.pem", "key.pem", "cert.pem"]), None).unwrap();
    let chain: Vec<&[u8]> = loaded.chain_der().collect();
    assert_eq!(chain.len(), 2);
    let leaf = CertInfo::parse(chain[0]).unwrap();
    assert_eq!(leaf.subject, "CN=unit");
    assert_eq!(
        format!("{:?}", CertificateSource::bytes(vec![1, 2, 3])),
        "Bytes(<3 bytes>)"
    );
}

#[test]
fn assertions_are_ps256_with_x5t_s256_and_rs256_with_x5t_for_adfs() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256};

    use crate::entra::assertion::{Signature, sign};

    let d = material();
    let cert = load(concat(&d, &["key.pem", "cert.pem"]), None).unwrap();
    let public = cert.key().public_key().as_ref().to_vec();
    for (tenant, alg, header_name, thumbprint) in [
        ("contoso", "PS256", "x5t#S256", cert.sha256_thumbprint()),
        ("adfs", "RS256", "x5t", cert.sha1_thumbprint()),
    ] {
        let signature = Signature::for_tenant(tenant);
        let jwt = sign(
            "C",
            &cert,
            "client",
            "https://aud/token",
            signature,
            true,
            now(),
        )
        .unwrap();
        let parts: Vec<&str> = jwt.secret().split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], alg);
        assert_eq!(header[header_name], URL_SAFE_NO_PAD.encode(&thumbprint));
        assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
        let algorithm: &dyn ring::signature::VerificationAlgorithm = if alg == "PS256" {
            &RSA_PSS_2048_8192_SHA256
        } else {
            &RSA_PKCS1_2048_8192_SHA256
        };
        ring::signature::UnparsedPublicKey::new(algorithm, &public)
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .expect("the signature verifies");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://aud/token");
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
    }
}

//! CertificateCredential end to end against the emulator, which verifies each assertion as
//! Entra does: registered thumbprint (or subject name and issuer), signature, claims.

mod certs;
mod common;

use azidentity::{
    CertificateCredential, CertificateCredentialOptions, CertificateSource, ClientOptions,
    ErrorKind, Secret, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{Application, DEFAULT_TENANT_ID, Emulator, RunningEmulator};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use certs::{Scratch, TestCert};
use common::*;
use serde_json::Value;

const APP: &str = "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const SCOPE: &str = "https://vault.azure.net/.default";

async fn emulator_with(app: Application) -> RunningEmulator {
    Emulator::builder()
        .app(app)
        .start()
        .await
        .expect("emulator starts")
}

fn options(emu: &RunningEmulator) -> ClientOptions {
    ClientOptions {
        disable_instance_discovery: true,
        ..client_options(emu)
    }
}

fn credential(
    emu: &RunningEmulator,
    source: CertificateSource,
    password: Option<&str>,
    send_chain: bool,
) -> Result<CertificateCredential, azidentity::Error> {
    CertificateCredential::new(
        DEFAULT_TENANT_ID,
        APP,
        source,
        CertificateCredentialOptions {
            client_options: options(emu),
            password: password.map(Secret::new),
            send_certificate_chain: send_chain,
            ..Default::default()
        },
    )
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

/// The JOSE header and claims of a recorded client assertion.
fn decode(jwt: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let segment = jwt.split('.').nth(i).expect("segment");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).unwrap()
    };
    (part(0), part(1))
}

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[tokio::test]
async fn a_pem_certificate_gets_a_token_with_an_assertion_entra_accepts() {
    let cert = TestCert::self_signed("pem-app");
    let emu = emulator_with(Application::confidential(APP).certificate_pem(&cert.cert_pem)).await;
    let cred = credential(
        &emu,
        CertificateSource::bytes(cert.pem_bundle()),
        None,
        false,
    )
    .unwrap();
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["appid"], APP);
    assert_eq!(claims["aud"], "https://vault.azure.net");

    let requests = emu.token_requests();
    assert_eq!(requests.len(), 1);
    let form = &requests[0];
    assert_eq!(form.form_value("grant_type"), Some("client_credentials"));
    assert_eq!(form.form_value("client_id"), Some(APP));
    assert_eq!(form.form_value("client_secret"), None);
    assert_eq!(
        form.form_value("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let (header, body) = decode(form.form_value("client_assertion").unwrap());
    assert_eq!(header["alg"], "PS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(
        header["x5t#S256"],
        URL_SAFE_NO_PAD.encode(sha256(&cert.cert_der))
    );
    assert!(header.get("x5c").is_none(), "no chain unless asked");
    let endpoint = format!(
        "{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    );
    assert_eq!(body["aud"], endpoint);
    assert_eq!(body["iss"], APP);
    assert_eq!(body["sub"], APP);
    assert_eq!(body["jti"].as_str().map(str::len), Some(36));
    let (nbf, exp) = (body["nbf"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
    assert!(exp > nbf && exp - nbf <= 3600, "{body}");

    // Cached; a new token (another scope) signs a new assertion with a new jti.
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    cred.get_token(&["https://storage.azure.com/.default"], &none())
        .await
        .unwrap();
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2);
    let (_, second) = decode(requests[1].form_value("client_assertion").unwrap());
    assert_ne!(second["jti"], body["jti"]);
}

#[tokio::test]
async fn pkcs12_modern_legacy_and_unprotected_and_encrypted_pem_all_work() {
    let cert = TestCert::self_signed("pfx-app");
    let emu = emulator_with(Application::confidential(APP).certificate_pem(&cert.cert_pem)).await;
    let scratch = Scratch::new();
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "modern.pfx",
            cert.pkcs12("pfx-pass-81", false, &[]),
            Some("pfx-pass-81"),
        ),
        (
            "legacy.pfx",
            cert.pkcs12("pfx-pass-82", true, &[]),
            Some("pfx-pass-82"),
        ),
        ("open.pfx", cert.pkcs12("", false, &[]), None),
        (
            "enc.pem",
            cert.encrypted_pem_bundle("pem-pass-83"),
            Some("pem-pass-83"),
        ),
    ];
    for (name, data, password) in cases {
        let path = scratch.write(name, &data);
        let cred = credential(&emu, CertificateSource::path(&path), password, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let token = cred
            .get_token(&[SCOPE], &none())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        emu.verify_token(token.token().secret()).unwrap();
    }
    assert_eq!(emu.stats().tokens_issued, 4);
}

#[tokio::test]
async fn construction_errors_name_the_problem_without_the_password() {
    let cert = TestCert::self_signed("bad-input");
    let emu = emulator_with(Application::confidential(APP).certificate_pem(&cert.cert_pem)).await;
    let pfx = cert.pkcs12("right-pass-91", false, &[]);
    let cases: Vec<(CertificateSource, Option<&str>, &str)> = vec![
        (
            CertificateSource::bytes(pfx.clone()),
            Some("wrong-pass-92"),
            "password of the PKCS#12 file is wrong",
        ),
        (
            CertificateSource::bytes(pfx),
            None,
            "protected by a password",
        ),
        (
            CertificateSource::bytes(cert.cert_pem.clone().into_bytes()),
            None,
            "no private key",
        ),
        (
            CertificateSource::path("/nonexistent/azid/cert.pem"),
            None,
            "/nonexistent/azid/cert.pem",
        ),
        (
            CertificateSource::bytes(b"garbage".to_vec()),
            None,
            "PEM or PKCS12",
        ),
    ];
    for (source, password, expected) in cases {
        let err = credential(&emu, source, password, false).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidConfiguration),
            "{err}"
        );
        let text = format!("{err} {err:?}");
        assert!(text.contains(expected), "{expected}: {text}");
        assert!(text.starts_with("CertificateCredential: "), "{text}");
        let key_line = cert.key_pem.lines().nth(1).unwrap();
        for secret in ["right-pass-91", "wrong-pass-92", "-----BEGIN", key_line] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

#[tokio::test]
async fn an_unregistered_certificate_is_rejected_with_aadsts700027() {
    let registered = TestCert::self_signed("registered");
    let other = TestCert::self_signed("other");
    let emu =
        emulator_with(Application::confidential(APP).certificate_pem(&registered.cert_pem)).await;
    let cred = credential(
        &emu,
        CertificateSource::bytes(other.pem_bundle()),
        None,
        false,
    )
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS700027")
    );
    assert!(
        err.to_string().contains("signature"),
        "advice about the certificate: {err}"
    );
}

#[tokio::test]
async fn subject_name_and_issuer_authentication_needs_the_chain() {
    let ca = TestCert::ca("Emulator Test CA");
    let leaf = TestCert::issued_by(&ca, "sni-app");
    let emu = emulator_with(
        Application::confidential(APP).trusted_subject_name(&ca.cert_pem, "CN=sni-app"),
    )
    .await;
    // Only the issuer is trusted: without x5c the thumbprint is unknown.
    let bundle = leaf.pem_bundle_with_chain(&[&ca]);
    let without = credential(&emu, CertificateSource::bytes(bundle.clone()), None, false).unwrap();
    let err = without.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS700027"),
        "{err}"
    );

    let with = credential(&emu, CertificateSource::bytes(bundle), None, true).unwrap();
    with.get_token(&[SCOPE], &none()).await.unwrap();
    let last = emu.token_requests().pop().unwrap();
    let (header, _) = decode(last.form_value("client_assertion").unwrap());
    let x5c: Vec<Vec<u8>> = header["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(
        x5c,
        vec![leaf.cert_der.clone(), ca.cert_der.clone()],
        "leaf first, standard base64 DER"
    );

    // A certificate from another CA with the same subject is refused.
    let rogue_ca = TestCert::ca("Rogue CA");
    let rogue = TestCert::issued_by(&rogue_ca, "sni-app");
    let cred = credential(
        &emu,
        CertificateSource::bytes(rogue.pem_bundle_with_chain(&[&rogue_ca])),
        None,
        true,
    )
    .unwrap();
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS50012"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_a_warning_and_the_service_decides() {
    let cert = TestCert::expired("expired-app");
    let emu = emulator_with(Application::confidential(APP).certificate_pem(&cert.cert_pem)).await;
    let (logs, _guard) = LogCapture::install();
    let cred = credential(
        &emu,
        CertificateSource::bytes(cert.pem_bundle()),
        None,
        false,
    )
    .unwrap();
    assert!(logs.text().contains("has expired"), "{}", logs.text());
    // The emulator, like Entra for a still-registered key, accepts it.
    cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test]
async fn claims_bypass_the_cache_and_cae_tokens_are_cached_apart() {
    let cert = TestCert::self_signed("cache-app");
    let emu = emulator_with(Application::confidential(APP).certificate_pem(&cert.cert_pem)).await;
    let cred = credential(
        &emu,
        CertificateSource::bytes(cert.pem_bundle()),
        None,
        false,
    )
    .unwrap();
    let plain = cred.get_token(&[SCOPE], &none()).await.unwrap();
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..none()
    };
    let cae_token = cred.get_token(&[SCOPE], &cae).await.unwrap();
    assert_ne!(plain.token(), cae_token.token());
    let claims = emu.verify_token(cae_token.token().secret()).unwrap();
    assert_eq!(claims["xms_cc"][0], "CP1");
    assert!(
        emu.verify_token(plain.token().secret())
            .unwrap()
            .get("xms_cc")
            .is_none()
    );
    assert_eq!(
        cred.get_token(&[SCOPE], &cae).await.unwrap().token(),
        cae_token.token()
    );
    assert_eq!(
        cred.get_token(&[SCOPE], &none()).await.unwrap().token(),
        plain.token()
    );
    assert_eq!(emu.token_requests().len(), 2);

    let challenge = TokenRequestOptions {
        claims: Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#.into()),
        ..none()
    };
    let fresh = cred.get_token(&[SCOPE], &challenge).await.unwrap();
    assert_ne!(fresh.token(), plain.token());
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[2].form_value("claims"),
        Some(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#)
    );
    assert_eq!(
        requests[1].form_value("claims"),
        Some(r#"{"access_token":{"xms_cc":{"values":["CP1"]}}}"#)
    );
}

//! Per-request tenants (Python's `resolve_tenant`) end to end, with a multi-tenant app
//! registered in two tenants of the emulator.

mod certs;
mod common;

use std::sync::Arc;

use azidentity::{
    CertificateCredential, CertificateCredentialOptions, CertificateSource, ChainedTokenCredential,
    ClientOptions, ErrorKind, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{Application, DEFAULT_TENANT_ID, Emulator, RunningEmulator};
use certs::TestCert;
use common::*;

const APP: &str = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a";
const OTHER_TENANT: &str = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";
const SCOPE: &str = "https://management.azure.com/.default";

async fn setup() -> (RunningEmulator, TestCert) {
    let cert = TestCert::self_signed("multi-tenant");
    let emu = Emulator::builder()
        .tenant(OTHER_TENANT)
        .app(
            Application::confidential(APP)
                .certificate_pem(&cert.cert_pem)
                .multi_tenant(true),
        )
        .start()
        .await
        .unwrap();
    (emu, cert)
}

fn credential(
    emu: &RunningEmulator,
    cert: &TestCert,
    allowed: &[&str],
    env: &[(&str, &str)],
) -> CertificateCredential {
    CertificateCredential::new(
        DEFAULT_TENANT_ID,
        APP,
        CertificateSource::bytes(cert.pem_bundle()),
        CertificateCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                additionally_allowed_tenants: allowed.iter().map(|t| t.to_string()).collect(),
                platform: platform(emu, env),
                ..client_options(emu)
            },
            ..Default::default()
        },
    )
    .unwrap()
}

fn for_tenant(tenant: &str) -> TokenRequestOptions {
    TokenRequestOptions {
        tenant_id: Some(tenant.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_allowed_tenant_gets_its_own_token_and_assertion_audience() {
    let (emu, cert) = setup().await;
    for allowed in [&[OTHER_TENANT][..], &["*"][..]] {
        emu.reset();
        let cred = credential(&emu, &cert, allowed, &[]);
        let home = cred.get_token(&[SCOPE], &Default::default()).await.unwrap();
        let other = cred
            .get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
            .await
            .unwrap();
        assert_eq!(
            emu.verify_token(home.token().secret()).unwrap()["tid"],
            DEFAULT_TENANT_ID
        );
        assert_eq!(
            emu.verify_token(other.token().secret()).unwrap()["tid"],
            OTHER_TENANT
        );
        let requests = emu.token_requests();
        assert_eq!(
            requests[1].path,
            format!("/{OTHER_TENANT}/oauth2/v2.0/token")
        );
        // Cached per tenant.
        cred.get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
            .await
            .unwrap();
        cred.get_token(&[SCOPE], &for_tenant(DEFAULT_TENANT_ID))
            .await
            .unwrap();
        assert_eq!(emu.token_requests().len(), 2);
    }
}

#[tokio::test]
async fn a_tenant_outside_the_allow_list_fails_and_stops_a_chain() {
    let (emu, cert) = setup().await;
    let cred = Arc::new(credential(&emu, &cert, &["some-other-tenant"], &[]));
    let err = cred
        .get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(!err.is_unavailable());
    assert!(
        err.message().contains("additionally_allowed_tenants"),
        "{err}"
    );
    assert!(
        emu.token_requests().is_empty(),
        "refused before any request"
    );

    // In a chain, it stops: the next member is never asked.
    let next = Arc::new(credential(&emu, &cert, &["*"], &[]));
    let chain = ChainedTokenCredential::new(vec![cred, next]).unwrap();
    let err = chain
        .get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
        .await
        .unwrap_err();
    match err.kind() {
        ErrorKind::Chain(attempts) => assert_eq!(attempts.len(), 1, "{err}"),
        other => panic!("expected a chain error, got {other:?}"),
    }
    assert!(emu.token_requests().is_empty());
}

#[tokio::test]
async fn disabling_multitenant_auth_pins_the_configured_tenant() {
    let (emu, cert) = setup().await;
    // Any non-empty value, even "false", disables it, as in Python.
    let cred = credential(
        &emu,
        &cert,
        &["*"],
        &[("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "false")],
    );
    let token = cred
        .get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["tid"],
        DEFAULT_TENANT_ID
    );
}

#[tokio::test]
async fn a_single_tenant_app_is_refused_by_the_other_tenant() {
    let cert = TestCert::self_signed("single-tenant");
    let emu = Emulator::builder()
        .tenant(OTHER_TENANT)
        .app(Application::confidential(APP).certificate_pem(&cert.cert_pem))
        .start()
        .await
        .unwrap();
    let cred = credential(&emu, &cert, &["*"], &[]);
    let err = cred
        .get_token(&[SCOPE], &for_tenant(OTHER_TENANT))
        .await
        .unwrap_err();
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS700016"),
        "{err}"
    );
}

#[tokio::test]
async fn a_user_flow_redeems_its_refresh_token_in_an_allowed_tenant() {
    use azidentity::{AuthorizationCodeCredential, AuthorizationCodeCredentialOptions, Secret};
    use azidentity_emulator::{AuthorizationCodeRequest, DEFAULT_USERNAME};
    const WEB: &str = "ae0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b";
    let emu = Emulator::builder()
        .tenant(OTHER_TENANT)
        .app(
            Application::confidential(WEB)
                .secret("mt-web-secret")
                .redirect_uri("https://mt.example/cb")
                .multi_tenant(true),
        )
        .start()
        .await
        .unwrap();
    let code = emu
        .authorization_code(&AuthorizationCodeRequest::new(
            WEB,
            DEFAULT_USERNAME,
            "https://mt.example/cb",
            "User.Read offline_access",
        ))
        .unwrap();
    let cred = AuthorizationCodeCredential::new(
        DEFAULT_TENANT_ID,
        WEB,
        Secret::new(code),
        "https://mt.example/cb",
        AuthorizationCodeCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                additionally_allowed_tenants: vec!["*".into()],
                ..client_options(&emu)
            },
            client_secret: Some(Secret::new("mt-web-secret")),
            code_verifier: None,
            ..Default::default()
        },
    )
    .unwrap();
    let home = cred
        .get_token(&["User.Read"], &Default::default())
        .await
        .unwrap();
    let other = cred
        .get_token(&["User.Read"], &for_tenant(OTHER_TENANT))
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(home.token().secret()).unwrap()["tid"],
        DEFAULT_TENANT_ID
    );
    let claims = emu.verify_token(other.token().secret()).unwrap();
    assert_eq!(claims["tid"], OTHER_TENANT);
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    let last = emu.token_requests().pop().unwrap();
    assert_eq!(last.path, format!("/{OTHER_TENANT}/oauth2/v2.0/token"));
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
}

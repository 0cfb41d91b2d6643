//! OnBehalfOfCredential end to end: a middle tier exchanges a user's token (issued to it) for a
//! downstream token, with a secret, a certificate or an assertion callback; tokens are cached
//! per user assertion and never served for another.

mod certs;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use azidentity::{
    CertificateSource, ClientOptions, Error, ErrorKind, OnBehalfOfAuth, OnBehalfOfCredential,
    OnBehalfOfCredentialOptions, Secret, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, RunningEmulator, User,
};
use certs::TestCert;
use common::*;

const GRAPH: &str = "https://graph.microsoft.com/.default";

fn options(emu: &RunningEmulator) -> OnBehalfOfCredentialOptions {
    OnBehalfOfCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            ..client_options(emu)
        },
        ..Default::default()
    }
}

/// What the user's client sent the middle tier: a token whose audience is the middle tier.
fn user_assertion(emu: &RunningEmulator, username: &str) -> String {
    emu.user_token(
        DEFAULT_PUBLIC_CLIENT_ID,
        username,
        &format!("api://{DEFAULT_CLIENT_ID}/access_as_user"),
    )
    .unwrap()
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn exchanges_the_user_assertion_and_caches_per_assertion() {
    let emu = Emulator::builder()
        .user(User::new(
            "grace@azidentity-emulator.example",
            "grace-pass-21",
        ))
        .start()
        .await
        .unwrap();
    let ada = user_assertion(&emu, DEFAULT_USERNAME);
    let cred = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(ada.clone()),
        OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
        options(&emu),
    )
    .unwrap();
    let token = cred.get_token(&[GRAPH], &none()).await.unwrap();
    let claims = emu.verify_token(token.token().secret()).unwrap();
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    assert_eq!(claims["appid"], DEFAULT_CLIENT_ID);
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    let r = &emu.token_requests()[0];
    assert_eq!(
        r.form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert_eq!(r.form_value("requested_token_use"), Some("on_behalf_of"));
    assert_eq!(r.form_value("assertion"), Some(ada.as_str()));
    assert_eq!(r.form_value("client_secret"), Some(DEFAULT_CLIENT_SECRET));

    // Another user's request through the same app and cache: never Ada's token.
    let grace_assertion = user_assertion(&emu, "grace@azidentity-emulator.example");
    let grace = cred
        .for_user_assertion(Secret::new(grace_assertion))
        .unwrap();
    let grace_token = grace.get_token(&[GRAPH], &none()).await.unwrap();
    assert_ne!(grace_token.token(), token.token());
    assert_eq!(
        emu.verify_token(grace_token.token().secret()).unwrap()["upn"],
        "grace@azidentity-emulator.example"
    );
    // Both cached now.
    assert_eq!(
        cred.get_token(&[GRAPH], &none()).await.unwrap().token(),
        token.token()
    );
    assert_eq!(
        grace.get_token(&[GRAPH], &none()).await.unwrap().token(),
        grace_token.token()
    );
    assert_eq!(emu.token_requests().len(), 2);
    // A new resource for Ada goes through her refresh token, not the assertion.
    cred.get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .unwrap();
    let last = emu.token_requests().pop().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        last.form_value("client_secret"),
        Some(DEFAULT_CLIENT_SECRET)
    );
}

#[tokio::test]
async fn certificate_and_assertion_callback_authenticate_the_middle_tier() {
    let cert = TestCert::self_signed("obo-middle-tier");
    let middle = "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    let emu = Emulator::builder()
        .app(Application::confidential(middle).certificate_pem(&cert.cert_pem))
        .start()
        .await
        .unwrap();
    let assertion = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            &format!("api://{middle}/.default"),
        )
        .unwrap();
    let with_cert = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        middle,
        Secret::new(assertion.clone()),
        OnBehalfOfAuth::ClientCertificate(CertificateSource::bytes(cert.pem_bundle())),
        options(&emu),
    )
    .unwrap();
    with_cert.get_token(&[GRAPH], &none()).await.unwrap();

    // The app signs its own assertions in a callback, called for each new token.
    let endpoint = format!(
        "{}/{DEFAULT_TENANT_ID}/oauth2/v2.0/token",
        emu.authority_host()
    );
    let signing_cert = Arc::new(cert);
    let for_callback = signing_cert.clone();
    let app_id = middle.to_owned();
    let with_callback = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        middle,
        Secret::new(assertion.clone()),
        OnBehalfOfAuth::client_assertion(move || {
            Ok::<_, Error>(for_callback.client_assertion(&app_id, &endpoint))
        }),
        options(&emu),
    )
    .unwrap();
    with_callback.get_token(&[GRAPH], &none()).await.unwrap();
    assert_eq!(emu.stats().tokens_issued, 2);

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let failing = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        middle,
        Secret::new(assertion.clone()),
        OnBehalfOfAuth::client_assertion(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Err::<String, _>("the key vault is unreachable")
        }),
        options(&emu),
    )
    .unwrap();
    let err = failing.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::AuthenticationFailed),
        "{err}"
    );
    assert!(
        err.message().contains("the key vault is unreachable"),
        "{err}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let empty = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        middle,
        Secret::new(assertion.clone()),
        OnBehalfOfAuth::client_assertion(|| Ok::<_, Error>(String::new())),
        options(&emu),
    )
    .unwrap();
    let err = empty.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(err.message().contains("client assertion is empty"), "{err}");

    // An unavailable error from the callback passes through as it is.
    let unavailable = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        middle,
        Secret::new(assertion),
        OnBehalfOfAuth::client_assertion(|| {
            Err::<String, _>(Error::new(
                ErrorKind::CredentialUnavailable,
                "Mine",
                "not here",
            ))
        }),
        options(&emu),
    )
    .unwrap();
    let err = unavailable.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}

#[tokio::test]
async fn the_service_checks_the_user_assertion() {
    let emu = Emulator::builder().start().await.unwrap();
    let for_someone_else = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            "https://graph.microsoft.com/User.Read",
        )
        .unwrap();
    let other_emulator = Emulator::builder().start().await.unwrap();
    let cases = [
        (for_someone_else, 500131),
        // Signed with another key than the service's: not a token it issued.
        (
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ4IjoxfQ.c2ln".to_owned(),
            50013,
        ),
    ];
    drop(other_emulator);
    for (assertion, code) in cases {
        let cred = OnBehalfOfCredential::new(
            DEFAULT_TENANT_ID,
            DEFAULT_CLIENT_ID,
            Secret::new(assertion.clone()),
            OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
            options(&emu),
        )
        .unwrap();
        let err = cred.get_token(&[GRAPH], &none()).await.unwrap_err();
        assert_eq!(
            err.http().unwrap().error_codes.first(),
            Some(&code),
            "{err}"
        );
        let text = format!("{err} {err:?}");
        assert!(!text.contains(&assertion), "assertion leaked: {text}");
        assert!(!text.contains(DEFAULT_CLIENT_SECRET));
    }
}

#[test]
fn an_empty_user_assertion_is_a_configuration_error() {
    let err = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(" "),
        OnBehalfOfAuth::ClientSecret(Secret::new("s")),
        Default::default(),
    )
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
    assert!(err.message().contains("user_assertion"));
}

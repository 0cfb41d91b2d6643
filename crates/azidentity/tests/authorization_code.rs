//! AuthorizationCodeCredential end to end: the code is redeemed once (at its redirect URI,
//! with its PKCE verifier), then cached tokens, then the refresh token for the same account.

mod common;

use azidentity::{
    AuthorizationCodeCredential, AuthorizationCodeCredentialOptions, ClientOptions, ErrorKind,
    Secret, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Application, AuthorizationCodeRequest, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
    RunningEmulator,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;

const WEB_APP: &str = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d";
const WEB_SECRET: &str = "web-app-secret-value-51";
const REDIRECT: &str = "https://app.example/signin-oidc";
const GRAPH: &str = "https://graph.microsoft.com/User.Read";

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .app(
            Application::confidential(WEB_APP)
                .secret(WEB_SECRET)
                .redirect_uri(REDIRECT),
        )
        .start()
        .await
        .unwrap()
}

fn credential(
    emu: &RunningEmulator,
    code: &str,
    redirect: &str,
    verifier: Option<&str>,
) -> AuthorizationCodeCredential {
    AuthorizationCodeCredential::new(
        DEFAULT_TENANT_ID,
        WEB_APP,
        Secret::new(code),
        redirect,
        AuthorizationCodeCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(emu)
            },
            client_secret: Some(Secret::new(WEB_SECRET)),
            code_verifier: verifier.map(Secret::new),
            ..Default::default()
        },
    )
    .unwrap()
}

fn code(emu: &RunningEmulator, challenge: Option<&str>) -> String {
    let mut request = AuthorizationCodeRequest::new(
        WEB_APP,
        DEFAULT_USERNAME,
        REDIRECT,
        "https://graph.microsoft.com/User.Read offline_access openid profile",
    );
    if let Some(challenge) = challenge {
        request = request.code_challenge(challenge);
    }
    emu.authorization_code(&request).unwrap()
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn redeem_once_then_cache_then_refresh_token() {
    let emu = emulator().await;
    let code = code(&emu, None);
    let cred = credential(&emu, &code, REDIRECT, None);
    let token = cred.get_token(&[GRAPH], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    assert_eq!(
        cred.get_token(&[GRAPH], &none()).await.unwrap().token(),
        token.token()
    );
    let vault = cred
        .get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(vault.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );

    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2);
    let redeem = &requests[0];
    assert_eq!(redeem.form_value("grant_type"), Some("authorization_code"));
    assert_eq!(redeem.form_value("code"), Some(code.as_str()));
    assert_eq!(redeem.form_value("redirect_uri"), Some(REDIRECT));
    assert_eq!(redeem.form_value("client_secret"), Some(WEB_SECRET));
    assert_eq!(redeem.form_value("client_info"), Some("1"));
    assert_eq!(requests[1].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        requests[1].form_value("code"),
        None,
        "the code is never sent twice"
    );
}

#[tokio::test]
async fn pkce_verifier_and_redirect_uri_are_checked() {
    let emu = emulator().await;
    let verifier = "pkce-verifier-0123456789-0123456789-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));

    let wrong_verifier = credential(&emu, &code(&emu, Some(&challenge)), REDIRECT, Some("nope"));
    let err = wrong_verifier
        .get_token(&[GRAPH], &none())
        .await
        .unwrap_err();
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS501481"),
        "{err}"
    );

    let wrong_redirect = credential(&emu, &code(&emu, None), "https://evil.example/cb", None);
    let err = wrong_redirect
        .get_token(&[GRAPH], &none())
        .await
        .unwrap_err();
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS50011"),
        "{err}"
    );

    let right = credential(
        &emu,
        &code(&emu, Some(&challenge)),
        REDIRECT,
        Some(verifier),
    );
    right.get_token(&[GRAPH], &none()).await.unwrap();
    let last = emu.token_requests().pop().unwrap();
    assert_eq!(last.form_value("code_verifier"), Some(verifier));
}

#[tokio::test]
async fn a_code_is_single_use_and_then_nothing_is_left() {
    let emu = emulator().await;
    let code = code(&emu, None);
    let first = credential(&emu, &code, REDIRECT, None);
    first.get_token(&[GRAPH], &none()).await.unwrap();
    // Another credential with the same code: Entra refuses the second redemption.
    let second = credential(&emu, &code, REDIRECT, None);
    let err = second.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::AuthenticationFailed));
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS54005"),
        "{err}"
    );
    // Its code is spent and it has no refresh token: Python's message.
    let err = second.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(
        err.message()
            .contains("No authorization code, cached access token, or refresh token available."),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_redemption() {
    let emu = emulator().await;
    let cred = std::sync::Arc::new(credential(&emu, &code(&emu, None), REDIRECT, None));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let cred = cred.clone();
            tokio::spawn(async move { cred.get_token(&[GRAPH], &none()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(emu.token_requests().len(), 1);
}

/// Web apps fetch several resources in parallel on their first request: first calls that differ
/// in scopes or CAE share the one redemption; the others use the account's refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_for_different_scopes_share_one_redemption() {
    let emu = emulator().await;
    // The redemption is slow, so every other first call arrives while it runs.
    emu.add_fault(
        azidentity_emulator::Fault::on_path("/oauth2/v2.0/token")
            .delay(std::time::Duration::from_millis(300))
            .times(1),
    );
    let cred = std::sync::Arc::new(credential(&emu, &code(&emu, None), REDIRECT, None));
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..none()
    };
    let calls: Vec<(&'static str, TokenRequestOptions)> = vec![
        (GRAPH, none()),
        ("https://vault.azure.net/.default", none()),
        ("https://storage.azure.com/.default", none()),
        (GRAPH, cae),
    ];
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|(scope, options)| {
            let cred = cred.clone();
            tokio::spawn(async move { cred.get_token(&[scope], &options).await })
        })
        .collect();
    for task in tasks {
        let token = task.await.unwrap().unwrap();
        assert_eq!(
            emu.verify_token(token.token().secret()).unwrap()["upn"],
            DEFAULT_USERNAME
        );
    }
    let grants: Vec<_> = emu
        .token_requests()
        .iter()
        .map(|r| r.form_value("grant_type").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        grants.iter().filter(|g| *g == "authorization_code").count(),
        1,
        "{grants:?}"
    );
    // At least one per other call: the emulator spends a refresh token on use, so concurrent
    // redemptions for different scopes retry with the token the winner stored.
    assert!(
        grants.iter().filter(|g| *g == "refresh_token").count() >= 3,
        "{grants:?}"
    );
}

/// A redemption that never reached Entra (the connection dropped on every attempt) keeps the
/// code: the next call redeems it (Python clears the code only after a success).
#[tokio::test]
async fn the_code_survives_a_redemption_that_never_reached_entra() {
    let emu = emulator().await;
    let code = code(&emu, None);
    let cred = credential(&emu, &code, REDIRECT, None);
    emu.add_fault(
        azidentity_emulator::Fault::on_path("/oauth2/v2.0/token")
            .drop_connection()
            .times(4),
    );
    let err = cred.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert!(err.message().contains("no usable answer"), "{err}");
    // A 5xx is the service failing, not a refusal: the code is kept too.
    emu.add_fault(
        azidentity_emulator::Fault::on_path("/oauth2/v2.0/token")
            .status(503, r#"{"error":"temporarily_unavailable"}"#)
            .times(4),
    );
    let err = cred.get_token(&[GRAPH], &none()).await.unwrap_err();
    assert_eq!(err.http().map(|h| h.status), Some(503), "{err}");
    let token = cred.get_token(&[GRAPH], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    let last = emu.token_requests().pop().unwrap();
    assert_eq!(last.form_value("code"), Some(code.as_str()));
}

//! Continuous access evaluation end to end: a CAE token is revoked at the emulator, the
//! resource answers with a claims challenge, and a request carrying the challenge bypasses the
//! cache and gets a token the resource accepts.

mod common;

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Secret, TokenCredential,
    TokenRequestOptions, UsernamePasswordCredential, UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, ResourceAnswer, RunningEmulator,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;

fn options(emu: &RunningEmulator) -> ClientOptions {
    ClientOptions {
        disable_instance_discovery: true,
        ..client_options(emu)
    }
}

/// The decoded `claims` of an `insufficient_claims` challenge.
fn challenge_claims(www_authenticate: &str) -> String {
    let encoded = www_authenticate
        .split("claims=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a claims parameter");
    String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
}

async fn revoke_and_recover(
    emu: &RunningEmulator,
    cred: &dyn TokenCredential,
    scope: &str,
    subject: &str,
) {
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..Default::default()
    };
    let token = cred.get_token(&[scope], &cae).await.unwrap();
    assert!(matches!(
        emu.call_resource(token.token().secret()),
        ResourceAnswer::Accepted(_)
    ));

    emu.revoke_tokens(subject);
    let ResourceAnswer::Rejected(challenge) = emu.call_resource(token.token().secret()) else {
        panic!("a revoked CAE token must be refused");
    };
    assert!(
        challenge.contains("error=\"insufficient_claims\""),
        "{challenge}"
    );
    let claims = challenge_claims(&challenge);
    assert!(claims.contains("\"nbf\""), "{claims}");

    // Without the challenge the cache still holds the revoked token.
    assert_eq!(
        cred.get_token(&[scope], &cae).await.unwrap().token(),
        token.token()
    );
    let with_claims = TokenRequestOptions {
        claims: Some(claims.clone()),
        enable_cae: true,
        ..Default::default()
    };
    let fresh = cred.get_token(&[scope], &with_claims).await.unwrap();
    assert_ne!(fresh.token(), token.token());
    assert!(matches!(
        emu.call_resource(fresh.token().secret()),
        ResourceAnswer::Accepted(_)
    ));
    let sent = emu.token_requests().pop().unwrap();
    let merged: serde_json::Value =
        serde_json::from_str(sent.form_value("claims").unwrap()).unwrap();
    assert_eq!(merged["access_token"]["nbf"]["essential"], true);
    assert_eq!(merged["access_token"]["xms_cc"]["values"][0], "CP1");
    // The fresh token replaced the revoked one in the cache.
    assert_eq!(
        cred.get_token(&[scope], &cae).await.unwrap().token(),
        fresh.token()
    );
}

#[tokio::test]
async fn service_principal_token_revoked_then_renewed_with_the_claims_challenge() {
    let emu = emulator().await;
    let cred = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: options(&emu),
            ..Default::default()
        },
    )
    .unwrap();
    revoke_and_recover(
        &emu,
        &cred,
        "https://vault.azure.net/.default",
        DEFAULT_CLIENT_ID,
    )
    .await;
}

/// Revoking a user's sessions also ends the refresh token (Entra's `revokeSignInSessions`): the
/// challenge is answered by signing in again, which the password credential can do.
#[tokio::test]
async fn user_token_revoked_then_renewed_by_signing_in_again() {
    let emu = emulator().await;
    let cred = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        Secret::new(DEFAULT_PASSWORD),
        UsernamePasswordCredentialOptions {
            client_options: options(&emu),
            tenant_id: Some(DEFAULT_TENANT_ID.to_owned()),
            ..Default::default()
        },
    )
    .unwrap();
    revoke_and_recover(
        &emu,
        &cred,
        "https://graph.microsoft.com/User.Read",
        DEFAULT_USERNAME,
    )
    .await;
    let requests = emu.token_requests();
    let grants: Vec<_> = requests
        .iter()
        .rev()
        .take(2)
        .map(|r| r.form_value("grant_type").unwrap_or_default())
        .collect();
    assert_eq!(
        grants,
        ["password", "refresh_token"],
        "the refresh token was refused first"
    );
}

#[tokio::test]
async fn a_revoked_non_cae_token_is_refused_without_a_challenge() {
    let emu = emulator().await;
    let cred = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: options(&emu),
            ..Default::default()
        },
    )
    .unwrap();
    let token = cred
        .get_token(&["https://vault.azure.net/.default"], &Default::default())
        .await
        .unwrap();
    emu.revoke_tokens(DEFAULT_CLIENT_ID);
    let ResourceAnswer::Rejected(answer) = emu.call_resource(token.token().secret()) else {
        panic!("revoked");
    };
    assert!(
        answer.contains("invalid_token") && !answer.contains("claims="),
        "{answer}"
    );
}

//! Our credentials behind the official `azure_core::credentials::TokenCredential`.
#![cfg(feature = "azure_core")]

mod common;

use std::sync::Arc;

use azidentity::{
    AzureCoreCredential, ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    Secret,
};
use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};

fn credential(
    options: ClientOptions,
    secret: &str,
) -> Arc<dyn azure_core::credentials::TokenCredential> {
    let inner = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(secret),
        ClientSecretCredentialOptions {
            client_options: options,
            ..Default::default()
        },
    )
    .unwrap();
    AzureCoreCredential::new(inner).into_arc()
}

#[tokio::test]
async fn official_sdk_trait_gets_our_cached_tokens() {
    let emu = common::emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..common::client_options(&emu)
    };
    let cred = credential(options, DEFAULT_CLIENT_SECRET);
    let first = cred
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap();
    let second = cred
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap();
    assert_eq!(first.token, second.token);
    let claims = emu.verify_token(first.token.secret()).unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        first.expires_on.unix_timestamp()
    );
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test]
async fn failures_are_credential_errors_with_our_message() {
    let emu = common::emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..common::client_options(&emu)
    };
    let cred = credential(options, "not-the-secret-828");
    let err = cred
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap_err();
    assert_eq!(*err.kind(), azure_core::error::ErrorKind::Credential);
    let text = format!("{err} {err:?}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("not-the-secret-828"), "{text}");
}

//! Our credentials behind the official `azure_core::credentials::TokenCredential`, and the
//! official Key Vault `SecretClient` (azure_security_keyvault_secrets 1.0) using them against an
//! emulated vault: challenge flow, tokens checked with the emulator, one token for many calls,
//! our error found inside the SDK's.
#![cfg(feature = "azure_core")]

mod common;
mod sdk_support;

use std::sync::Arc;

use azidentity::{
    AzureCoreCredential, ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    HttpOptions, Platform, Secret,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, RunningEmulator,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use sdk_support::https_stub::HttpsStub;
use sdk_support::key_vault;

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

/// One platform for our credential and the SDK's transport: the emulator's CA through
/// `SSL_CERT_FILE`, the vault's CA as an additional root, the vault's name pinned to 127.0.0.1.
fn shared_platform(emu: &RunningEmulator, vault: &HttpsStub) -> Platform {
    common::platform(emu, &[]).with_http_options(HttpOptions {
        additional_root_certificates: vec![vault.ca_pem.clone()],
        resolve_overrides: vec![(key_vault::VAULT_HOST.to_owned(), vault.address)],
        ..HttpOptions::default()
    })
}

fn secret_client(emu: &RunningEmulator, vault: &HttpsStub, secret: &str) -> SecretClient {
    let platform = shared_platform(emu, vault);
    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(secret),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform: platform.clone(),
                ..common::client_options(emu)
            },
            ..Default::default()
        },
    )
    .unwrap();
    let mut options = SecretClientOptions::default();
    options.client_options.transport = Some(AzureCoreCredential::transport(&platform).unwrap());
    let endpoint = format!(
        "https://{}:{}/",
        key_vault::VAULT_HOST,
        vault.address.port()
    );
    // Any credential goes straight into the constructor.
    SecretClient::new(&endpoint, credential.into(), Some(options)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_secret_client_gets_a_secret_through_the_challenge() {
    let emu = Arc::new(common::emulator().await);
    let vault = key_vault::start(emu.clone(), DEFAULT_TENANT_ID).await;
    let client = secret_client(&emu, &vault, DEFAULT_CLIENT_SECRET);

    let secret = client
        .get_secret(key_vault::SECRET_NAME, None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.value.as_deref(), Some(key_vault::SECRET_VALUE));

    let requests = vault.requests();
    assert_eq!(requests.len(), 2, "challenge, then the authorized request");
    assert_eq!(requests[0].bearer(), None);
    let token = requests[1].bearer().expect("the retry carries our token");
    let claims = emu.verify_token(token).unwrap();
    assert_eq!(claims["aud"], key_vault::RESOURCE);
    let token_requests = emu.token_requests();
    assert_eq!(token_requests.len(), 1);
    assert_eq!(
        token_requests[0].form_value("scope"),
        Some("https://vault.azure.net/.default")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_cold_calls_cost_one_token_request() {
    let emu = Arc::new(common::emulator().await);
    let vault = key_vault::start(emu.clone(), DEFAULT_TENANT_ID).await;
    let client = Arc::new(secret_client(&emu, &vault, DEFAULT_CLIENT_SECRET));
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .get_secret(key_vault::SECRET_NAME, None)
                    .await
                    .unwrap()
                    .into_model()
                    .unwrap()
                    .value
            })
        })
        .collect();
    for call in calls {
        assert_eq!(
            call.await.unwrap().as_deref(),
            Some(key_vault::SECRET_VALUE)
        );
    }
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_error_is_found_inside_the_sdk_error() {
    let emu = Arc::new(common::emulator().await);
    let vault = key_vault::start(emu.clone(), DEFAULT_TENANT_ID).await;
    let client = secret_client(&emu, &vault, "not-the-secret-2231");

    let err = client
        .get_secret(key_vault::SECRET_NAME, None)
        .await
        .unwrap_err();
    let ours = azidentity::Error::find_in(&err).expect("our error is in the SDK error's chain");
    assert_eq!(ours.credential(), "ClientSecretCredential");
    assert_eq!(
        ours.http().and_then(|h| h.aadsts()).as_deref(),
        Some("AADSTS7000215")
    );
    assert!(
        !err.to_string().contains("AADSTS"),
        "the SDK's own text hides it ({err}), which is why find_in exists"
    );
    let text = format!("{err} {err:?} {ours} {ours:?}");
    assert!(!text.contains("not-the-secret-2231"), "{text}");
    assert_eq!(vault.requests().len(), 1, "only the unauthenticated probe");
}

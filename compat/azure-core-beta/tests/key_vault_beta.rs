//! `azure_core_adapter!` against azure_core 1.2.0-beta.1: the official Key Vault `SecretClient`
//! of that line (1.1.0-beta.1) gets a secret from the emulated vault with our token, and our
//! error is found inside its error.

#[path = "../../../crates/azidentity/tests/sdk_support/mod.rs"]
mod sdk_support;

use std::sync::Arc;

use azidentity::{
    ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions, Env, HttpOptions,
    Platform, Secret,
};
use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, Emulator};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use sdk_support::key_vault;

azidentity::azure_core_adapter!(
    /// Our credentials for SDK clients on the 1.2.0-beta line.
    struct SdkCredential
);

async fn client(
    secret: &str,
) -> (
    Arc<azidentity_emulator::RunningEmulator>,
    sdk_support::https_stub::HttpsStub,
    SecretClient,
) {
    let emu = Arc::new(Emulator::builder().start().await.unwrap());
    let vault = key_vault::start(emu.clone(), DEFAULT_TENANT_ID).await;
    let platform = Platform::system()
        .with_env(Env::from_pairs([(
            "SSL_CERT_FILE",
            emu.ca_path().to_string_lossy().into_owned(),
        )]))
        .with_http_options(HttpOptions {
            additional_root_certificates: vec![vault.ca_pem.clone()],
            resolve_overrides: vec![(key_vault::VAULT_HOST.to_owned(), vault.address)],
            ..HttpOptions::default()
        });
    let credential = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(secret),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                authority_host: Some(emu.authority_host()),
                disable_instance_discovery: true,
                platform: platform.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let mut options = SecretClientOptions::default();
    options.client_options.transport = Some(SdkCredential::transport(&platform).unwrap());
    let endpoint = format!(
        "https://{}:{}/",
        key_vault::VAULT_HOST,
        vault.address.port()
    );
    let client = SecretClient::new(
        &endpoint,
        SdkCredential::from(credential).into(),
        Some(options),
    )
    .unwrap();
    (emu, vault, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_secret_client_gets_a_secret_with_our_token() {
    let (emu, vault, client) = client(DEFAULT_CLIENT_SECRET).await;
    let secret = client
        .get_secret(key_vault::SECRET_NAME, None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(secret.value.as_deref(), Some(key_vault::SECRET_VALUE));
    let requests = vault.requests();
    assert_eq!(requests.len(), 2, "challenge, then the authorized request");
    let claims = emu.verify_token(requests[1].bearer().unwrap()).unwrap();
    assert_eq!(claims["aud"], key_vault::RESOURCE);
    assert_eq!(emu.token_requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_sdk_error_holds_ours() {
    let (_emu, _vault, client) = client("not-the-secret-7781").await;
    let err = client
        .get_secret(key_vault::SECRET_NAME, None)
        .await
        .unwrap_err();
    let ours = azidentity::Error::find_in(&err).expect("our error is in the chain");
    assert_eq!(
        ours.http().and_then(|h| h.aadsts()).as_deref(),
        Some("AADSTS7000215")
    );
    assert!(!format!("{err:?} {ours:?}").contains("not-the-secret-7781"));
}

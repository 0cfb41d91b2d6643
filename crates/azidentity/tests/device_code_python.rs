//! User sign-ins shared with Microsoft's Python azure-identity 1.27.0 through the persistent
//! cache and the AuthenticationRecord (reference tests 4 and 5): whoever signed in, the other
//! authenticates silently, and later processes get cache hits without a request. Needs
//! `AZIDENTITY_PYTHON` (set by scripts/test).

mod common;
mod persistence_support;

use std::sync::Arc;

use azidentity::{
    AuthenticationRecord, ClientOptions, DeviceCodeCredential, DeviceCodeCredentialOptions,
    TokenCachePersistenceOptions, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, RunningEmulator,
};
use persistence_support::{TempDir, host_and_port, last_json, run_python, script};

const ARM: &str = "https://management.azure.com/.default";
const DEV_SIGN_ON: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

async fn emulator() -> Arc<RunningEmulator> {
    let emu = Emulator::builder()
        .app(Application::public(DEV_SIGN_ON).multi_tenant(true))
        .start()
        .await
        .unwrap();
    emu.set_device_code_timing(900, 1);
    emu.auto_approve_device_codes(Some((DEFAULT_USERNAME, 0)));
    Arc::new(emu)
}

async fn python(emu: &RunningEmulator, home: &TempDir, args: &[&str]) -> serde_json::Value {
    let script = script("device_code.py");
    let mut all = vec![script.to_str().unwrap()];
    all.extend_from_slice(args);
    let ca = emu.ca_path().display().to_string();
    last_json(
        &run_python(
            &all,
            home.path(),
            &[
                ("REQUESTS_CA_BUNDLE", ca.as_str()),
                ("SSL_CERT_FILE", ca.as_str()),
            ],
            "",
        )
        .await,
    )
}

fn rust_credential(
    emu: &RunningEmulator,
    home: &TempDir,
    record: Option<AuthenticationRecord>,
) -> DeviceCodeCredential {
    DeviceCodeCredential::new(DeviceCodeCredentialOptions {
        authentication_record: record.clone(),
        disable_automatic_authentication: record.is_some(),
        prompt_callback: Some(Arc::new(|_: &azidentity::DeviceCodeMessage| {})),
        cache_persistence_options: Some(TokenCachePersistenceOptions {
            allow_unencrypted_storage: true,
            ..Default::default()
        }),
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform: common::platform(emu, &[]).with_home_dir(home.path()),
            ..common::client_options(emu)
        },
        ..Default::default()
    })
    .unwrap()
}

fn user_agent_is_python(emu: &RunningEmulator, index: usize) -> bool {
    emu.token_requests()[index]
        .header("user-agent")
        .is_some_and(|a| a.starts_with("azsdk-python-identity/1.27.0"))
}

/// Reference test 5: we sign in; Python, given our record, gets a token without prompting
/// (redeeming our refresh token, as its realm differs), and then we hit what Python stored.
#[tokio::test]
async fn python_authenticates_silently_from_our_sign_in() {
    let emu = emulator().await;
    let home = TempDir::new("dc-rust-first");
    let record = rust_credential(&emu, &home, None)
        .authenticate(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(record.client_id(), DEV_SIGN_ON);
    let before = emu.token_requests().len();
    let answer = python(
        &emu,
        &home,
        &["silent", &host_and_port(&emu), &record.serialize(), ARM],
    )
    .await;
    let claims = emu
        .verify_token(answer["token"].as_str().unwrap())
        .expect("Python got a token the emulator issued");
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    let after = emu.token_requests();
    assert_eq!(after.len(), before + 1, "one refresh, no device code");
    assert!(user_agent_is_python(&emu, before));
    assert_eq!(
        after[before].form_value("grant_type"),
        Some("refresh_token")
    );
    assert_eq!(after[before].form_value("client_id"), Some(DEV_SIGN_ON));
    assert_eq!(
        after[before].path,
        format!("/{DEFAULT_TENANT_ID}/oauth2/v2.0/token")
    );

    // We find the access token Python stored for the record's tenant: no request.
    let silent = rust_credential(&emu, &home, Some(record));
    let token = silent
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(token.token().secret(), answer["token"].as_str().unwrap());
    assert_eq!(emu.token_requests().len(), before + 1);
}

/// Reference test 4: Python signs in; we authenticate silently from its record and cache; a
/// later Python process hits the access token we stored, with no request.
#[tokio::test]
async fn we_authenticate_silently_from_pythons_sign_in() {
    let emu = emulator().await;
    let home = TempDir::new("dc-python-first");
    let signed_in = python(
        &emu,
        &home,
        &["authenticate", &host_and_port(&emu), DEV_SIGN_ON, ARM],
    )
    .await;
    let record = AuthenticationRecord::deserialize(signed_in["record"].as_str().unwrap())
        .expect("Python's record reads");
    assert_eq!(record.username(), DEFAULT_USERNAME);
    assert_eq!(record.tenant_id(), DEFAULT_TENANT_ID);
    assert_eq!(record.authority(), host_and_port(&emu));

    let before = emu.token_requests().len();
    let token = rust_credential(&emu, &home, Some(record.clone()))
        .get_token(&[ARM], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    let redeemed = &emu.token_requests()[before..];
    assert_eq!(redeemed.len(), 1);
    assert_eq!(redeemed[0].form_value("grant_type"), Some("refresh_token"));
    assert_eq!(redeemed[0].form_value("client_info"), Some("1"));
    assert!(
        redeemed[0]
            .form_value("scope")
            .is_some_and(|s| s.contains("offline_access openid profile")),
        "{:?}",
        redeemed[0].form_value("scope")
    );

    let answer = python(
        &emu,
        &home,
        &["silent", &host_and_port(&emu), &record.serialize(), ARM],
    )
    .await;
    assert_eq!(answer["token"].as_str(), Some(token.token().secret()));
    assert_eq!(
        emu.token_requests().len(),
        before + 1,
        "Python hit our entry"
    );
}

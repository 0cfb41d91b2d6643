//! EnvironmentCredential end to end: each configuration Python supports, chosen from the
//! platform's environment, against the emulator.

mod certs;
mod common;

use azidentity::{
    ClientOptions, EnvironmentCredential, EnvironmentCredentialOptions, ErrorKind, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{
    Application, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD,
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, RunningEmulator,
};
use certs::{Scratch, TestCert};
use common::*;

const SCOPE: &str = "https://vault.azure.net/.default";
const CERT_APP: &str = "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f";

fn credential(emu: &RunningEmulator, vars: &[(&str, &str)]) -> EnvironmentCredential {
    let mut all = vec![("AZURE_AUTHORITY_HOST", emu.authority_host())];
    all.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    EnvironmentCredential::new(EnvironmentCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            retry: quick_retries(),
            platform: platform(emu, &pairs),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

#[tokio::test]
async fn client_secret_configuration() {
    let emu = emulator().await;
    let cred = credential(
        &emu,
        &[
            ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        ],
    );
    let token = cred.get_token(&[SCOPE], &none()).await.unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["appid"],
        DEFAULT_CLIENT_ID
    );
}

#[tokio::test]
async fn certificate_configuration_with_password_and_chain() {
    let ca = TestCert::ca("Env CA");
    let leaf = TestCert::issued_by(&ca, "env-app");
    let emu = Emulator::builder()
        .app(Application::confidential(CERT_APP).trusted_subject_name(&ca.cert_pem, "CN=env-app"))
        .start()
        .await
        .unwrap();
    let scratch = Scratch::new();
    let pfx = scratch.write("env.pfx", &leaf.pkcs12("env-pfx-pass-7", false, &[&ca]));
    let pfx = pfx.to_str().unwrap();
    let base = [
        ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
        ("AZURE_CLIENT_ID", CERT_APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pfx),
        ("AZURE_CLIENT_CERTIFICATE_PASSWORD", "env-pfx-pass-7"),
    ];
    // Subject name / issuer needs the chain; "false" means false (unlike Python).
    let mut without = base.to_vec();
    without.push(("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "false"));
    let err = credential(&emu, &without)
        .get_token(&[SCOPE], &none())
        .await
        .unwrap_err();
    assert_eq!(err.credential(), "EnvironmentCredential");
    assert_eq!(
        err.http().unwrap().aadsts().as_deref(),
        Some("AADSTS700027"),
        "{err}"
    );

    let mut with = base.to_vec();
    with.push(("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "True"));
    let token = credential(&emu, &with)
        .get_token(&[SCOPE], &none())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["appid"],
        CERT_APP
    );
}

#[tokio::test]
async fn username_password_configuration_with_the_deprecation_warning() {
    let emu = emulator().await;
    let (logs, _guard) = LogCapture::install();
    let cred = credential(
        &emu,
        &[
            ("AZURE_CLIENT_ID", DEFAULT_PUBLIC_CLIENT_ID),
            ("AZURE_USERNAME", DEFAULT_USERNAME),
            ("AZURE_PASSWORD", DEFAULT_PASSWORD),
        ],
    );
    let token = cred
        .get_token(&["https://graph.microsoft.com/User.Read"], &none())
        .await
        .unwrap();
    assert_eq!(
        emu.verify_token(token.token().secret()).unwrap()["upn"],
        DEFAULT_USERNAME
    );
    // No tenant: the organizations endpoint finds the user's.
    assert_eq!(
        emu.token_requests()[0].path,
        "/organizations/oauth2/v2.0/token"
    );
    let text = logs.text();
    assert!(
        text.contains("doesn't support multifactor authentication"),
        "{text}"
    );
    assert!(
        text.contains("Environment is configured for UsernamePasswordCredential"),
        "{text}"
    );
    assert!(!text.contains(DEFAULT_PASSWORD), "{text}");
}

#[tokio::test]
async fn a_partial_configuration_warns_with_names_only_and_is_unavailable() {
    let emu = emulator().await;
    let (logs, _guard) = LogCapture::install();
    let cred = credential(
        &emu,
        &[
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZURE_CLIENT_SECRET", "partial-secret-value-31"),
        ],
    );
    let err = cred.get_token(&[SCOPE], &none()).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CredentialUnavailable),
        "{err}"
    );
    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains(
            "Incomplete environment configuration for EnvironmentCredential. These variables \
             are set: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"
        ),
        "{text}"
    );
    assert!(!text.contains("partial-secret-value-31"), "{text}");
    assert!(emu.requests().is_empty());
}

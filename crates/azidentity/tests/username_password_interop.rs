//! Microsoft's Python UsernamePasswordCredential (sync only, MSAL: user realm discovery, OpenID
//! metadata, password grant) and EnvironmentCredential configured for it, against the
//! emulator; ours against the same configuration. Needs AZIDENTITY_PYTHON.
//!
//! MSAL asks for the user realm on port 443 whatever the authority's port, so the emulator
//! listens on 443 when it can (root, as in `scripts/test`'s sandbox); otherwise the script
//! adds the host to MSAL's list of hosts without user realm discovery.

mod common;
mod interop;

use azidentity::{
    ClientOptions, Secret, TokenCredential, UsernamePasswordCredential,
    UsernamePasswordCredentialOptions,
};
use azidentity_emulator::{
    DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator,
};
use common::*;

const SCOPE: &str = "https://vault.azure.net/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_username_password_and_environment() {
    let (emu, on_443) = match Emulator::builder().port(443).start().await {
        Ok(emu) => (emu, true),
        Err(e) => {
            eprintln!("port 443 unavailable ({e}); MSAL's user realm discovery is skipped");
            (emulator().await, false)
        }
    };
    let skip = if on_443 { "" } else { "1" };
    let results = interop::run(
        &emu,
        "password",
        "sync",
        &[
            ("AZID_CLIENT_ID", DEFAULT_PUBLIC_CLIENT_ID),
            ("AZID_USERNAME", DEFAULT_USERNAME),
            ("AZID_PASSWORD", DEFAULT_PASSWORD),
            ("AZID_SCOPE", SCOPE),
            ("AZID_SKIP_USER_REALM", skip),
        ],
    )
    .await;
    let claims = interop::token_claims(&emu, &results, "sync");
    assert_eq!(claims["upn"], DEFAULT_USERNAME);
    let paths: Vec<String> = emu.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths.iter().any(|p| p.starts_with("/common/userrealm/")),
        on_443,
        "MSAL asked for the user realm: {paths:?}"
    );
    let token = emu.token_requests().pop().unwrap();
    assert_eq!(token.form_value("grant_type"), Some("password"));
    assert_eq!(token.form_value("username"), Some(DEFAULT_USERNAME));

    let results = interop::run(
        &emu,
        "environment",
        "sync",
        &[
            ("AZURE_CLIENT_ID", DEFAULT_PUBLIC_CLIENT_ID),
            ("AZURE_USERNAME", DEFAULT_USERNAME),
            ("AZURE_PASSWORD", DEFAULT_PASSWORD),
            ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
            ("AZID_SCOPE", SCOPE),
            ("AZID_SKIP_USER_REALM", skip),
        ],
    )
    .await;
    assert_eq!(
        interop::token_claims(&emu, &results, "sync")["upn"],
        DEFAULT_USERNAME
    );

    let ours = UsernamePasswordCredential::new(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        Secret::new(DEFAULT_PASSWORD),
        UsernamePasswordCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(&emu)
            },
            tenant_id: None,
            ..Default::default()
        },
    )
    .unwrap();
    let token = ours.get_token(&[SCOPE], &Default::default()).await.unwrap();
    interop::verify_with_jwks(&emu, DEFAULT_TENANT_ID, token.token().secret()).await;
}

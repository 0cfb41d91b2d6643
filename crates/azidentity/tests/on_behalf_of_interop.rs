//! Microsoft's Python OnBehalfOfCredential (both stacks) against the emulator, and ours against
//! the same configuration. Needs AZIDENTITY_PYTHON.

mod common;
mod interop;

use azidentity::{
    ClientOptions, OnBehalfOfAuth, OnBehalfOfCredential, OnBehalfOfCredentialOptions, Secret,
    TokenCredential,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USERNAME,
};
use common::*;

const SCOPE: &str = "https://graph.microsoft.com/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_rust_on_behalf_of() {
    let emu = emulator().await;
    let user_assertion = emu
        .user_token(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            &format!("api://{DEFAULT_CLIENT_ID}/access_as_user"),
        )
        .unwrap();
    let results = interop::run(
        &emu,
        "obo",
        "both",
        &[
            ("AZID_TENANT", DEFAULT_TENANT_ID),
            ("AZID_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZID_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
            ("AZID_USER_ASSERTION", &user_assertion),
            ("AZID_SCOPE", SCOPE),
        ],
    )
    .await;
    for stack in ["sync", "async"] {
        let claims = interop::token_claims(&emu, &results, stack);
        assert_eq!(claims["upn"], DEFAULT_USERNAME, "{stack}");
        assert_eq!(claims["appid"], DEFAULT_CLIENT_ID, "{stack}");
    }
    let ours = OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(user_assertion),
        OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
        OnBehalfOfCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                ..client_options(&emu)
            },
            ..Default::default()
        },
    )
    .unwrap();
    let token = ours.get_token(&[SCOPE], &Default::default()).await.unwrap();
    interop::verify_with_jwks(&emu, DEFAULT_TENANT_ID, token.token().secret()).await;
}

//! get_bearer_token_provider against the emulator.

mod common;

use std::sync::Arc;

use azidentity::{
    ClientOptions, ClientSecretCredential, ErrorKind, Secret, get_bearer_token_provider,
};

#[tokio::test]
async fn header_values_come_from_the_cache() {
    let emu = common::emulator().await;
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..common::client_options(&emu)
    };
    let credential = common::client_secret_credential(options);
    let provider =
        get_bearer_token_provider(Arc::new(credential), &["https://vault.azure.net/.default"]);
    let header = provider.authorization_header().await.unwrap();
    let token = header
        .secret()
        .strip_prefix("Bearer ")
        .expect("Bearer prefix");
    assert_eq!(
        emu.verify_token(token).unwrap()["aud"],
        "https://vault.azure.net"
    );
    assert_eq!(provider.token().await.unwrap().secret(), token);
    assert_eq!(emu.token_requests().len(), 1);
    assert!(!format!("{provider:?} {header:?}").contains(token));

    let empty = get_bearer_token_provider(
        Arc::new(
            ClientSecretCredential::new("t", "c", Secret::new("s"), Default::default()).unwrap(),
        ),
        &[],
    );
    let err = empty.token().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidConfiguration));
}

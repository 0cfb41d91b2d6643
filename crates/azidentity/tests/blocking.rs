//! The blocking facade from plain threads, against the emulator.

mod common;

use std::sync::Arc;

use azidentity::blocking::BlockingCredential;
use azidentity::{ClientOptions, ErrorKind, TokenRequestOptions};

#[test]
fn threads_share_one_credential_and_cache() {
    // The emulator runs on its own runtime; the test's threads have none.
    let server = tokio::runtime::Runtime::new().unwrap();
    let emu = server.block_on(common::emulator());
    let options = ClientOptions {
        disable_instance_discovery: true,
        ..common::client_options(&emu)
    };
    let credential = common::client_secret_credential(options);
    let blocking = Arc::new(BlockingCredential::new(credential).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let blocking = blocking.clone();
            std::thread::spawn(move || {
                blocking
                    .get_token(
                        &["https://vault.azure.net/.default"],
                        &TokenRequestOptions::default(),
                    )
                    .map(|t| t.token().clone())
            })
        })
        .collect();
    let tokens: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(emu.token_requests().len(), 1);

    // Inside a runtime the facade refuses instead of stalling it.
    let err = server
        .block_on(async {
            blocking.get_token(
                &["https://vault.azure.net/.default"],
                &TokenRequestOptions::default(),
            )
        })
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidConfiguration),
        "{err}"
    );
}

//! A cached `get_token` allocates and frees nothing: the regression guard of the fast path (a
//! ready `TokenFuture`, an `Arc`'d secret, a borrowed `Bearer`, a borrowed key). Counted, not
//! timed: `allocation_counter` installs a counting global allocator in this test binary only and
//! counts the calling thread's allocations (the runtime and the emulator run on other threads).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use allocation_counter::AllocationInfo;
use azidentity::{
    ClientOptions, DefaultAzureCredential, DefaultAzureCredentialOptions, TokenCredential,
    TokenRequestOptions,
};
use azidentity_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use common::*;

/// Polls the credential's future once, here and now (no runtime, so nothing else runs on this
/// thread), and checks that it was ready with a token.
fn poll_once(credential: &dyn TokenCredential, scopes: &[&str], options: &TokenRequestOptions) {
    let mut future = credential.get_token(scopes, options);
    assert!(
        future.is_ready(),
        "{}: a cached token must come back in a ready future ({future:?})",
        credential.name()
    );
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut future).poll(&mut cx) {
        Poll::Ready(Ok(token)) => drop(std::hint::black_box(token)),
        Poll::Ready(Err(e)) => panic!("{}: {e}", credential.name()),
        Poll::Pending => panic!("{}: a ready future was pending", credential.name()),
    }
}

/// Fills the cache with one awaited call, then checks that the first call allocated (so the
/// counter works) and that 1,000 cached calls allocate nothing.
async fn assert_hits_allocate_nothing(
    credential: &dyn TokenCredential,
    first: &[&str],
    again: &[&str],
    options: &TokenRequestOptions,
) {
    // The miss allocates on this thread (its fetching future at least): the counter sees it.
    let mut cold = None;
    let missed = allocation_counter::measure(|| cold = Some(credential.get_token(first, options)));
    cold.expect("called").await.expect("the first token");
    assert!(
        missed.count_total > 0,
        "the counter saw no allocation for a miss"
    );
    let hits = allocation_counter::measure(|| {
        for _ in 0..1_000 {
            poll_once(credential, again, options);
        }
    });
    let none = AllocationInfo::default();
    assert_eq!(
        hits,
        none,
        "{}: 1,000 cached get_token calls for {again:?} used the heap",
        credential.name()
    );
}

const ARM: &str = "https://management.azure.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_client_secret_token_allocates_nothing() {
    let emu = emulator().await;
    let credential = client_secret_credential(client_options(&emu));
    let none = TokenRequestOptions::default();
    assert_hits_allocate_nothing(&credential, &[ARM], &[ARM], &none).await;
    // Scopes are case-insensitive: another spelling of the scope is a hit too.
    assert_hits_allocate_nothing(
        &credential,
        &[VAULT],
        &["HTTPS://vault.AZURE.net/.default"],
        &none,
    )
    .await;
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..Default::default()
    };
    assert_hits_allocate_nothing(&credential, &[ARM], &[ARM], &cae).await;
    // Through the trait object applications store.
    let shared: Arc<dyn TokenCredential> = Arc::new(client_secret_credential(client_options(&emu)));
    assert_hits_allocate_nothing(&shared, &[ARM], &[ARM], &none).await;
    assert_eq!(emu.token_requests().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_token_from_the_default_chain_allocates_nothing() {
    let emu = emulator().await;
    let authority = emu.authority_host();
    let platform = platform(
        &emu,
        &[
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("AZURE_TENANT_ID", DEFAULT_TENANT_ID),
            ("AZURE_CLIENT_ID", DEFAULT_CLIENT_ID),
            ("AZURE_CLIENT_SECRET", DEFAULT_CLIENT_SECRET),
        ],
    );
    let credential = DefaultAzureCredential::new(DefaultAzureCredentialOptions {
        client_options: ClientOptions {
            disable_instance_discovery: true,
            platform,
            ..Default::default()
        },
        // Never near IMDS, whatever the chain decides to start early.
        exclude_managed_identity_credential: Some(true),
        ..Default::default()
    })
    .expect("valid configuration");
    let none = TokenRequestOptions::default();
    assert_hits_allocate_nothing(&credential, &[ARM], &[ARM], &none).await;
    assert_eq!(emu.token_requests().len(), 1);
}

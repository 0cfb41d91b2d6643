//! ChainedTokenCredential: unavailable members let the next one try, anything else stops the
//! chain, every attempt is in the error, and no member is remembered between calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use azidentity::{
    AccessToken, ChainedTokenCredential, Error, ErrorKind, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

#[derive(Debug)]
struct Scripted {
    name: &'static str,
    outcome: Outcome,
    calls: AtomicUsize,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Token,
    Unavailable,
    Failed,
}

impl Scripted {
    fn new(name: &'static str, outcome: Outcome) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            outcome,
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl TokenCredential for Scripted {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
        _options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = match self.outcome {
            Outcome::Token => Ok(AccessToken::new(
                format!("token-from-{}", self.name),
                time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            )),
            Outcome::Unavailable => Err(Error::new(
                ErrorKind::CredentialUnavailable,
                self.name,
                format!("{} is not configured", self.name),
            )),
            Outcome::Failed => Err(Error::new(
                ErrorKind::AuthenticationFailed,
                self.name,
                "AADSTS7000215: Invalid client secret provided.\nsecond line",
            )),
        };
        TokenFuture::ready(result)
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

fn chain(members: &[&Arc<Scripted>]) -> ChainedTokenCredential {
    ChainedTokenCredential::new(
        members
            .iter()
            .map(|m| (*m).clone() as Arc<dyn TokenCredential>)
            .collect(),
    )
    .unwrap()
}

#[tokio::test]
async fn unavailable_members_are_skipped_and_the_first_token_wins() {
    let a = Scripted::new("A", Outcome::Unavailable);
    let b = Scripted::new("B", Outcome::Token);
    let c = Scripted::new("C", Outcome::Token);
    let chain = chain(&[&a, &b, &c]);
    let token = chain
        .get_token(&["s/.default"], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!(token.token().secret(), "token-from-B");
    assert_eq!((a.calls(), b.calls(), c.calls()), (1, 1, 0));
    // Not sticky: the next call walks from the start again.
    chain
        .get_token(&["s/.default"], &TokenRequestOptions::default())
        .await
        .unwrap();
    assert_eq!((a.calls(), b.calls(), c.calls()), (2, 2, 0));
}

#[tokio::test]
async fn a_failure_stops_the_chain_and_every_attempt_is_reported() {
    let a = Scripted::new("A", Outcome::Unavailable);
    let b = Scripted::new("B", Outcome::Failed);
    let c = Scripted::new("C", Outcome::Token);
    let e = chain(&[&a, &b, &c])
        .get_token(&["s/.default"], &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(c.calls(), 0);
    let ErrorKind::Chain(attempts) = e.kind() else {
        panic!("{e:?}");
    };
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].error.is_unavailable());
    assert!(!attempts[1].error.is_unavailable());
    assert!(!e.is_unavailable());
    let text = e.to_string();
    assert!(
        text.starts_with(
            "ChainedTokenCredential: failed to retrieve a token from the included credentials."
        ),
        "{text}"
    );
    assert!(
        text.contains("Attempted credentials:\n\tA: A is not configured\n\tB: AADSTS7000215"),
        "{text}"
    );
    assert!(text.contains("\n\tsecond line"), "{text}");
}

#[tokio::test]
async fn an_all_unavailable_chain_still_stops_an_outer_chain() {
    let inner = chain(&[&Scripted::new("A", Outcome::Unavailable)]);
    let outer_next = Scripted::new("Next", Outcome::Token);
    let outer = ChainedTokenCredential::new(vec![
        Arc::new(inner) as Arc<dyn TokenCredential>,
        outer_next.clone(),
    ])
    .unwrap();
    let e = outer
        .get_token(&["s/.default"], &TokenRequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        outer_next.calls(),
        0,
        "Python raises ClientAuthenticationError here"
    );
    assert!(matches!(e.kind(), ErrorKind::Chain(_)));
}

#[test]
fn an_empty_chain_is_refused() {
    let e = ChainedTokenCredential::new(Vec::new()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidConfiguration));
    assert!(e.message().contains("at least one credential is required"));
}

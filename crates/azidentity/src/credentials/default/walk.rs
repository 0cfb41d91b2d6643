//! Walking the default chain. When the walk reaches the first member that may start early
//! (managed identity, after environment and workload identity have said they are not
//! configured), that member and every early member below it start at once. Their answers are
//! still taken strictly in priority order, so a lower member's token is used only after every
//! member above it has said it is unavailable; what a member above says cannot change because a
//! member below was already running. The only cost of starting early is a token that may be
//! thrown away (its process or request is cancelled).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use crate::{AccessToken, ChainAttempt, Error, TokenCredential, TokenFuture, TokenRequestOptions};

use super::super::chained::attempt;

/// A member as the walk sees it.
pub(crate) struct WalkMember<'a> {
    pub name: &'static str,
    pub credential: &'a dyn TokenCredential,
    pub early: bool,
}

enum Slot<'a> {
    Waiting,
    Running(TokenFuture<'a>),
    Done(Result<AccessToken, Error>),
    Taken,
}

/// The first token in priority order, and which member gave it; or every attempt made.
pub(crate) async fn walk<'a>(
    members: &[WalkMember<'a>],
    scopes: &'a [&'a str],
    options: &'a TokenRequestOptions,
    concurrent: bool,
) -> Result<(usize, AccessToken), Vec<ChainAttempt>> {
    let mut slots: Vec<Slot<'a>> = members.iter().map(|_| Slot::Waiting).collect();
    let mut started_early = false;
    let mut attempts = Vec::new();
    for (index, member) in members.iter().enumerate() {
        if concurrent && member.early && !started_early {
            started_early = true;
            for (slot, below) in slots[index..].iter_mut().zip(&members[index..]) {
                if below.early {
                    *slot = Slot::Running(below.credential.get_token(scopes, options));
                }
            }
        }
        if matches!(slots[index], Slot::Waiting) {
            slots[index] = Slot::Running(member.credential.get_token(scopes, options));
        }
        drive_until_done(&mut slots, index).await;
        let Slot::Done(result) = std::mem::replace(&mut slots[index], Slot::Taken) else {
            continue;
        };
        match result {
            Ok(token) => {
                tracing::info!(
                    credential = super::NAME,
                    member = member.name,
                    "DefaultAzureCredential acquired a token from {}",
                    member.name
                );
                return Ok((index, token));
            }
            Err(error) => {
                let stop = !error.is_unavailable();
                tracing::debug!(member = member.name, error = %error, stop, "chain member failed");
                attempts.push(attempt(member.name, error));
                if stop {
                    break;
                }
            }
        }
    }
    Err(attempts)
}

/// Polls every running member until the one at `wanted` has finished.
async fn drive_until_done(slots: &mut [Slot<'_>], wanted: usize) {
    poll_fn(|cx| {
        for slot in slots.iter_mut() {
            if let Slot::Running(future) = slot
                && let Poll::Ready(result) = Pin::new(&mut *future).poll(cx)
            {
                *slot = Slot::Done(result);
            }
        }
        if matches!(slots[wanted], Slot::Running(_)) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::{Error, ErrorKind};

    /// Answers after `delay` (tokio time, paused in these tests) with a token or an error.
    #[derive(Debug)]
    struct Slow {
        delay: Duration,
        kind: Option<ErrorKind>,
        started: AtomicUsize,
    }

    impl Slow {
        fn new(ms: u64, kind: Option<ErrorKind>) -> Self {
            Slow {
                delay: Duration::from_millis(ms),
                kind,
                started: AtomicUsize::new(0),
            }
        }
    }

    impl TokenCredential for Slow {
        fn get_token<'a>(
            &'a self,
            _scopes: &'a [&'a str],
            _options: &'a TokenRequestOptions,
        ) -> TokenFuture<'a> {
            self.started.fetch_add(1, Ordering::SeqCst);
            TokenFuture::new(async move {
                tokio::time::sleep(self.delay).await;
                match &self.kind {
                    None => Ok(AccessToken::new(
                        "t",
                        time::OffsetDateTime::now_utc() + time::Duration::hours(1),
                    )),
                    Some(kind) => Err(Error::new(kind.clone(), "Slow", "no")),
                }
            })
        }

        fn name(&self) -> &'static str {
            "Slow"
        }
    }

    fn member<'a>(credential: &'a Slow, early: bool) -> WalkMember<'a> {
        WalkMember {
            name: "Slow",
            credential,
            early,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn early_members_overlap_but_answers_are_taken_in_order() {
        let env = Slow::new(0, Some(ErrorKind::CredentialUnavailable));
        let probe = Slow::new(1000, Some(ErrorKind::CredentialUnavailable));
        let cache = Slow::new(0, Some(ErrorKind::CredentialUnavailable));
        let cli = Slow::new(400, None);
        let options = TokenRequestOptions::default();
        for (concurrent, expected_ms) in [(true, 1000), (false, 1400)] {
            let members = [
                member(&env, false),
                member(&probe, true),
                member(&cache, false),
                member(&cli, true),
            ];
            let started = tokio::time::Instant::now();
            let (index, _) = walk(&members, &["s"], &options, concurrent).await.unwrap();
            assert_eq!(index, 3);
            assert_eq!(started.elapsed(), Duration::from_millis(expected_ms));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_above_wins_over_a_token_below_that_came_first() {
        let probe = Slow::new(1000, Some(ErrorKind::AuthenticationFailed));
        let cli = Slow::new(10, None);
        let options = TokenRequestOptions::default();
        let members = [member(&probe, true), member(&cli, true)];
        let attempts = walk(&members, &["s"], &options, true).await.unwrap_err();
        assert_eq!(attempts.len(), 1);
        assert_eq!(
            cli.started.load(Ordering::SeqCst),
            1,
            "it ran, and its token was dropped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_starts_before_the_first_early_member_is_reached() {
        let env = Slow::new(100, None);
        let cli = Slow::new(10, None);
        let options = TokenRequestOptions::default();
        let members = [member(&env, false), member(&cli, true)];
        let (index, _) = walk(&members, &["s"], &options, true).await.unwrap();
        assert_eq!(index, 0);
        assert_eq!(cli.started.load(Ordering::SeqCst), 0);
    }
}

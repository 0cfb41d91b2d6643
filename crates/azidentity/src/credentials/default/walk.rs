//! Walking the default chain. When the walk reaches the first member that may start early
//! (managed identity, after environment and workload identity have said they are not
//! configured), that member and every early member below it start at once. Their answers are
//! still taken strictly in priority order, so a lower member's token is used only after every
//! member above it has said it is unavailable; what a member above says cannot change because a
//! member below was already running. The only cost of starting early is a token that may be
//! thrown away (its process or request is cancelled).

use std::future::poll_fn;
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
                && let Poll::Ready(result) = future.as_mut().poll(cx)
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

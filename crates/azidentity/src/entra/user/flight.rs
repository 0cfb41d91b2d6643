//! Coordination of user-flow requests without a lock held across a network call.
//!
//! - [`FirstFlight`]: the signed-in account's first grant runs once; concurrent first callers,
//!   whatever their scopes, tenant or CAE flag, wait for its outcome (on a `watch` channel, not
//!   a lock) and then use the account's refresh token instead of racing for a single-use code.
//! - [`Redemptions`]: counts the refresh token redemptions under way per partition, so a caller
//!   whose token was refused (`invalid_grant`, because a concurrent redemption spent it on a
//!   server that rotates strictly) waits until those are stored before deciding the token is
//!   dead.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// Single flight for a once-only operation that may fail (and then be tried again).
#[derive(Debug, Default)]
pub(crate) struct FirstFlight {
    /// Present while the operation runs; completes (`true`) or is dropped when it ends.
    running: Mutex<Option<watch::Receiver<bool>>>,
}

/// What a caller of [`FirstFlight::join`] does.
pub(crate) enum Turn<'a> {
    /// Run the operation; dropping the guard ends the flight (waiters then look again).
    Lead(FlightGuard<'a>),
    /// Another caller ran it; look again at what it left.
    Waited,
}

/// Held by the caller running the operation.
pub(crate) struct FlightGuard<'a> {
    flight: &'a FirstFlight,
    done: watch::Sender<bool>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        *self
            .flight
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.done.send_replace(true);
    }
}

impl FirstFlight {
    /// Leads the operation, or waits for the one under way.
    pub(crate) async fn join(&self) -> Turn<'_> {
        let waiting = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            match &*running {
                Some(rx) => rx.clone(),
                None => {
                    let (done, rx) = watch::channel(false);
                    *running = Some(rx);
                    return Turn::Lead(FlightGuard { flight: self, done });
                }
            }
        };
        let mut waiting = waiting;
        // An error means the leader was dropped: either way it is over.
        let _ = waiting.wait_for(|done| *done).await;
        Turn::Waited
    }
}

/// Refresh token redemptions under way, by partition.
#[derive(Debug, Default)]
pub(crate) struct Redemptions {
    partitions: Mutex<HashMap<String, InFlight>>,
}

#[derive(Debug)]
struct InFlight {
    count: usize,
    /// Bumped whenever one ends.
    ended: watch::Sender<u64>,
}

/// One redemption under way; dropped once its outcome is stored.
pub(crate) struct Redeeming<'a> {
    redemptions: &'a Redemptions,
    partition: String,
}

impl Drop for Redeeming<'_> {
    fn drop(&mut self) {
        let mut partitions = self.redemptions.lock();
        if let Some(in_flight) = partitions.get_mut(&self.partition) {
            in_flight.count -= 1;
            in_flight.ended.send_modify(|n| *n = n.wrapping_add(1));
            if in_flight.count == 0 {
                partitions.remove(&self.partition);
            }
        }
    }
}

impl Redemptions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, InFlight>> {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn begin(&self, partition: &str) -> Redeeming<'_> {
        let mut partitions = self.lock();
        partitions
            .entry(partition.to_owned())
            .or_insert_with(|| InFlight {
                count: 0,
                ended: watch::channel(0).0,
            })
            .count += 1;
        Redeeming {
            redemptions: self,
            partition: partition.to_owned(),
        }
    }

    /// Waits until no redemption of the partition is under way.
    pub(crate) async fn settled(&self, partition: &str) {
        loop {
            let mut ended = match self.lock().get(partition) {
                None => return,
                Some(in_flight) => in_flight.ended.subscribe(),
            };
            if ended.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn one_leader_and_waiters_see_its_end() {
        let flight = Arc::new(FirstFlight::default());
        let led = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..10)
            .map(|_| {
                let (flight, led, mut gate) = (flight.clone(), led.clone(), gate.clone());
                tokio::spawn(async move {
                    match flight.join().await {
                        Turn::Lead(guard) => {
                            led.fetch_add(1, Ordering::SeqCst);
                            let _ = gate.wait_for(|open| *open).await;
                            drop(guard);
                        }
                        Turn::Waited => {}
                    }
                })
            })
            .collect();
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(led.load(Ordering::SeqCst), 1);
        // Over: the next caller leads again.
        assert!(matches!(flight.join().await, Turn::Lead(_)));
    }

    #[tokio::test]
    async fn settled_waits_for_every_redemption() {
        let redemptions = Arc::new(Redemptions::default());
        let first = redemptions.begin("p");
        let second = redemptions.begin("p");
        let waiter = {
            let redemptions = redemptions.clone();
            tokio::spawn(async move { redemptions.settled("p").await })
        };
        drop(first);
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        drop(second);
        waiter.await.unwrap();
        redemptions.settled("other").await;
    }
}

//! The single-action scenario: closed-loop clients releasing service requests of the imported
//! pool, each a different one, in an order shuffled once over the whole pool, so every release
//! reads an entity the service has not seen since its start, spread over an index of more than a
//! hundred thousand rows. The only correct answer is 202 (released, its job started); any other,
//! a 200 included (the answer to a repeat of a pending command), is an error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::dataset::{id, Kind};
use crate::http::Connection;
use crate::load::Tally;

/// The pool, in the order it is released; shared by every point of the run.
pub struct Pool {
    base: String,
    token: String,
    order: Vec<u32>,
    next: AtomicUsize,
}

impl Pool {
    /// The pool `0..size` in an order fixed by `seed`, so two runs release the same sequence.
    pub fn new(base: String, token: String, size: usize, seed: u64) -> Self {
        let mut order: Vec<u32> = (0..size as u32).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        Self {
            base,
            token,
            order,
            next: AtomicUsize::new(0),
        }
    }

    /// The next service request never released, or `None` when the pool is used up.
    fn take(&self) -> Option<usize> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.order.get(n).map(|&i| i as usize)
    }

    /// Service requests not released yet.
    pub fn left(&self) -> usize {
        self.order
            .len()
            .saturating_sub(self.next.load(Ordering::Relaxed))
    }
}

/// What a release point saw, and when the pool ran out during it, if it did.
pub struct Outcome {
    pub tally: Tally,
    pub elapsed: Duration,
    pub exhausted: bool,
}

/// `clients` closed-loop clients releasing for `duration`, or until the pool is used up.
pub async fn run(pool: Arc<Pool>, clients: usize, duration: Duration) -> Outcome {
    let epoch = Instant::now();
    let deadline = epoch + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut conn = Connection::new(&pool.base);
            while Instant::now() < deadline {
                let Some(n) = pool.take() else { break };
                let path = format!(
                    "/api/service_requests/{}/actions/release",
                    id(Kind::PoolServiceRequest, n)
                );
                let status = tally
                    .timed_patch(&mut conn, &path, &pool.token, None, epoch)
                    .await;
                if (200..300).contains(&status) && status != 202 {
                    tally.ok -= 1;
                    tally.errors += 1;
                    if tally.error_examples.len() < 5 {
                        tally
                            .error_examples
                            .push(format!("{status} {path}: a release answers 202"));
                    }
                }
            }
            tally
        }));
    }
    let tally = crate::load::merged(tasks).await;
    Outcome {
        tally,
        elapsed: epoch.elapsed(),
        exhausted: pool.left() == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_hands_out_each_service_request_once_in_a_seeded_order() {
        let pool = Pool::new(String::new(), String::new(), 1000, 7);
        let mut taken: Vec<usize> = std::iter::from_fn(|| pool.take()).collect();
        assert_eq!(pool.left(), 0);
        assert_ne!(taken, (0..1000).collect::<Vec<_>>(), "shuffled");
        let again = Pool::new(String::new(), String::new(), 1000, 7);
        assert_eq!(
            again.take(),
            Some(taken[0]),
            "the same seed, the same order"
        );
        taken.sort_unstable();
        assert_eq!(taken, (0..1000).collect::<Vec<_>>());
    }
}

//! The client-side request budget: token buckets per class of request, sized under ARM's
//! per-subscription limits (reads 250 refilling 25/s, writes and deletes 200 refilling 10/s),
//! so the controller waits before ARM would throttle it. A pipeline policy applies it to every
//! request, retries included.

use std::cell::Cell;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Method, Request};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The share of ARM's limits the controller allows itself, leaving room for other clients of
/// the same subscription (people, pipelines, other controllers).
const SHARE: f64 = 0.8;

#[derive(Debug)]
pub struct Budget {
    reads: DefaultDirectRateLimiter,
    writes: DefaultDirectRateLimiter,
    deletes: DefaultDirectRateLimiter,
}

fn limiter(burst: f64, per_second: f64) -> DefaultDirectRateLimiter {
    let burst = NonZeroU32::new((burst * SHARE) as u32).expect("burst is positive");
    let rate = NonZeroU32::new((per_second * SHARE) as u32).expect("rate is positive");
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            reads: limiter(250.0, 25.0),
            writes: limiter(200.0, 10.0),
            deletes: limiter(200.0, 10.0),
        }
    }
}

tokio::task_local! {
    /// What the pass running on this task has waited for tokens so far.
    static WAITED: Cell<Duration>;
}

/// Runs `pass`, and returns with its output how long it waited for the budget: a pass that is
/// slow because the controller paces ARM is told apart from one that is slow in itself.
pub async fn metered<F: Future>(pass: F) -> (F::Output, Duration) {
    WAITED
        .scope(Cell::new(Duration::ZERO), async {
            let output = pass.await;
            (output, WAITED.with(Cell::get))
        })
        .await
}

impl Budget {
    /// Waits until the bucket of `method`'s class has a token, and takes it.
    pub async fn acquire(&self, method: &Method) {
        let limiter = match *method {
            Method::Get | Method::Head => &self.reads,
            Method::Delete => &self.deletes,
            _ => &self.writes,
        };
        if limiter.check().is_ok() {
            return;
        }
        let asked = Instant::now();
        limiter.until_ready().await;
        // Outside a metered pass (the CLI, a shared list's fetch on another task) nobody asks.
        let _ = WAITED.try_with(|waited| waited.set(waited.get() + asked.elapsed()));
    }
}

/// Applies a [`Budget`] to each try of a request.
#[derive(Debug)]
pub struct BudgetPolicy(pub Arc<Budget>);

#[async_trait]
impl Policy for BudgetPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        self.0.acquire(&request.method()).await;
        next[0].send(ctx, request, &next[1..]).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_metered_pass_adds_up_its_waits_for_tokens() {
        let budget = Budget {
            reads: RateLimiter::direct(Quota::per_second(NonZeroU32::new(1).unwrap())),
            writes: limiter(200.0, 10.0),
            deletes: limiter(200.0, 10.0),
        };
        let ((), waited) = metered(async {
            budget.acquire(&Method::Get).await;
            budget.acquire(&Method::Post).await;
        })
        .await;
        assert_eq!(waited, Duration::ZERO, "a token in each bucket");
        let ((), waited) = metered(async {
            budget.acquire(&Method::Get).await;
            budget.acquire(&Method::Get).await;
        })
        .await;
        assert!(
            waited >= Duration::from_millis(1500),
            "two reads at one a second after the first: {waited:?}"
        );
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        // Unmetered, nothing is recorded and nothing fails.
        budget.acquire(&Method::Delete).await;
    }
}

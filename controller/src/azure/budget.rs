//! The client-side request budget: token buckets per class of request, sized under ARM's
//! per-subscription limits (reads 250 refilling 25/s, writes and deletes 200 refilling 10/s),
//! so the controller waits before ARM would throttle it. A pipeline policy applies it to every
//! request, retries included.

use std::num::NonZeroU32;
use std::sync::Arc;

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

impl Budget {
    /// Waits until the bucket of `method`'s class has a token, and takes it.
    pub async fn acquire(&self, method: &Method) {
        let limiter = match *method {
            Method::Get | Method::Head => &self.reads,
            Method::Delete => &self.deletes,
            _ => &self.writes,
        };
        limiter.until_ready().await;
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

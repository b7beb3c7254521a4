//! ARM's request limits: token buckets refilled in real time, one per subscription and
//! principal for each class of request, and one per subscription shared by every principal
//! (the "global" one), as ARM's published limits and its response headers describe.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::Method;

/// The class of a request, each with its own bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestClass {
    Read,
    Write,
    Delete,
}

impl RequestClass {
    pub fn of(method: &Method) -> RequestClass {
        match *method {
            Method::GET | Method::HEAD => RequestClass::Read,
            Method::DELETE => RequestClass::Delete,
            _ => RequestClass::Write,
        }
    }

    /// The word ARM uses in header names and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Read => "reads",
            RequestClass::Write => "writes",
            RequestClass::Delete => "deletes",
        }
    }

    /// Bucket size and refill per second of one principal in a subscription: reads 250 at
    /// 25/s, writes and deletes 200 at 10/s (ARM's "Understand how Azure Resource Manager
    /// throttles requests").
    fn limits(self) -> (f64, f64) {
        match self {
            RequestClass::Read => (250.0, 25.0),
            RequestClass::Write | RequestClass::Delete => (200.0, 10.0),
        }
    }

    /// The subscription's global bucket, shared by its principals: fifteen times one
    /// principal's. Real responses show 3749 global reads left beside 249 of the principal's
    /// after a first read (the headers quoted in Microsoft's Key Vault REST samples and Azure
    /// Data Factory web activity output); the same ratio for writes, deletes and the refill is
    /// assumed (docs/azure-fidelity.md).
    fn global_limits(self) -> (f64, f64) {
        let (size, refill) = self.limits();
        (size * 15.0, refill * 15.0)
    }
}

/// Whose bucket: one principal's in a subscription, or the subscription's shared one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Principal(String, String, RequestClass),
    Global(String, RequestClass),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

/// A request the bucket refused, and how long until it would accept one.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_seconds: u64,
    /// Whether the subscription's shared bucket refused it, rather than the principal's.
    pub global: bool,
}

/// What remains after a request: the principal's and the subscription's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Remaining {
    pub principal: u32,
    pub global: u32,
}

impl Bucket {
    fn refilled(&mut self, (capacity, refill): (f64, f64), now: Instant) {
        self.tokens =
            (self.tokens + now.duration_since(self.updated).as_secs_f64() * refill).min(capacity);
        self.updated = now;
    }

    fn wait(&self, refill: f64) -> u64 {
        ((1.0 - self.tokens) / refill).ceil().max(1.0) as u64
    }
}

impl Throttle {
    /// Takes a token for `class` from `principal`'s bucket in `subscription` and from the
    /// subscription's; returns what remains, or how long to wait. Nothing is taken when either
    /// refuses.
    pub fn take(
        &self,
        subscription: &str,
        principal: &str,
        class: RequestClass,
    ) -> Result<Remaining, Throttled> {
        self.take_at(subscription, principal, class, Instant::now())
    }

    /// [`Throttle::take`] at the moment `now` (buckets refill in real time; tests hold it still).
    fn take_at(
        &self,
        subscription: &str,
        principal: &str,
        class: RequestClass,
        now: Instant,
    ) -> Result<Remaining, Throttled> {
        let mut buckets = self.buckets.lock().expect("throttle lock");
        let mut bucket = |key: Key, limits: (f64, f64)| {
            let bucket = buckets.entry(key).or_insert(Bucket {
                tokens: limits.0,
                updated: now,
            });
            bucket.refilled(limits, now);
            (bucket.tokens, bucket.wait(limits.1))
        };
        let own = Key::Principal(subscription.to_owned(), principal.to_owned(), class);
        let shared = Key::Global(subscription.to_owned(), class);
        let (own_tokens, own_wait) = bucket(own.clone(), class.limits());
        let (shared_tokens, shared_wait) = bucket(shared.clone(), class.global_limits());
        if own_tokens < 1.0 || shared_tokens < 1.0 {
            return Err(Throttled {
                retry_after_seconds: if own_tokens < 1.0 { own_wait } else { 0 }
                    .max(if shared_tokens < 1.0 { shared_wait } else { 0 }),
                global: own_tokens >= 1.0,
            });
        }
        let mut spend = |key: &Key| {
            let bucket = buckets.get_mut(key).expect("bucket just made");
            bucket.tokens -= 1.0;
            bucket.tokens as u32
        };
        Ok(Remaining {
            principal: spend(&own),
            global: spend(&shared),
        })
    }

    /// What remains for `class`, without taking any.
    pub fn remaining(&self, subscription: &str, principal: &str, class: RequestClass) -> Remaining {
        let buckets = self.buckets.lock().expect("throttle lock");
        let left = |key: Key, size: f64| buckets.get(&key).map_or(size as u32, |b| b.tokens as u32);
        Remaining {
            principal: left(
                Key::Principal(subscription.to_owned(), principal.to_owned(), class),
                class.limits().0,
            ),
            global: left(
                Key::Global(subscription.to_owned(), class),
                class.global_limits().0,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_a_principals_bucket_is_refused_with_a_wait() {
        let throttle = Throttle::default();
        // One moment for the whole burst: on a loaded machine real time refills the buckets
        // between requests, which is not what this test is about.
        let now = Instant::now();
        let take =
            |subscription, principal, class| throttle.take_at(subscription, principal, class, now);
        for expected in (0..200).rev() {
            assert_eq!(
                take("sub", "app", RequestClass::Write).map(|r| r.principal),
                Ok(expected)
            );
        }
        assert_eq!(
            take("sub", "app", RequestClass::Write),
            Err(Throttled {
                retry_after_seconds: 1,
                global: false
            })
        );
        // Other classes, principals and subscriptions have their own buckets; the
        // subscription's shared one counted every write of the principal.
        assert_eq!(
            take("sub", "app", RequestClass::Read),
            Ok(Remaining {
                principal: 249,
                global: 3749
            })
        );
        assert_eq!(
            take("sub", "other-app", RequestClass::Write),
            Ok(Remaining {
                principal: 199,
                global: 2799
            })
        );
        assert_eq!(
            take("other-sub", "app", RequestClass::Write).map(|r| r.principal),
            Ok(199)
        );
    }

    #[test]
    fn principals_together_exhaust_the_subscriptions_shared_bucket() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let mut refused = None;
        'principals: for principal in 0..20 {
            for _ in 0..250 {
                if let Err(throttled) =
                    throttle.take_at("sub", &format!("app-{principal}"), RequestClass::Read, now)
                {
                    refused = Some((principal, throttled));
                    break 'principals;
                }
            }
        }
        let (principal, throttled) = refused.expect("the shared bucket runs out");
        assert!(throttled.global, "{throttled:?}");
        assert_eq!(principal, 15, "fifteen principals' worth of reads");
        assert_eq!(
            throttle.remaining("sub", "app-16", RequestClass::Read),
            Remaining {
                principal: 250,
                global: 0
            }
        );
    }
}

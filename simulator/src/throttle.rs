//! ARM's request limits: a token bucket per subscription (and principal) for each class of
//! request, refilled in real time, as ARM's published limits describe.

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

    /// Bucket size and refill per second: reads 250 at 25/s, writes and deletes 200 at 10/s.
    fn limits(self) -> (f64, f64) {
        match self {
            RequestClass::Read => (250.0, 25.0),
            RequestClass::Write | RequestClass::Delete => (200.0, 10.0),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<(String, RequestClass), Bucket>>,
}

/// A request the bucket refused, and how long until it would accept one.
#[derive(Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_seconds: u64,
}

impl Throttle {
    /// Takes a token for `class` in `scope`; returns what remains, or how long to wait.
    pub fn take(&self, scope: &str, class: RequestClass) -> Result<u32, Throttled> {
        let (capacity, refill) = class.limits();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("throttle lock");
        let bucket = buckets.entry((scope.to_owned(), class)).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * refill)
            .min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens as u32)
        } else {
            Err(Throttled {
                retry_after_seconds: ((1.0 - bucket.tokens) / refill).ceil().max(1.0) as u64,
            })
        }
    }

    /// What remains for `class` in `scope`, without taking any.
    pub fn remaining(&self, scope: &str, class: RequestClass) -> u32 {
        let buckets = self.buckets.lock().expect("throttle lock");
        buckets
            .get(&(scope.to_owned(), class))
            .map_or(class.limits().0 as u32, |b| b.tokens as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_bucket_is_refused_with_a_wait() {
        let throttle = Throttle::default();
        for expected in (0..200).rev() {
            assert_eq!(throttle.take("sub", RequestClass::Write), Ok(expected));
        }
        assert_eq!(
            throttle.take("sub", RequestClass::Write),
            Err(Throttled {
                retry_after_seconds: 1
            })
        );
        // Other classes and subscriptions have their own buckets.
        assert_eq!(throttle.take("sub", RequestClass::Read), Ok(249));
        assert_eq!(throttle.take("other", RequestClass::Write), Ok(199));
    }
}

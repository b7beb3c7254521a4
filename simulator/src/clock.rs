//! Simulated time: real time multiplied by the time scale, plus whatever `/_sim/clock` added.
//! Every duration in the simulated Azure (provisioning, replication, jobs) runs on it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

#[derive(Debug)]
pub struct Clock {
    real_start: Instant,
    sim_start: Timestamp,
    scale: f64,
    advanced: Mutex<SignedDuration>,
}

impl Clock {
    /// A clock that reads `sim_start` now and runs `scale` times faster than real time.
    pub fn new(sim_start: Timestamp, scale: f64) -> Clock {
        Clock {
            real_start: Instant::now(),
            sim_start,
            scale: scale.max(0.0),
            advanced: Mutex::new(SignedDuration::ZERO),
        }
    }

    pub fn now(&self) -> Timestamp {
        let elapsed = self.real_start.elapsed().mul_f64(self.scale);
        let advanced = *self.advanced.lock().expect("clock lock");
        let elapsed = SignedDuration::try_from(elapsed).unwrap_or(SignedDuration::MAX);
        self.sim_start
            .saturating_add(elapsed)
            .and_then(|t| t.checked_add(advanced))
            .unwrap_or(self.sim_start)
    }

    /// Moves simulated time forward.
    pub fn advance(&self, by: Duration) -> Timestamp {
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        let mut advanced = self.advanced.lock().expect("clock lock");
        *advanced = advanced.saturating_add(by);
        drop(advanced);
        self.now()
    }

    /// The real time a simulated duration takes, for `Retry-After`: whole seconds, at least 1.
    pub fn retry_after_seconds(&self, simulated: SignedDuration) -> u64 {
        if self.scale <= 0.0 {
            return 1;
        }
        let real = simulated.as_secs_f64().max(0.0) / self.scale;
        (real.ceil() as u64).clamp(1, 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_scaled_and_can_be_advanced() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let clock = Clock::new(start, 1000.0);
        std::thread::sleep(Duration::from_millis(20));
        assert!(clock.now().duration_since(start) >= SignedDuration::from_secs(20));
        let before = clock.now();
        let after = clock.advance(Duration::from_secs(3600));
        assert!(after.duration_since(before) >= SignedDuration::from_secs(3600));
    }

    #[test]
    fn retry_after_is_real_seconds_at_least_one() {
        let clock = Clock::new(Timestamp::UNIX_EPOCH, 10.0);
        assert_eq!(
            clock.retry_after_seconds(SignedDuration::from_secs(300)),
            30
        );
        assert_eq!(clock.retry_after_seconds(SignedDuration::from_secs(1)), 1);
    }
}

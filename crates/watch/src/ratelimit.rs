//! A token bucket: at most `burst` deliveries at once, refilled at `rate` per second.

use std::time::{Duration, Instant};

/// A token bucket rate limiter.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket holding `burst` tokens (at least 1), refilled at `rate_per_sec`
    /// (at least one token per hour).
    pub fn new(rate_per_sec: f64, burst: u32) -> TokenBucket {
        let burst = f64::from(burst.max(1));
        let rate = if rate_per_sec.is_finite() { rate_per_sec.max(1.0 / 3600.0) } else { 1.0 };
        TokenBucket { rate, burst, tokens: burst, last: Instant::now() }
    }

    /// Takes one token if there is one at `now`; otherwise says how long until there is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let start = Instant::now();
        let mut b = TokenBucket::new(2.0, 3);
        for _ in 0..3 {
            assert!(b.try_take(start).is_ok());
        }
        let wait = b.try_take(start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.try_take(start + Duration::from_millis(500)).is_ok());
        assert!(b.try_take(start + Duration::from_millis(500)).is_err());
        // Tokens never pile up beyond the burst.
        let later = start + Duration::from_secs(100);
        for _ in 0..3 {
            assert!(b.try_take(later).is_ok());
        }
        assert!(b.try_take(later).is_err());
    }
}

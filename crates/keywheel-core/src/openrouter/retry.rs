//! Retry delays: exponential backoff with full jitter, honouring the server's own hint
//! (`Retry-After`, `retry_after_seconds`, `X-RateLimit-Reset` − now) but never waiting past a
//! total budget. Pure: the caller sleeps, and tests pass a seeded RNG.

use std::time::Duration;

use rand::Rng;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay ceiling of the first retry (doubles each attempt).
    pub base: Duration,
    /// Largest jittered delay.
    pub cap: Duration,
    /// Attempts in all, the first one included (so `max_attempts - 1` retries).
    pub max_attempts: u32,
    /// Most time one request may spend waiting, all retries together.
    pub max_total_wait: Duration,
}

impl Default for Backoff {
    /// 0.5 s base, 8 s cap, 4 attempts, at most 60 s of waiting.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_attempts: 4,
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The schedule for `/generation` look-ups that answer 404 until the record exists
    /// (docs/openrouter.md: about 0.5 s, 1 s, 2 s, 4 s).
    pub fn generation_lookup() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(4),
            max_attempts: 5,
            max_total_wait: Duration::from_secs(10),
        }
    }

    /// The delay before the next attempt, after `attempt` attempts have failed (1 after the
    /// first failure), with the thread RNG. `None` means: stop retrying.
    pub fn next_delay(&self, attempt: u32, hint: Option<Duration>) -> Option<Duration> {
        self.next_delay_with(attempt, hint, &mut rand::rng())
    }

    /// [`next_delay`](Self::next_delay) with a given RNG.
    ///
    /// Without a hint: uniform in `[0, min(cap, base · 2^(attempt-1))]` (full jitter). With a
    /// hint: the hint plus up to 10 % jitter, or `None` if the hint exceeds `max_total_wait`
    /// (waiting that long is not a retry; the caller should move on). `None` too once
    /// `attempt >= max_attempts`.
    pub fn next_delay_with<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        hint: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        if attempt == 0 || attempt >= self.max_attempts {
            return None;
        }
        match hint {
            Some(h) => {
                if h > self.max_total_wait {
                    return None;
                }
                let spread = h / 10;
                let jitter = if spread.is_zero() {
                    Duration::ZERO
                } else {
                    uniform(rng, spread)
                };
                Some((h + jitter).min(self.max_total_wait))
            }
            None => {
                let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
                let ceiling = self
                    .base
                    .saturating_mul(exp)
                    .min(self.cap)
                    .min(self.max_total_wait);
                Some(uniform(rng, ceiling))
            }
        }
    }

    /// A stateful schedule that also keeps the total wait within `max_total_wait`.
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            backoff: *self,
            attempts: 1,
            waited: Duration::ZERO,
        }
    }
}

/// Uniform in `[0, max]`.
fn uniform<R: Rng + ?Sized>(rng: &mut R, max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// The state of one request's retries: how many attempts were made and how long was waited.
#[derive(Debug, Clone)]
pub struct RetrySchedule {
    backoff: Backoff,
    attempts: u32,
    waited: Duration,
}

impl RetrySchedule {
    /// Attempts made so far (starts at 1: the first attempt).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Total of the delays handed out so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }

    /// The delay before the next attempt, or `None` to stop. Counts the attempt.
    pub fn next(&mut self, hint: Option<Duration>) -> Option<Duration> {
        self.next_with(hint, &mut rand::rng())
    }

    /// [`next`](Self::next) with a given RNG.
    pub fn next_with<R: Rng + ?Sized>(
        &mut self,
        hint: Option<Duration>,
        rng: &mut R,
    ) -> Option<Duration> {
        let left = self.backoff.max_total_wait.saturating_sub(self.waited);
        if hint.is_some_and(|h| h > left) {
            return None;
        }
        let d = self
            .backoff
            .next_delay_with(self.attempts, hint, rng)?
            .min(left);
        if d.is_zero() && left.is_zero() && hint.is_none() {
            return None;
        }
        self.attempts += 1;
        self.waited += d;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn b() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 6,
            max_total_wait: Duration::from_secs(3),
        }
    }

    #[test]
    fn full_jitter_stays_within_the_exponential_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..6 {
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(1));
            for _ in 0..200 {
                let d = b().next_delay_with(attempt, None, &mut rng).unwrap();
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn jitter_is_spread_out() {
        let mut rng = StdRng::seed_from_u64(1);
        let ds: Vec<_> = (0..100)
            .map(|_| b().next_delay_with(5, None, &mut rng).unwrap())
            .collect();
        assert!(ds.iter().any(|d| *d < Duration::from_millis(300)));
        assert!(ds.iter().any(|d| *d > Duration::from_millis(700)));
    }

    #[test]
    fn seeded_rng_is_deterministic() {
        let a: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (1..6)
                .map(|i| b().next_delay_with(i, None, &mut rng))
                .collect()
        };
        let c: Vec<_> = {
            let mut rng = StdRng::seed_from_u64(42);
            (1..6)
                .map(|i| b().next_delay_with(i, None, &mut rng))
                .collect()
        };
        assert_eq!(a, c);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert!(b().next_delay(5, None).is_some());
        assert_eq!(b().next_delay(6, None), None);
        assert_eq!(b().next_delay(0, None), None);
    }

    #[test]
    fn honours_hints_within_the_budget() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let d = b()
                .next_delay_with(1, Some(Duration::from_secs(2)), &mut rng)
                .unwrap();
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_millis(2200),
                "{d:?}"
            );
        }
        assert_eq!(
            b().next_delay(1, Some(Duration::from_secs(4))),
            None,
            "a hint past the budget is not waited for"
        );
        assert_eq!(
            b().next_delay(1, Some(Duration::ZERO)),
            Some(Duration::ZERO)
        );
        let d = b()
            .next_delay(1, Some(Duration::from_millis(2900)))
            .unwrap();
        assert!(d <= Duration::from_secs(3));
    }

    #[test]
    fn schedule_bounds_the_total_wait() {
        let mut rng = StdRng::seed_from_u64(9);
        let mut s = Backoff {
            max_attempts: 100,
            ..b()
        }
        .schedule();
        let mut total = Duration::ZERO;
        while let Some(d) = s.next_with(None, &mut rng) {
            total += d;
            assert!(s.attempts() <= 100);
        }
        assert!(total <= Duration::from_secs(3));
        assert_eq!(total, s.waited());

        let mut s = b().schedule();
        assert!(
            s.next_with(Some(Duration::from_secs(2)), &mut rng)
                .is_some()
        );
        assert_eq!(
            s.next_with(Some(Duration::from_secs(2)), &mut rng),
            None,
            "only ~1 s of budget left"
        );
        assert!(s.next_with(None, &mut rng).is_some());
    }

    #[test]
    fn schedule_counts_attempts() {
        let mut s = Backoff {
            max_attempts: 3,
            ..b()
        }
        .schedule();
        assert_eq!(s.attempts(), 1);
        assert!(s.next(None).is_some());
        assert!(s.next(None).is_some());
        assert_eq!(s.attempts(), 3);
        assert_eq!(s.next(None), None);
    }
}

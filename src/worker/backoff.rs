//! How long a queue waits before trying a failed item again.

/// The wait after the `n`th failure: `base × factor^(n-1)` up to `cap`, or
/// a listed schedule (a published one, such as the outgoing webhooks'),
/// spread by ±`jitter` so that many retries do not arrive together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    delays: Delays,
    /// Spread as a fraction of the delay: 0.25 is ±25%.
    jitter: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Delays {
    Growing {
        base_ms: i64,
        factor: i64,
        cap_ms: i64,
    },
    Listed(&'static [i64]),
}

impl Backoff {
    pub const fn growing(base_ms: i64, factor: i64, cap_ms: i64) -> Self {
        Self {
            delays: Delays::Growing {
                base_ms,
                factor,
                cap_ms,
            },
            jitter: 0.0,
        }
    }

    /// The `n`th failure waits `steps[n-1]` ms; later ones the last step.
    pub const fn listed(steps_ms: &'static [i64]) -> Self {
        Self {
            delays: Delays::Listed(steps_ms),
            jitter: 0.0,
        }
    }

    pub const fn with_jitter(self, jitter: f64) -> Self {
        Self { jitter, ..self }
    }

    /// The wait after `failures` failed attempts (at least one), with
    /// `roll` in 0..1 choosing where in the jitter's range it falls.
    pub fn delay_ms(&self, failures: i64, roll: f64) -> i64 {
        let step = (failures.max(1) - 1) as usize;
        let delay = match self.delays {
            Delays::Growing {
                base_ms,
                factor,
                cap_ms,
            } => base_ms
                .saturating_mul(factor.saturating_pow(step.min(62) as u32))
                .min(cap_ms),
            Delays::Listed(steps) => steps
                .get(step)
                .or(steps.last())
                .copied()
                .unwrap_or_default(),
        };
        let spread = 1.0 - self.jitter + 2.0 * self.jitter * roll.clamp(0.0, 1.0);
        (delay as f64 * spread) as i64
    }
}

/// A backoff and how many attempts an item gets in all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    pub max_attempts: i64,
}

impl RetryPolicy {
    /// How long to wait after `attempts` attempts (all failed), or `None`
    /// when the item has had them all.
    pub fn retry_in_ms(&self, attempts: i64, roll: f64) -> Option<i64> {
        (attempts >= 1 && attempts < self.max_attempts)
            .then(|| self.backoff.delay_ms(attempts, roll))
    }

    /// When to try again, from `now`, with a random roll.
    pub fn retry_at(&self, attempts: i64, now: i64) -> Option<i64> {
        self.retry_in_ms(attempts, fastrand::f64())
            .map(|wait| now + wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_delays_multiply_then_stop_at_the_cap() {
        let backoff = Backoff::growing(1_000, 2, 10_000);
        let waits: Vec<i64> = (1..=6).map(|n| backoff.delay_ms(n, 0.5)).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
        assert_eq!(backoff.delay_ms(10_000, 0.5), 10_000, "no overflow");
        assert_eq!(backoff.delay_ms(0, 0.5), 1_000, "zero counts as one");
    }

    #[test]
    fn jitter_spreads_both_ways() {
        let backoff = Backoff::growing(1_000, 2, 60_000).with_jitter(0.25);
        assert_eq!(backoff.delay_ms(3, 0.0), 3_000);
        assert_eq!(backoff.delay_ms(3, 0.5), 4_000);
        assert_eq!(backoff.delay_ms(3, 1.0), 5_000);
    }

    #[test]
    fn a_listed_schedule_repeats_its_last_step() {
        let backoff = Backoff::listed(&[5, 60, 300]);
        let waits: Vec<i64> = (1..=4).map(|n| backoff.delay_ms(n, 0.5)).collect();
        assert_eq!(waits, [5, 60, 300, 300]);
    }

    #[test]
    fn a_policy_gives_up_after_its_attempts() {
        let policy = RetryPolicy {
            backoff: Backoff::growing(1_000, 2, 60_000),
            max_attempts: 3,
        };
        assert_eq!(policy.retry_in_ms(1, 0.5), Some(1_000));
        assert_eq!(policy.retry_in_ms(2, 0.5), Some(2_000));
        assert_eq!(policy.retry_in_ms(3, 0.5), None);
        assert_eq!(policy.retry_in_ms(0, 0.5), None);
    }
}

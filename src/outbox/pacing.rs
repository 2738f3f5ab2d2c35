//! Pacing: how fast one number sends (Meta's per-number throughput) and
//! how fast it writes to one customer (Meta's pair rate limit). Times are
//! passed in, so the arithmetic is tested without sleeping.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// Sends are spaced this much wider than 1/rate, so that delays between
/// our start and Meta's count never put `rate + 1` sends into one second.
const SAFETY_MARGIN: f64 = 1.02;

/// Evenly spaced send slots for one number: never more than `rate` starts
/// in any one-second window, and no burst after an idle spell.
#[derive(Debug)]
pub struct Spacing {
    interval: Duration,
    next: Option<Instant>,
}

impl Spacing {
    pub fn new(rate_per_second: u32) -> Self {
        let rate = f64::from(rate_per_second.max(1));
        Self {
            interval: Duration::from_secs_f64(SAFETY_MARGIN / rate),
            next: None,
        }
    }

    /// Reserves the next slot: the instant the caller may start its send.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let slot = self.next.map_or(now, |next| next.max(now));
        self.next = Some(slot + self.interval);
        slot
    }
}

/// Meta allows about one message every 6 s to the same customer, with a
/// burst. We keep to a smaller burst than Meta tolerates, so a chatty bot
/// is slowed by us, not refused by Meta.
pub const PAIR_BURST: f64 = 10.0;
pub const PAIR_REFILL: Duration = Duration::from_secs(6);

/// A token bucket per customer of one number.
#[derive(Debug, Default)]
pub struct PairPacer {
    buckets: HashMap<String, (f64, Instant)>,
}

impl PairPacer {
    /// Takes a token for `recipient`, or says how long until one is there.
    pub fn take(&mut self, recipient: &str, now: Instant) -> Result<(), Duration> {
        let (tokens, updated) = self
            .buckets
            .entry(recipient.to_string())
            .or_insert((PAIR_BURST, now));
        let refilled = (*tokens
            + now.saturating_duration_since(*updated).as_secs_f64() / PAIR_REFILL.as_secs_f64())
        .min(PAIR_BURST);
        *updated = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(PAIR_REFILL.mul_f64(1.0 - refilled))
        }
    }

    /// Forgets customers whose bucket is full again, so memory stays small.
    pub fn forget_idle(&mut self, now: Instant) {
        let full_after = PAIR_REFILL.mul_f64(PAIR_BURST);
        self.buckets
            .retain(|_, (_, updated)| now.saturating_duration_since(*updated) < full_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_put_more_than_the_rate_in_one_second() {
        let start = Instant::now();
        let mut spacing = Spacing::new(80);
        let slots: Vec<Instant> = (0..400).map(|_| spacing.reserve(start)).collect();
        for (i, slot) in slots.iter().enumerate() {
            let within_a_second = slots[i..]
                .iter()
                .take_while(|s| s.duration_since(*slot) < Duration::from_secs(1))
                .count();
            assert!(within_a_second <= 80, "{within_a_second} in one second");
        }
        let last = slots.last().unwrap().duration_since(start).as_secs_f64();
        let rate = 399.0 / last;
        assert!((76.0..=80.0).contains(&rate), "rate {rate}");
    }

    #[test]
    fn an_idle_number_sends_at_once_without_a_burst() {
        let start = Instant::now();
        let mut spacing = Spacing::new(10);
        assert_eq!(spacing.reserve(start), start);
        let later = start + Duration::from_secs(60);
        assert_eq!(spacing.reserve(later), later);
        assert!(
            spacing.reserve(later) > later,
            "the next one waits its turn"
        );
    }

    #[test]
    fn a_customer_gets_a_burst_then_one_message_per_refill() {
        let start = Instant::now();
        let mut pacer = PairPacer::default();
        for _ in 0..PAIR_BURST as usize {
            assert!(pacer.take("1555", start).is_ok());
        }
        let wait = pacer.take("1555", start).expect_err("burst used up");
        assert!(wait <= PAIR_REFILL && wait > Duration::ZERO);
        assert!(
            pacer.take("1666", start).is_ok(),
            "other customers unaffected"
        );
        assert!(pacer.take("1555", start + PAIR_REFILL).is_ok());
        pacer.forget_idle(start + PAIR_REFILL * 100);
        assert!(pacer.buckets.is_empty());
    }
}

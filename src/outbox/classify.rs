//! What to do when Meta refuses a send: Meta's error codes sorted into the
//! four things a sender can do about them (reference §7's table).

use crate::graph::GraphError;

/// Retries stop after this many attempts (about a day with the backoff).
pub const MAX_SEND_ATTEMPTS: i64 = 20;
/// Retry delays double from here...
const BASE_DELAY_MS: i64 = 1_000;
/// ...up to this.
const MAX_DELAY_MS: i64 = 2 * 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Try again after `after_ms`. `slow_number` asks the number's sender
    /// to pause too (Meta said the number as a whole goes too fast).
    Retry { after_ms: i64, slow_number: bool },
    /// The token is gone: the number pauses until it is reconnected; the
    /// message waits.
    Reconnect,
    /// Outside the customer's 24-hour window: only a template can go.
    NeedsTemplate,
    /// Will not succeed by trying again.
    Fail,
}

/// `attempts` counts this one.
pub fn classify(error: &GraphError, attempts: i64, jitter: f64) -> Disposition {
    if error.is_token_problem() {
        return Disposition::Reconnect;
    }
    let retry = |slow_number| {
        if attempts >= MAX_SEND_ATTEMPTS {
            Disposition::Fail
        } else {
            Disposition::Retry {
                after_ms: backoff_ms(attempts, jitter),
                slow_number,
            }
        }
    };
    match error {
        GraphError::Transport(_) => retry(false),
        GraphError::Unexpected { status, .. } => {
            if *status >= 500 || *status == 429 {
                retry(false)
            } else {
                Disposition::Fail
            }
        }
        GraphError::Meta { status, code, .. } => match code {
            131047 => Disposition::NeedsTemplate,
            // Pair rate limit: that customer later, 4^x seconds as Meta
            // advises (1 s, 4 s, 16 s ...).
            131056 if attempts < MAX_SEND_ATTEMPTS => Disposition::Retry {
                after_ms: pair_backoff_ms(attempts),
                slow_number: false,
            },
            130429 | 80007 | 4 => retry(true),
            1 | 2 | 131000 | 131016 | 131057 => retry(false),
            _ if *status >= 500 => retry(false),
            _ => Disposition::Fail,
        },
    }
}

/// Doubling from a second, capped, with ±25% jitter (`jitter` in 0..1) so
/// that retries of many messages do not arrive together.
pub fn backoff_ms(attempts: i64, jitter: f64) -> i64 {
    let exponent = (attempts - 1).clamp(0, 30) as u32;
    let base = BASE_DELAY_MS
        .saturating_mul(2_i64.saturating_pow(exponent))
        .min(MAX_DELAY_MS);
    (base as f64 * (0.75 + 0.5 * jitter.clamp(0.0, 1.0))) as i64
}

fn pair_backoff_ms(attempts: i64) -> i64 {
    let exponent = (attempts - 1).clamp(0, 6) as u32;
    (1000 * 4_i64.pow(exponent)).min(MAX_DELAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(status: u16, code: i64) -> GraphError {
        GraphError::Meta {
            status,
            code,
            subcode: None,
            message: "test".into(),
            user_title: None,
            user_message: None,
            details: None,
            fbtrace_id: None,
        }
    }

    #[test]
    fn each_error_class_gets_its_treatment() {
        assert!(matches!(
            classify(&meta(429, 130429), 1, 0.5),
            Disposition::Retry {
                slow_number: true,
                ..
            }
        ));
        assert!(matches!(
            classify(&meta(500, 131000), 1, 0.5),
            Disposition::Retry {
                slow_number: false,
                ..
            }
        ));
        assert!(matches!(
            classify(&GraphError::Transport("timeout".into()), 3, 0.5),
            Disposition::Retry { .. }
        ));
        assert_eq!(classify(&meta(401, 190), 1, 0.5), Disposition::Reconnect);
        assert_eq!(
            classify(&meta(400, 131047), 1, 0.5),
            Disposition::NeedsTemplate
        );
        assert_eq!(classify(&meta(400, 131026), 1, 0.5), Disposition::Fail);
        assert_eq!(classify(&meta(400, 100), 1, 0.5), Disposition::Fail);
        assert_eq!(
            classify(&meta(500, 131000), MAX_SEND_ATTEMPTS, 0.5),
            Disposition::Fail,
            "retries are bounded"
        );
    }

    #[test]
    fn pair_limits_back_off_by_powers_of_four() {
        let after = |attempts| match classify(&meta(429, 131056), attempts, 0.5) {
            Disposition::Retry { after_ms, .. } => after_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!((after(1), after(2), after(3)), (1000, 4000, 16000));
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        assert_eq!(backoff_ms(1, 0.5), 1000);
        assert_eq!(backoff_ms(3, 0.5), 4000);
        assert_eq!(backoff_ms(3, 0.0), 3000);
        assert_eq!(backoff_ms(3, 1.0), 5000);
        assert_eq!(backoff_ms(60, 0.5), MAX_DELAY_MS);
    }
}

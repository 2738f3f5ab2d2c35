//! What to do when Meta refuses a send: Meta's error codes sorted into the
//! four things a sender can do about them (reference §7's table).

use crate::{graph::GraphError, worker::Backoff};

/// Retries stop after this many attempts (about a day with the backoff).
pub const MAX_SEND_ATTEMPTS: i64 = 20;
/// Doubling from a second up to two hours, ±25%, so that retries of many
/// messages do not arrive together.
const BACKOFF: Backoff = Backoff::growing(1_000, 2, MAX_DELAY_MS).with_jitter(0.25);
/// Meta's advice for the pair limit: 4^n seconds (1 s, 4 s, 16 s ...), up
/// to 4^6 s.
const PAIR_BACKOFF: Backoff = Backoff::growing(1_000, 4, 4_096_000);
const MAX_DELAY_MS: i64 = 2 * 60 * 60 * 1000;
/// Meta's 131062: this message (one-tap, zero-tap and copy-code
/// authentication templates) cannot go to a BSUID; it needs the phone.
/// Fails for good; the composer offers to ask for the phone.
pub const BSUID_NOT_SUPPORTED: i64 = 131062;
/// Errors about the account, not the message: sending more only fails
/// more. 131031 the account is locked; 131042 a payment or eligibility
/// problem; 368 temporarily blocked for policy violations; 133010 the
/// number is not registered with the Cloud API.
const ACCOUNT_LOCKED: i64 = 131031;
const BILLING_PROBLEM: i64 = 131042;
const BLOCKED_FOR_POLICY: i64 = 368;
const NOT_REGISTERED: i64 = 133010;
/// Marketing messages are turned off for the account on the Cloud API:
/// marketing templates wait, everything else goes on.
const MARKETING_OFF: i64 = 131063;
/// The app lacks a permission (10) or the business has not granted it
/// (200): connecting again grants it.
const NO_PERMISSION: i64 = 10;
const PERMISSION_NOT_GRANTED: i64 = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Try again after `after_ms`. `slow_number` asks the number's sender
    /// to pause too (Meta said the number as a whole goes too fast).
    Retry { after_ms: i64, slow_number: bool },
    /// The token is gone: the number pauses until it is reconnected; the
    /// message waits.
    Reconnect,
    /// Meta refused sends for the whole account (reference §7's
    /// account-level codes): the number pauses, every message waits.
    PauseNumber,
    /// Meta refused one kind of message for the account (the restriction
    /// type naming it): that kind waits, the rest goes on.
    RestrictKind(&'static str),
    /// Outside the customer's 24-hour window: only a template can go.
    NeedsTemplate,
    /// Will not succeed by trying again.
    Fail,
}

/// When to try again after `attempts` (counting this one), or `None`
/// once they are used up.
pub fn backoff_ms(attempts: i64, jitter: f64) -> Option<i64> {
    (attempts < MAX_SEND_ATTEMPTS).then(|| BACKOFF.delay_ms(attempts, jitter))
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
                after_ms: BACKOFF.delay_ms(attempts, jitter),
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
            &MARKETING_OFF => Disposition::RestrictKind(crate::health::gates::MARKETING_REFUSED),
            &NO_PERMISSION | &PERMISSION_NOT_GRANTED => Disposition::Reconnect,
            &ACCOUNT_LOCKED | &BILLING_PROBLEM | &BLOCKED_FOR_POLICY | &NOT_REGISTERED => {
                Disposition::PauseNumber
            }
            // Pair rate limit: that customer later, 4^x seconds as Meta
            // advises (1 s, 4 s, 16 s ...).
            131056 if attempts < MAX_SEND_ATTEMPTS => Disposition::Retry {
                after_ms: PAIR_BACKOFF.delay_ms(attempts, 0.5),
                slow_number: false,
            },
            130429 | 80007 | 4 => retry(true),
            1 | 2 | 131000 | 131016 | 131057 => retry(false),
            _ if *status >= 500 => retry(false),
            _ => Disposition::Fail,
        },
    }
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
        for account_level in [131031, 131042, 368, 133010] {
            assert_eq!(
                classify(&meta(400, account_level), 1, 0.5),
                Disposition::PauseNumber,
                "{account_level}"
            );
        }
        assert_eq!(classify(&meta(400, 100), 1, 0.5), Disposition::Fail);
        assert_eq!(classify(&meta(403, 10), 1, 0.5), Disposition::Reconnect);
        assert_eq!(classify(&meta(403, 200), 1, 0.5), Disposition::Reconnect);
        assert_eq!(
            classify(&meta(400, 131063), 1, 0.5),
            Disposition::RestrictKind("MARKETING_MESSAGES_REFUSED")
        );
        assert_eq!(
            classify(&meta(400, BSUID_NOT_SUPPORTED), 1, 0.5),
            Disposition::Fail
        );
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
        assert_eq!(BACKOFF.delay_ms(1, 0.5), 1000);
        assert_eq!(BACKOFF.delay_ms(3, 0.5), 4000);
        assert_eq!(BACKOFF.delay_ms(3, 0.0), 3000);
        assert_eq!(BACKOFF.delay_ms(3, 1.0), 5000);
        assert_eq!(BACKOFF.delay_ms(60, 0.5), MAX_DELAY_MS);
    }
}

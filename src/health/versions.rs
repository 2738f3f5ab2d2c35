//! Graph API versions and when Meta ends them (reference meta-2026 §7,
//! as of November 2026): the Health page warns 90 days before the
//! pinned version stops working.

/// A civil date: (year, month, day).
type Day = (i64, i64, i64);

/// `(version, last day available)`; `None`: Meta has not said yet.
const VERSIONS: [(&str, Option<Day>); 10] = [
    ("v27.0", None),
    ("v26.0", None),
    ("v25.0", Some((2028, 7, 29))),
    ("v24.0", Some((2028, 2, 18))),
    ("v23.0", Some((2027, 10, 8))),
    ("v22.0", Some((2027, 5, 20))),
    ("v21.0", Some((2027, 1, 21))),
    ("v20.0", Some((2026, 9, 24))),
    ("v19.0", Some((2026, 5, 21))),
    ("v18.0", Some((2026, 1, 26))),
];

/// Warn this long before a version ends.
pub const WARN_BEFORE_MS: i64 = 90 * 24 * 60 * 60 * 1000;

/// Where a version stands at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Supported, with no end within 90 days (or none announced).
    Supported {
        ends_at: Option<i64>,
    },
    /// Ends within 90 days.
    EndingSoon {
        ends_at: i64,
    },
    Ended {
        ended_at: i64,
    },
    /// Not in the table: older than any listed (ended) or newer.
    Unknown,
}

pub fn state_of(version: &str, now: i64) -> VersionState {
    let Some((_, end)) = VERSIONS.iter().find(|(v, _)| *v == version) else {
        return VersionState::Unknown;
    };
    match end.map(|(y, m, d)| end_of_day_ms(y, m, d)) {
        None => VersionState::Supported { ends_at: None },
        Some(ends_at) if ends_at <= now => VersionState::Ended { ended_at: ends_at },
        Some(ends_at) if ends_at - now <= WARN_BEFORE_MS => VersionState::EndingSoon { ends_at },
        Some(ends_at) => VersionState::Supported {
            ends_at: Some(ends_at),
        },
    }
}

/// The newest version Meta has released (for the advice to move).
pub fn newest() -> &'static str {
    VERSIONS[0].0
}

/// Unix ms at the end of a UTC civil day (days from civil, Howard
/// Hinnant's algorithm).
fn end_of_day_ms(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days + 1) * 86_400_000
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn civil_days_are_right() {
        assert_eq!(end_of_day_ms(1970, 1, 1), DAY);
        assert_eq!(end_of_day_ms(2000, 2, 29), 951_868_800_000);
    }

    #[test]
    fn versions_warn_ninety_days_before_they_end() {
        let v21_end = end_of_day_ms(2027, 1, 21);
        assert!(matches!(
            state_of("v25.0", v21_end),
            VersionState::Supported { ends_at: Some(_) }
        ));
        assert_eq!(
            state_of("v21.0", v21_end - 91 * DAY),
            VersionState::Supported {
                ends_at: Some(v21_end)
            }
        );
        assert_eq!(
            state_of("v21.0", v21_end - 89 * DAY),
            VersionState::EndingSoon { ends_at: v21_end }
        );
        assert_eq!(
            state_of("v21.0", v21_end),
            VersionState::Ended { ended_at: v21_end }
        );
        assert_eq!(
            state_of("v27.0", v21_end),
            VersionState::Supported { ends_at: None }
        );
        assert_eq!(state_of("v2.3", 0), VersionState::Unknown);
    }
}

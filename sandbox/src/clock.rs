//! The sandbox's clock: wall time plus an offset that the control API can
//! move forward, so tests of 30-second codes, 24-hour windows and 72-hour
//! limits need not wait. Also the calendar Meta writes dates in (UTC), so
//! an expiration or a ban date reads as Meta would print it.

use std::{
    sync::atomic::{AtomicI64, Ordering},
    time::SystemTime,
};

use crate::world::{Millis, DAY_MS};

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Millis {
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: Millis) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day of the (proleptic Gregorian, UTC) calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl Date {
    /// The day `at` falls on.
    pub fn of(at: Millis) -> Self {
        // Days since 1970-01-01, counted in 400-year eras from 0000-03-01
        // so that the leap day ends each counted year.
        let z = at.div_euclid(DAY_MS) + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        Self {
            year: year_of_era + era * 400 + i64::from(month <= 2),
            month: month as u32,
            day: day as u32,
        }
    }

    /// Meta's long form in `ban_info.waba_ban_date`: `January 2, 2027`.
    pub fn long(&self) -> String {
        format!(
            "{} {}, {}",
            MONTHS[self.month as usize - 1],
            self.day,
            self.year
        )
    }

    /// Reads the long form back; `None` unless it names a real day.
    pub fn parse_long(text: &str) -> Option<Self> {
        let (month_name, rest) = text.trim().split_once(' ')?;
        let (day, year) = rest.split_once(", ")?;
        let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
        let (day, year): (u32, i64) = (day.parse().ok()?, year.parse().ok()?);
        let date = Self { year, month, day };
        ((1..=9999).contains(&year) && (1..=date.days_in_month()).contains(&day)).then_some(date)
    }

    fn days_in_month(&self) -> u32 {
        let leap = self.year % 4 == 0 && (self.year % 100 != 0 || self.year % 400 == 0);
        match self.month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}

/// `2027-01-02T03:04:05Z`: how the sandbox words a moment in error
/// details and health descriptions.
pub fn rfc3339(at: Millis) -> String {
    let date = Date::of(at);
    let seconds = at.rem_euclid(DAY_MS) / 1000;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        date.year,
        date.month,
        date.day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `2027-01-02T03:04:05+0000`: Graph's form of a datetime field (such as
/// a number's `last_onboarded_time`).
pub fn graph_time(at: Millis) -> String {
    let mut text = rfc3339(at);
    text.pop();
    text.push_str("+0000");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_those_of_the_calendar() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        // 2027-01-02T03:04:05Z
        assert_eq!(rfc3339(1_798_859_045_000), "2027-01-02T03:04:05Z");
        // 2028 is a leap year: 2028-02-29T23:59:59Z
        assert_eq!(rfc3339(1_835_481_599_000), "2028-02-29T23:59:59Z");
        assert_eq!(Date::of(1_798_859_045_000).long(), "January 2, 2027");
        assert_eq!(graph_time(1_798_859_045_000), "2027-01-02T03:04:05+0000");
    }

    #[test]
    fn the_long_form_reads_back_only_real_days() {
        let date = Date::parse_long("January 2, 2027").unwrap();
        assert_eq!((date.year, date.month, date.day), (2027, 1, 2));
        assert!(Date::parse_long("February 29, 2028").is_some());
        assert!(Date::parse_long("February 29, 2027").is_none());
        assert!(Date::parse_long("Janvier 2, 2027").is_none());
        assert!(Date::parse_long("2027-01-02").is_none());
    }
}

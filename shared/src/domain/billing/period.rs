//! Billing periods: calendar months in UTC.

use super::CLOSE_GRACE_SECONDS;
use crate::domain::{Timestamp, ValidationError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A calendar month in UTC, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u8,
}

impl Period {
    /// Parses `YYYY-MM` (years 2000 to 9999).
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError("period must be a month written YYYY-MM".into());
        let (year, month) = value.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u8 = month.parse().map_err(|_| invalid())?;
        if !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(invalid());
        }
        Ok(Self { year, month })
    }

    fn datetime(at: Timestamp) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_millis()) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    /// The period `at` falls in.
    pub fn of(at: Timestamp) -> Self {
        let at = Self::datetime(at);
        Self {
            year: at.year(),
            month: u8::from(at.month()),
        }
    }

    /// Day of the month (1 to 31) of `at`.
    pub fn day_of(at: Timestamp) -> u8 {
        Self::datetime(at).day()
    }

    /// The first instant of the period.
    pub fn start(self) -> Timestamp {
        let month = time::Month::try_from(self.month).unwrap_or(time::Month::January);
        let date = time::Date::from_calendar_date(self.year, month, 1).unwrap_or(time::Date::MIN);
        let seconds = date.midnight().assume_utc().unix_timestamp();
        Timestamp::from_millis(seconds.saturating_mul(1000))
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The first instant after the period.
    pub fn end(self) -> Timestamp {
        self.next().start()
    }

    /// Whether the period may be closed at `now`: it has ended, and so has the life of
    /// any reservation made in it.
    pub fn closable_at(self, now: Timestamp) -> bool {
        now >= self.end().plus_seconds(CLOSE_GRACE_SECONDS)
    }

    /// `YYYYMM`, for identifiers.
    pub fn compact(self) -> String {
        format!("{:04}{:02}", self.year, self.month)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

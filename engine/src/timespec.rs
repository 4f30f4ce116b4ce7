//! Instants as operators type them.
//!
//! `--at` accepts, in this order of detection:
//! - `mark:NAME` — a named marker recorded with `kairos mark` (resolved
//!   against the store, so parsing only keeps the name);
//! - a relative offset into the past: `-15m`, `-2h`, `-30s`, `-1d`,
//!   `-1h30m`, `-500ms`;
//! - RFC 3339 with an offset or `Z`, fractional seconds allowed
//!   (`2026-11-24T10:15:00.123456Z`);
//! - a local civil time `YYYY-MM-DD HH:MM:SS[.fff]` (or with `T`), in the
//!   machine's time zone — what an operator reads off a wall clock.
//!
//! Parsing is separate from resolution: [`TimeSpec::parse`] checks syntax,
//! [`TimeSpec::resolve`] turns it into a UTC instant given "now", a time zone
//! and a marker lookup. Tests pass all three explicitly.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// A parsed `--at` value, not yet resolved to an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSpec {
    /// An absolute instant (RFC 3339 input).
    Instant(Timestamp),
    /// A civil date-time in the local time zone.
    Local(DateTime),
    /// This long before now.
    Ago(SignedDuration),
    /// A named marker.
    Mark(String),
}

/// Why a time could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeSpecError {
    /// Nothing matched; the message lists the accepted forms.
    #[error(
        "cannot read time {input:?}: expected RFC 3339 (2026-11-24T10:15:00Z), local 'YYYY-MM-DD HH:MM:SS', relative (-15m, -2h, -1d) or mark:NAME"
    )]
    Syntax {
        /// What the user typed.
        input: String,
    },
    /// Recognisable but impossible (month 13, offset overflow, empty marker).
    #[error("invalid time {input:?}: {reason}")]
    Invalid {
        /// What the user typed.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `mark:NAME` with no such marker in the store.
    #[error("no marker named {name:?} in the store (list them with `kairos timeline`)")]
    UnknownMark {
        /// The marker name.
        name: String,
    },
    /// A local time that does not exist or is ambiguous in the zone.
    #[error("local time {input} cannot be placed in time zone {zone}: {reason}")]
    Local {
        /// The civil time.
        input: String,
        /// The zone's name.
        zone: String,
        /// Gap or fold explanation.
        reason: String,
    },
}

impl TimeSpec {
    /// Parses what the user typed. See the module docs for the forms.
    pub fn parse(input: &str) -> Result<Self, TimeSpecError> {
        let s = input.trim();
        if let Some(name) = s.strip_prefix("mark:") {
            if name.is_empty() {
                return Err(TimeSpecError::Invalid {
                    input: input.to_owned(),
                    reason: "marker name is empty".into(),
                });
            }
            return Ok(TimeSpec::Mark(name.to_owned()));
        }
        if let Some(rel) = s.strip_prefix('-') {
            return parse_relative(rel)
                .map(TimeSpec::Ago)
                .ok_or_else(|| TimeSpecError::Syntax {
                    input: input.to_owned(),
                });
        }
        let looks_dated = s.len() >= 10
            && s.as_bytes()[4] == b'-'
            && s.as_bytes()[7] == b'-'
            && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        if !looks_dated {
            return Err(TimeSpecError::Syntax {
                input: input.to_owned(),
            });
        }
        let has_zone = s.ends_with('Z')
            || s.ends_with('z')
            || s.get(10..)
                .is_some_and(|t| t.contains('+') || t.rfind('-').is_some());
        if has_zone {
            return s.parse::<Timestamp>().map(TimeSpec::Instant).map_err(|e| {
                TimeSpecError::Invalid {
                    input: input.to_owned(),
                    reason: e.to_string(),
                }
            });
        }
        s.replacen(' ', "T", 1)
            .parse::<DateTime>()
            .map(TimeSpec::Local)
            .map_err(|e| TimeSpecError::Invalid {
                input: input.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Resolves to a UTC instant. `marks` looks a marker name up in the store.
    pub fn resolve(
        &self,
        now: Timestamp,
        tz: &TimeZone,
        marks: impl FnOnce(&str) -> Option<Timestamp>,
    ) -> Result<Timestamp, TimeSpecError> {
        match self {
            TimeSpec::Instant(t) => Ok(*t),
            TimeSpec::Ago(d) => now.checked_sub(*d).map_err(|e| TimeSpecError::Invalid {
                input: format!("-{d}"),
                reason: e.to_string(),
            }),
            TimeSpec::Mark(name) => {
                marks(name).ok_or_else(|| TimeSpecError::UnknownMark { name: name.clone() })
            }
            TimeSpec::Local(dt) => {
                tz.to_ambiguous_timestamp(*dt)
                    .unambiguous()
                    .map_err(|e| TimeSpecError::Local {
                        input: dt.to_string(),
                        zone: tz.iana_name().unwrap_or("local").to_owned(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Resolves against the system clock and time zone.
    pub fn resolve_now(
        &self,
        marks: impl FnOnce(&str) -> Option<Timestamp>,
    ) -> Result<Timestamp, TimeSpecError> {
        self.resolve(Timestamp::now(), &TimeZone::system(), marks)
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeSpec::Instant(t) => write!(f, "{t}"),
            TimeSpec::Local(dt) => write!(f, "{dt} (local)"),
            TimeSpec::Ago(d) => write!(f, "-{d:#}"),
            TimeSpec::Mark(n) => write!(f, "mark:{n}"),
        }
    }
}

impl std::str::FromStr for TimeSpec {
    type Err = TimeSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeSpec::parse(s)
    }
}

/// Longest relative offset accepted, so arithmetic never overflows.
const HUNDRED_YEARS_NS: i128 = 100 * 366 * 86_400 * 1_000_000_000;

/// `15m`, `2h`, `1h30m`, `500ms`, `1d`, `45s` → duration. Units must be
/// given; at most 100 years so arithmetic never overflows.
fn parse_relative(s: &str) -> Option<SignedDuration> {
    if s.is_empty() {
        return None;
    }
    let mut total: i128 = 0; // nanoseconds
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return None;
        }
        let n: i128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ns: i128 = match unit {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" | "min" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "d" => 86_400 * 1_000_000_000,
            "w" => 7 * 86_400 * 1_000_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(ns)?)?;
    }
    if total > HUNDRED_YEARS_NS {
        return None;
    }
    Some(SignedDuration::from_nanos(i64::try_from(total).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> Timestamp {
        "2026-11-24T12:00:00Z".parse().expect("fixed now")
    }

    fn resolve(s: &str, tz: &TimeZone) -> Result<Timestamp, TimeSpecError> {
        TimeSpec::parse(s)?.resolve(now(), tz, |name| {
            (name == "checkpoint").then(|| "2026-11-24T09:30:00Z".parse().expect("mark"))
        })
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn rfc3339_forms() {
        let utc = TimeZone::UTC;
        assert_eq!(
            resolve("2026-11-24T10:15:00Z", &utc),
            Ok(ts("2026-11-24T10:15:00Z"))
        );
        assert_eq!(
            resolve("2026-11-24T10:15:00.123456Z", &utc),
            Ok(ts("2026-11-24T10:15:00.123456Z"))
        );
        assert_eq!(
            resolve("2026-11-24T11:15:00+01:00", &utc),
            Ok(ts("2026-11-24T10:15:00Z"))
        );
        assert_eq!(
            resolve("2026-11-24T05:15:00-05:00", &utc),
            Ok(ts("2026-11-24T10:15:00Z"))
        );
    }

    #[test]
    fn local_time_uses_the_given_zone() {
        let paris = TimeZone::get("Europe/Paris").expect("tzdb has Paris");
        assert_eq!(
            resolve("2026-11-24 14:01:00", &paris),
            Ok(ts("2026-11-24T13:01:00Z"))
        );
        assert_eq!(
            resolve("2026-11-24T14:01:00.5", &TimeZone::UTC),
            Ok(ts("2026-11-24T14:01:00.5Z"))
        );
        // 02:30 on the spring-forward day does not exist in Paris
        let err = resolve("2026-03-29 02:30:00", &paris).expect_err("gap");
        assert!(matches!(err, TimeSpecError::Local { .. }), "{err}");
    }

    #[test]
    fn relative_and_marks() {
        let utc = TimeZone::UTC;
        assert_eq!(resolve("-15m", &utc), Ok(ts("2026-11-24T11:45:00Z")));
        assert_eq!(resolve("-2h", &utc), Ok(ts("2026-11-24T10:00:00Z")));
        assert_eq!(resolve("-1h30m", &utc), Ok(ts("2026-11-24T10:30:00Z")));
        assert_eq!(resolve("-1d", &utc), Ok(ts("2026-11-23T12:00:00Z")));
        assert_eq!(resolve("-250ms", &utc), Ok(ts("2026-11-24T11:59:59.75Z")));
        assert_eq!(
            resolve("mark:checkpoint", &utc),
            Ok(ts("2026-11-24T09:30:00Z"))
        );
        assert_eq!(
            resolve("mark:nope", &utc),
            Err(TimeSpecError::UnknownMark {
                name: "nope".into()
            })
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        for bad in [
            "",
            "yesterday",
            "-",
            "-15",
            "-15x",
            "-m",
            "14:02",
            "2026-13-01 10:00:00",
            "2026-11-24T25:00:00Z",
            "2026-11-24 10:00:00 junk",
            "mark:",
            "-99999999999999d",
            "2026/11/24 10:00:00",
        ] {
            let err = TimeSpec::parse(bad).and_then(|t| t.resolve(now(), &TimeZone::UTC, |_| None));
            assert!(err.is_err(), "{bad:?} must be rejected, got {err:?}");
            let msg = err.expect_err("checked").to_string();
            assert!(
                msg.contains(bad.trim()) || bad.is_empty() || bad == "mark:",
                "{msg}"
            );
        }
        let msg = TimeSpec::parse("yesterday").expect_err("bad").to_string();
        assert!(
            msg.contains("RFC 3339") && msg.contains("mark:NAME"),
            "{msg}"
        );
    }

    proptest! {
        #[test]
        fn rfc3339_round_trips(secs in 0i64..4_000_000_000, nanos in 0i32..1_000_000_000) {
            let t = Timestamp::new(secs, nanos).expect("in range");
            let parsed = TimeSpec::parse(&t.to_string()).expect("parse own output");
            prop_assert_eq!(parsed.resolve(now(), &TimeZone::UTC, |_| None), Ok(t));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = TimeSpec::parse(&s).map(|t| t.resolve(now(), &TimeZone::UTC, |_| None));
        }
    }
}

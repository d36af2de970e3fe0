//! Datetimes as RFC 3339 text (`2024-05-01T12:00:00.5Z`) and durations as `1.5s` / `250ms` / `1h30m`, read and
//! written by `jiff` (no calendar arithmetic of ours). Durations are read by the parser of every duration flag of the
//! CLI and the server (`gantry_server::parse_signed_duration`).

use gantry_core::model::{Duration, Timestamp};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// RFC 3339 in UTC, with as many fraction digits as needed.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    // Out of jiff's range (years -9999..=9999): the raw value, still readable.
    jiff::Timestamp::new(timestamp.seconds, timestamp.nanos).map_or_else(
        |_| {
            format!(
                "{}.{:09}s since 1970-01-01T00:00:00Z",
                timestamp.seconds, timestamp.nanos
            )
        },
        |at| at.to_string(),
    )
}

/// Parses RFC 3339 (`2024-05-01T12:00:00Z`, `2024-05-01 12:00:00.25+02:00`) into UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let at: jiff::Timestamp = text
        .parse()
        .map_err(|_| format!("{text:?} is not an RFC 3339 datetime like 2024-05-01T12:00:00Z"))?;
    Ok(Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    })
}

/// A time flag (`--since`, `--until`): an RFC 3339 datetime, or a duration before now (`1h`, `30m`).
pub fn parse_time_or_ago(text: &str) -> Result<prost_types::Timestamp, String> {
    if let Ok(at) = parse_timestamp(text) {
        return Ok(prost_types::Timestamp {
            seconds: at.seconds,
            nanos: at.nanos,
        });
    }
    let ago = gantry_server::parse_duration(text)
        .map_err(|_| format!("{text:?} is neither an RFC 3339 datetime nor a duration like 1h or 30m"))?;
    let at = std::time::SystemTime::now()
        .checked_sub(ago)
        .ok_or_else(|| format!("{text:?} ago is before 1970"))?;
    Ok(prost_types::Timestamp::from(at))
}

/// Splits nanoseconds into seconds and a non-negative nanosecond part.
fn split_nanos(total: i128) -> Option<(i64, i32)> {
    let seconds = i64::try_from(total.div_euclid(NANOS_PER_SECOND)).ok()?;
    let nanos = i32::try_from(total.rem_euclid(NANOS_PER_SECOND)).ok()?;
    Some((seconds, nanos))
}

/// `1.5s`, `0s`, `-250ms` style: seconds with a trimmed fraction.
pub fn format_duration(duration: Duration) -> String {
    let total = i128::from(duration.seconds) * NANOS_PER_SECOND + i128::from(duration.nanos);
    let sign = if total < 0 { "-" } else { "" };
    let magnitude = total.abs();
    let fraction = match magnitude % NANOS_PER_SECOND {
        0 => String::new(),
        nanos => format!(".{}", format!("{nanos:09}").trim_end_matches('0')),
    };
    format!("{sign}{}{fraction}s", magnitude / NANOS_PER_SECOND)
}

/// Parses `1.5s`, `250ms`, `2m`, `1h30m`, `1m 30s`, `10us`, `5ns` (jiff's friendly format, or ISO 8601 `PT1M30S`),
/// or a bare number of seconds; a leading `-` negates.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed = gantry_server::parse_signed_duration(text)?;
    let total = signed.as_nanos();
    let (seconds, nanos) = split_nanos(total).ok_or_else(|| format!("{text:?} is too long a duration"))?;
    Ok(Duration { seconds, nanos })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        for (seconds, nanos, text) in [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_714_564_800, 500_000_000, "2024-05-01T12:00:00.5Z"),
            (-1, 0, "1969-12-31T23:59:59Z"),
            (951_782_400, 1, "2000-02-29T00:00:00.000000001Z"),
        ] {
            let timestamp = Timestamp { seconds, nanos };
            assert_eq!(format_timestamp(timestamp), text);
            assert_eq!(parse_timestamp(text), Ok(timestamp));
        }
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let parsed = parse_timestamp("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(format_timestamp(parsed), "2024-05-01T12:00:00Z");
        let parsed = parse_timestamp("2024-05-01 11:30:00.25-00:30").unwrap();
        assert_eq!(format_timestamp(parsed), "2024-05-01T12:00:00.25Z");
    }

    #[test]
    fn malformed_datetimes_are_rejected() {
        for text in [
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "yesterday",
            "2024-05-01T00:00:00",
            "2024-05-01T00:00:00.Z",
        ] {
            assert!(parse_timestamp(text).is_err(), "{text}");
        }
    }

    #[test]
    fn durations_parse_and_format() {
        assert_eq!(
            parse_duration("1.5s"),
            Ok(Duration {
                seconds: 1,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            parse_duration("250ms"),
            Ok(Duration {
                seconds: 0,
                nanos: 250_000_000
            })
        );
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(
            parse_duration("-1.5s"),
            Ok(Duration {
                seconds: -2,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            format_duration(Duration {
                seconds: 1,
                nanos: 500_000_000
            }),
            "1.5s"
        );
        assert_eq!(
            format_duration(Duration {
                seconds: -2,
                nanos: 500_000_000
            }),
            "-1.5s"
        );
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
        for text in ["", "s", "1x", "1..5s", "-", "1 2"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }
}

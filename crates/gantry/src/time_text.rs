//! Datetimes as RFC 3339 text (`2024-05-01T12:00:00.5Z`) and durations as `1.5s` / `250ms` / `1h30m`.

use gantry_core::model::{Duration, Timestamp};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn total_nanos(seconds: i64, nanos: i32) -> i128 {
    i128::from(seconds) * NANOS_PER_SECOND + i128::from(nanos)
}

/// Splits nanoseconds into seconds and a non-negative nanosecond part.
fn split_nanos(total: i128) -> Option<(i64, i32)> {
    let seconds = i64::try_from(total.div_euclid(NANOS_PER_SECOND)).ok()?;
    let nanos = i32::try_from(total.rem_euclid(NANOS_PER_SECOND)).ok()?;
    Some((seconds, nanos))
}

/// `.5`, `.123456789`: the fraction of a second without trailing zeros, empty for whole seconds.
fn fraction(nanos: i128) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// RFC 3339 in UTC, with as many fraction digits as needed.
pub fn format_timestamp(timestamp: Timestamp) -> String {
    let total = total_nanos(timestamp.seconds, timestamp.nanos);
    let seconds = total.div_euclid(NANOS_PER_SECOND);
    let nanos = total.rem_euclid(NANOS_PER_SECOND);
    // i64 seconds divided by 86400 fits in an i64.
    let days = i64::try_from(seconds.div_euclid(86_400)).unwrap_or(i64::MAX);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{}Z",
        fraction(nanos)
    )
}

fn number(text: &str, what: &str) -> Result<i64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad {what} {text:?}"));
    }
    text.parse().map_err(|_| format!("bad {what} {text:?}"))
}

/// Parses RFC 3339 (`2024-05-01T12:00:00Z`, `2024-05-01 12:00:00.25+02:00`) into UTC.
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let invalid = || format!("{text:?} is not an RFC 3339 datetime like 2024-05-01T12:00:00Z");
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return Err(invalid());
    }
    let (date, rest) = text.split_at(10);
    let rest = &rest[1..];
    let mut date_parts = date.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (date_parts.next(), date_parts.next(), date_parts.next()) else {
        return Err(invalid());
    };
    let (year, month, day) = (number(year, "year")?, number(month, "month")?, number(day, "day")?);
    let offset_at = rest.find(['Z', 'z', '+', '-']).ok_or_else(invalid)?;
    let (time, offset) = rest.split_at(offset_at);
    let (clock, frac) = match time.split_once('.') {
        Some((_, "")) => return Err(invalid()),
        Some((clock, frac)) => (clock, frac),
        None => (time, ""),
    };
    let mut clock_parts = clock.splitn(3, ':');
    let (Some(hour), Some(minute), Some(second)) = (clock_parts.next(), clock_parts.next(), clock_parts.next()) else {
        return Err(invalid());
    };
    let (hour, minute, second) = (
        number(hour, "hour")?,
        number(minute, "minute")?,
        number(second, "second")?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(invalid());
    }
    if frac.len() > 9 || (!frac.is_empty() && !frac.bytes().all(|b| b.is_ascii_digit())) {
        return Err(invalid());
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        number(&format!("{frac:0<9}"), "fraction")?
    };
    let offset_seconds = match offset {
        "Z" | "z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = offset[1..].split_once(':').ok_or_else(invalid)?;
            sign * (number(hours, "offset")? * 3600 + number(minutes, "offset")? * 60)
        }
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    let total = i128::from(seconds) * NANOS_PER_SECOND + i128::from(nanos);
    let (seconds, nanos) = split_nanos(total).ok_or_else(invalid)?;
    Ok(Timestamp { seconds, nanos })
}

/// `1.5s`, `0s`, `-250ms` style: seconds with a trimmed fraction.
pub fn format_duration(duration: Duration) -> String {
    let total = total_nanos(duration.seconds, duration.nanos);
    let sign = if total < 0 { "-" } else { "" };
    let magnitude = total.abs();
    format!(
        "{sign}{}{}s",
        magnitude / NANOS_PER_SECOND,
        fraction(magnitude % NANOS_PER_SECOND)
    )
}

/// Parses `1.5s`, `250ms`, `2m`, `1h30m`, `10us`, `5ns`, or a bare number of seconds; a leading `-` negates.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration like 1.5s, 250ms or 1h30m");
    let trimmed = text.trim();
    let (negative, mut rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (value, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_nanos: i128 = match unit {
            "h" => 3600 * NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "s" | "" => NANOS_PER_SECOND,
            "ms" => 1_000_000,
            "us" | "µs" => 1_000,
            "ns" => 1,
            _ => return Err(invalid()),
        };
        if unit.is_empty() && !after.is_empty() {
            return Err(invalid());
        }
        total += scaled(value, unit_nanos).ok_or_else(invalid)?;
        rest = after;
    }
    let total = if negative { -total } else { total };
    let (seconds, nanos) = split_nanos(total).ok_or_else(invalid)?;
    Ok(Duration { seconds, nanos })
}

/// `value` (decimal, such as `1.25`) times `unit_nanos`, exactly, truncating below a nanosecond.
fn scaled(value: &str, unit_nanos: i128) -> Option<i128> {
    let (whole, frac) = value.split_once('.').unwrap_or((value, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if frac.contains('.') || frac.len() > 18 {
        return None;
    }
    let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac_value: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    let frac_scale = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    whole
        .checked_mul(unit_nanos)?
        .checked_add(frac_value.checked_mul(unit_nanos)? / frac_scale)
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

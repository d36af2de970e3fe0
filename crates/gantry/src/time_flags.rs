//! The CLI's time flags (`--since`, `--until`): a point in time, written as a datetime or as a duration before now.

use gantry_text::time_text::parse_timestamp;

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

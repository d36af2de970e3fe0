//! A launch plan's schedule in a few words, as the CLI's tables and the console show it: `cron "0 2 * * *"
//! Europe/Paris`, `every 600s`, with the input that gets the tick's time and the catch-up policy when it runs missed
//! ticks.

use gantry_core::model::{CatchUp, Schedule, ScheduleKind};

use crate::time_text::format_duration;

/// `cron "0 2 * * *" Europe/Paris, tick time to "at", runs up to 3 missed ticks`.
pub fn describe(schedule: &Schedule) -> String {
    let mut text = match &schedule.kind {
        ScheduleKind::Cron { expression, time_zone } => {
            let zone = if time_zone.is_empty() { "UTC" } else { time_zone };
            format!("cron {expression:?} {zone}")
        }
        ScheduleKind::FixedRate(rate) => format!("every {}", format_duration(*rate)),
    };
    if let Some(kickoff) = &schedule.kickoff_input {
        text.push_str(&format!(", tick time to {kickoff:?}"));
    }
    if let CatchUp::RunMissed { limit } = schedule.catch_up {
        text.push_str(&format!(", runs up to {limit} missed ticks"));
    }
    text
}

#[cfg(test)]
mod tests {
    use gantry_core::model::Duration;

    use super::*;

    #[test]
    fn a_schedule_reads_in_a_few_words() {
        let cron = Schedule {
            kind: ScheduleKind::Cron {
                expression: "0 2 * * *".to_owned(),
                time_zone: "Europe/Paris".to_owned(),
            },
            kickoff_input: Some("at".to_owned()),
            catch_up: CatchUp::RunMissed { limit: 3 },
        };
        assert_eq!(
            describe(&cron),
            r#"cron "0 2 * * *" Europe/Paris, tick time to "at", runs up to 3 missed ticks"#
        );
        let rate = Schedule {
            kind: ScheduleKind::FixedRate(Duration::from_secs(600)),
            kickoff_input: None,
            catch_up: CatchUp::Skip,
        };
        assert_eq!(describe(&rate), "every 600s");
        let utc = Schedule {
            kind: ScheduleKind::Cron {
                expression: "* * * * *".to_owned(),
                time_zone: String::new(),
            },
            ..rate
        };
        assert_eq!(describe(&utc), r#"cron "* * * * *" UTC"#);
    }
}

//! A couple's days: the D-day count, the anniversaries that follow from the day they started, the
//! partners' birthdays and their own dates, and when each is announced.
//!
//! Pure date arithmetic shared by the aggregate (which decides which reminders are due), the read
//! model (which schedules the next one and lists them) and the API (labels), so the three agree.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether a date comes back every year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Repeats {
    /// Once.
    None,
    /// On the same day every year.
    Yearly,
}

/// Where an anniversary comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnniversaryKind {
    /// Counted from the day they started: every 100 days and every year.
    Auto,
    /// A partner's birthday.
    Birthday,
    /// One the couple added.
    Custom,
}

/// A date the couple added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomDate {
    /// Its id.
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// The (first) day.
    pub date: NaiveDate,
    /// Whether it comes back.
    pub repeats: Repeats,
}

/// A partner's birthday, with the title it is shown under (`"지은 생일"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Birthday {
    /// Whose.
    pub user_id: Uuid,
    /// How it is shown.
    pub title: String,
    /// The day they were born.
    pub born: NaiveDate,
}

/// Everything a couple's anniversaries follow from.
#[derive(Debug, Clone, Copy)]
pub struct Dates<'a> {
    /// Day 1.
    pub started_on: NaiveDate,
    /// The partners' birthdays they told Moim.
    pub birthdays: &'a [Birthday],
    /// The couple's own dates.
    pub custom: &'a [CustomDate],
}

/// One anniversary falling on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The custom date's id, or the birthday's owner; none for automatic ones.
    pub id: Option<Uuid>,
    /// `100일`, `1주년`, a birthday's or the couple's title.
    pub title: String,
    /// The day it falls on.
    pub date: NaiveDate,
    /// Where it comes from.
    pub kind: AnniversaryKind,
    /// Whether it comes back.
    pub repeats: Repeats,
}

/// Days before an anniversary on which both partners are told, at [`REMINDER_HOUR`].
pub const REMINDER_DAYS_BEFORE: [i64; 2] = [7, 1];
/// The local hour of the day an anniversary reminder is sent.
pub const REMINDER_HOUR: u32 = 9;
/// The 100-day anniversaries run to this many days, then every [`THOUSANDS_STEP`] days.
const HUNDREDS_UNTIL: i64 = 1000;
const THOUSANDS_STEP: i64 = 1000;
/// No couple counts past this many days or years.
const LAST_DAY: i64 = 30_000;
const LAST_YEAR: i32 = 100;

/// The day number of `today` counting `started_on` as day 1 (the Korean "1일").
pub fn d_day(started_on: NaiveDate, today: NaiveDate) -> i64 {
    (today - started_on).num_days() + 1
}

/// The date of day `n` (day 1 is `started_on`).
pub fn day_n(started_on: NaiveDate, n: i64) -> NaiveDate {
    started_on + Duration::days(n - 1)
}

/// `D-12`, `D-Day` or `D+3`: how far `date` is from `today`.
pub fn d_day_label(date: NaiveDate, today: NaiveDate) -> String {
    let days = (date - today).num_days();
    match days {
        0 => "D-Day".to_owned(),
        d if d > 0 => format!("D-{d}"),
        d => format!("D+{}", -d),
    }
}

/// How a partner's birthday is titled (`"지은 생일"`).
pub fn birthday_title(display_name: &str) -> String {
    format!("{display_name} 생일")
}

/// The local date at `at` in `tz`: what "today" is for the couple.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// `month`/`day` in `year`; 29 February falls on the 28th in other years.
fn yearly_on(month: u32, day: u32, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).or_else(|| {
        (month == 2 && day == 29)
            .then(|| NaiveDate::from_ymd_opt(year, 2, 28))
            .flatten()
    })
}

/// Every anniversary falling on a day in `from..=to`, ordered by date.
pub fn between(dates: Dates<'_>, from: NaiveDate, to: NaiveDate) -> Vec<Occurrence> {
    let mut found = Vec::new();
    if to < from {
        return found;
    }
    let start = dates.started_on;
    let auto = |title: String, date: NaiveDate, repeats| Occurrence {
        id: None,
        title,
        date,
        kind: AnniversaryKind::Auto,
        repeats,
    };
    let first = ((from - start).num_days() + 1).max(1);
    let last = ((to - start).num_days() + 1).min(LAST_DAY);
    let counted = (100..=HUNDREDS_UNTIL)
        .step_by(100)
        .chain((HUNDREDS_UNTIL + THOUSANDS_STEP..=LAST_DAY).step_by(THOUSANDS_STEP as usize));
    for n in counted.filter(|n| (first..=last).contains(n)) {
        found.push(auto(format!("{n}일"), day_n(start, n), Repeats::None));
    }
    for year in from.year()..=to.year() {
        let years = year - start.year();
        if !(1..=LAST_YEAR).contains(&years) {
            continue;
        }
        if let Some(date) = yearly_on(start.month(), start.day(), year) {
            if (from..=to).contains(&date) {
                found.push(auto(format!("{years}주년"), date, Repeats::Yearly));
            }
        }
    }
    for birthday in dates.birthdays {
        for year in from.year()..=to.year() {
            if year <= birthday.born.year() {
                continue;
            }
            if let Some(date) = yearly_on(birthday.born.month(), birthday.born.day(), year) {
                if (from..=to).contains(&date) {
                    found.push(Occurrence {
                        id: Some(birthday.user_id),
                        title: birthday.title.clone(),
                        date,
                        kind: AnniversaryKind::Birthday,
                        repeats: Repeats::Yearly,
                    });
                }
            }
        }
    }
    for custom in dates.custom {
        let days: Vec<NaiveDate> = match custom.repeats {
            Repeats::None => vec![custom.date],
            Repeats::Yearly => (from.year()..=to.year())
                .filter(|&year| year >= custom.date.year())
                .filter_map(|year| yearly_on(custom.date.month(), custom.date.day(), year))
                .collect(),
        };
        for date in days.into_iter().filter(|d| (from..=to).contains(d)) {
            found.push(Occurrence {
                id: Some(custom.id),
                title: custom.title.clone(),
                date,
                kind: AnniversaryKind::Custom,
                repeats: custom.repeats,
            });
        }
    }
    found.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.title.cmp(&b.title)));
    found
}

/// One announcement of an anniversary to both partners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// What is coming.
    pub occurrence: Occurrence,
    /// How many days before it this one is sent.
    pub days_before: i64,
    /// When: [`REMINDER_HOUR`] o'clock local time, `days_before` days ahead.
    pub due_at: DateTime<Utc>,
}

/// The instant `hour:00` local time on `date` (the first of two on a clock turned back, the hour
/// after a clock turned forward past it).
fn local_instant(tz: Tz, date: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let wall = date.and_hms_opt(hour, 0, 0)?;
    tz.from_local_datetime(&wall)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(wall + Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
}

/// The reminders due in `after..=until` for anniversaries that have not passed by `until`
/// (a reminder found late is still sent, once; one for a day gone by is not). When both of an
/// anniversary's reminders are due at once (found late), only the nearer one is sent: nobody
/// wants "a week to go" on the eve.
pub fn reminders_due(
    dates: Dates<'_>,
    tz: Tz,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Reminder> {
    let today = local_date(tz, until);
    let from = local_date(tz, after).max(today);
    let horizon = local_date(tz, until) + Duration::days(REMINDER_DAYS_BEFORE[0]);
    let mut due = Vec::new();
    for occurrence in between(dates, from, horizon) {
        // Nearest first: the first one due is the only one sent.
        for days_before in REMINDER_DAYS_BEFORE.into_iter().rev() {
            let Some(due_at) = local_instant(
                tz,
                occurrence.date - Duration::days(days_before),
                REMINDER_HOUR,
            ) else {
                continue;
            };
            if due_at > after && due_at <= until {
                due.push(Reminder {
                    occurrence: occurrence.clone(),
                    days_before,
                    due_at,
                });
                break;
            }
        }
    }
    due.sort_by_key(|r| r.due_at);
    due
}

/// When the next reminder after `after` is due, if any anniversary is left to announce.
pub fn next_reminder(dates: Dates<'_>, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let from = local_date(tz, after);
    // A year and a week always holds the next yearly anniversary and its reminders.
    let to = from + Duration::days(366 + REMINDER_DAYS_BEFORE[0]);
    between(dates, from, to)
        .into_iter()
        .flat_map(|o| {
            REMINDER_DAYS_BEFORE.into_iter().filter_map(move |days| {
                local_instant(tz, o.date - Duration::days(days), REMINDER_HOUR)
            })
        })
        .filter(|&at| at > after)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn only_start(started_on: NaiveDate) -> Dates<'static> {
        Dates {
            started_on,
            birthdays: &[],
            custom: &[],
        }
    }

    #[test]
    fn the_first_day_is_day_one_and_labels_count_towards_and_past_it() {
        assert_eq!(d_day(day(2026, 1, 1), day(2026, 1, 1)), 1);
        assert_eq!(d_day(day(2026, 1, 1), day(2026, 4, 10)), 100);
        assert_eq!(day_n(day(2026, 1, 1), 100), day(2026, 4, 10));
        assert_eq!(d_day_label(day(2026, 4, 10), day(2026, 3, 29)), "D-12");
        assert_eq!(d_day_label(day(2026, 4, 10), day(2026, 4, 10)), "D-Day");
        assert_eq!(d_day_label(day(2026, 4, 10), day(2026, 4, 13)), "D+3");
    }

    #[test]
    fn hundreds_of_days_then_thousands_and_every_year() {
        let all = between(
            only_start(day(2024, 2, 29)),
            day(2024, 2, 29),
            day(2030, 12, 31),
        );
        let titles: Vec<&str> = all.iter().map(|o| o.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "100일", "200일", "300일", "1주년", "400일", "500일", "600일", "700일", "2주년",
                "800일", "900일", "1000일", "3주년", "4주년", "5주년", "2000일", "6주년"
            ]
        );
        // Started on 29 February: the years fall on the 28th until the next leap year.
        let years: Vec<NaiveDate> = all
            .iter()
            .filter(|o| o.title.ends_with("주년"))
            .map(|o| o.date)
            .collect();
        assert_eq!(years[0], day(2025, 2, 28));
        assert_eq!(years[3], day(2028, 2, 29));
        assert_eq!(years[2], day(2027, 2, 28));
        assert_eq!(all[0].date, day(2024, 6, 7));
        assert_eq!(all[0].kind, AnniversaryKind::Auto);
    }

    #[test]
    fn a_window_holds_only_what_falls_in_it() {
        let start = day(2026, 1, 1);
        let april = between(only_start(start), day(2026, 4, 1), day(2026, 4, 30));
        assert_eq!(april.len(), 1);
        assert_eq!(april[0].title, "100일");
        assert!(between(only_start(start), day(2026, 4, 11), day(2026, 4, 30)).is_empty());
        assert!(between(only_start(start), day(2025, 1, 1), day(2025, 12, 31)).is_empty());
    }

    #[test]
    fn a_29_february_birthday_is_kept_on_the_28th_in_common_years() {
        let kim = Uuid::from_u128(1);
        let birthdays = [Birthday {
            user_id: kim,
            title: "민준 생일".into(),
            born: day(2000, 2, 29),
        }];
        let dates = Dates {
            started_on: day(2026, 1, 1),
            birthdays: &birthdays,
            custom: &[],
        };
        let birthdays_only = |from, to| -> Vec<NaiveDate> {
            between(dates, from, to)
                .into_iter()
                .filter(|o| o.kind == AnniversaryKind::Birthday)
                .map(|o| o.date)
                .collect()
        };
        assert_eq!(
            birthdays_only(day(2027, 1, 1), day(2028, 12, 31)),
            [day(2027, 2, 28), day(2028, 2, 29)]
        );
    }

    #[test]
    fn custom_dates_once_or_every_year_from_their_first() {
        let custom = [
            CustomDate {
                id: Uuid::from_u128(7),
                title: "첫 여행".into(),
                date: day(2026, 5, 5),
                repeats: Repeats::Yearly,
            },
            CustomDate {
                id: Uuid::from_u128(8),
                title: "이사".into(),
                date: day(2026, 9, 1),
                repeats: Repeats::None,
            },
        ];
        let dates = Dates {
            started_on: day(2026, 1, 1),
            birthdays: &[],
            custom: &custom,
        };
        let custom_in = |from, to| -> Vec<(String, NaiveDate)> {
            between(dates, from, to)
                .into_iter()
                .filter(|o| o.kind == AnniversaryKind::Custom)
                .map(|o| (o.title, o.date))
                .collect()
        };
        assert_eq!(custom_in(day(2025, 1, 1), day(2025, 12, 31)), []);
        assert_eq!(
            custom_in(day(2026, 1, 1), day(2026, 12, 31)),
            [
                ("첫 여행".into(), day(2026, 5, 5)),
                ("이사".into(), day(2026, 9, 1))
            ]
        );
        assert_eq!(
            custom_in(day(2027, 1, 1), day(2027, 12, 31)),
            [("첫 여행".into(), day(2027, 5, 5))]
        );
    }

    #[test]
    fn today_is_the_couples_day_not_utcs() {
        // 23:30 UTC on 31 December is already 1 January in Seoul, still 31 December in London.
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 30, 0).unwrap();
        assert_eq!(local_date(chrono_tz::Asia::Seoul, at), day(2027, 1, 1));
        assert_eq!(local_date(chrono_tz::Europe::London, at), day(2026, 12, 31));
        assert_eq!(
            d_day(day(2026, 12, 31), local_date(chrono_tz::Asia::Seoul, at)),
            2
        );
    }

    #[test]
    fn reminders_come_at_nine_local_time_seven_days_and_one_day_before() {
        let seoul = chrono_tz::Asia::Seoul;
        let start = day(2026, 1, 1); // 100일 is 10 April
        let seven = Utc.with_ymd_and_hms(2026, 4, 3, 0, 0, 0).unwrap(); // 09:00 KST
        let one = Utc.with_ymd_and_hms(2026, 4, 9, 0, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        assert_eq!(next_reminder(only_start(start), seoul, after), Some(seven));
        assert_eq!(next_reminder(only_start(start), seoul, seven), Some(one));
        let due_by = |until| -> Vec<(i64, DateTime<Utc>, String)> {
            reminders_due(only_start(start), seoul, after, until)
                .into_iter()
                .map(|r| (r.days_before, r.due_at, r.occurrence.title))
                .collect()
        };
        assert_eq!(due_by(seven), [(7, seven, "100일".to_owned())]);
        assert_eq!(
            due_by(one - chrono::Duration::seconds(1)),
            [(7, seven, "100일".to_owned())]
        );
        // Both found due at once (every process was down): only the nearer one.
        assert_eq!(due_by(one), [(1, one, "100일".to_owned())]);
        // Found only after the day itself (every process was down): not sent.
        let late = Utc.with_ymd_and_hms(2026, 4, 11, 0, 0, 0).unwrap();
        assert!(reminders_due(only_start(start), seoul, after, late).is_empty());
    }
}

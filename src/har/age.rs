//! How old a HAR's fixtures are, from its entries' `startedDateTime` (`--max-age`).

use std::time::{Duration, SystemTime};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The entries older than a maximum age.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stale {
    /// Entries recorded before the cut-off.
    pub count: usize,
    /// The oldest entry's date as written, when any entry is stale.
    pub oldest: Option<String>,
    /// Entries whose date could not be read (not counted as stale).
    pub undated: usize,
}

/// The entries, given by their `startedDateTime` values, recorded more than `max_age`
/// before `now`.
pub fn stale_dates<'a>(
    dates: impl IntoIterator<Item = &'a str>,
    max_age: Duration,
    now: SystemTime,
) -> Stale {
    let cut_off = OffsetDateTime::from(now) - max_age;
    let mut stale = Stale::default();
    let mut oldest: Option<(OffsetDateTime, &str)> = None;
    for written in dates {
        let Ok(when) = OffsetDateTime::parse(written, &Rfc3339) else {
            stale.undated += 1;
            continue;
        };
        if when < cut_off {
            stale.count += 1;
            if oldest.is_none_or(|(o, _)| when < o) {
                oldest = Some((when, written));
            }
        }
    }
    stale.oldest = oldest.map(|(_, w)| w.to_string());
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_entries_past_the_cut_off_and_names_the_oldest() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000); // 2027-01-15
        let day = Duration::from_secs(86_400);
        let h = [
            "2027-01-14T10:00:00.000Z",
            "2026-11-01T10:00:00+02:00",
            "2026-10-01T10:00:00.000Z",
            "yesterday",
        ];
        let stale = stale_dates(h, 30 * day, now);
        assert_eq!(stale.count, 2);
        assert_eq!(stale.oldest.as_deref(), Some("2026-10-01T10:00:00.000Z"));
        assert_eq!(stale.undated, 1);
        assert_eq!(stale_dates(h, 365 * day, now).count, 0);
    }
}

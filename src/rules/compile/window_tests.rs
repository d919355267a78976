//! Send-window arithmetic: openings on the wall clock across both
//! daylight-saving changes in New York and London, the gap and the doubled
//! hour, openings past midnight, and closed dates.

use super::super::clock::utc;
use super::*;

fn window(hours: &[&str], closed: Vec<Closed>) -> Window {
    let spans = hours
        .iter()
        .flat_map(|h| parse_hours(h).expect("test hours"))
        .collect();
    let text = hours.iter().map(|h| h.to_string()).collect();
    Window::new("w", text, spans, None, closed, vec![])
}

fn closed(from: &str, to: &str, name: &str) -> Closed {
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a test date");
    Closed {
        from: d(from),
        to: d(to),
        name: name.into(),
    }
}

const NY: Tz = chrono_tz::America::New_York;
const LONDON: Tz = chrono_tz::Europe::London;

#[test]
fn nine_stays_nine_across_the_spring_change_in_new_york() {
    let w = window(&["Mon-Fri 09:00-17:00"], vec![]);
    // Friday 6 March 2026, 23:30 EST; clocks go forward on Sunday 8 March.
    let t = utc("2026-03-07T04:30:00Z");
    assert_eq!(w.next_open(t, NY), Some(utc("2026-03-09T13:00:00Z")));
    // The Monday before the change opens at 09:00 EST, an hour later in UTC.
    assert_eq!(
        w.next_open(utc("2026-02-28T12:00:00Z"), NY),
        Some(utc("2026-03-02T14:00:00Z"))
    );
}

#[test]
fn nine_stays_nine_across_the_autumn_change_in_new_york() {
    let w = window(&["Mon-Fri 09:00-17:00"], vec![]);
    // Friday 30 October 2026, 18:00 EDT; clocks go back on Sunday 1 November.
    let t = utc("2026-10-30T22:00:00Z");
    assert_eq!(w.next_open(t, NY), Some(utc("2026-11-02T14:00:00Z")));
}

#[test]
fn nine_stays_nine_across_both_changes_in_london() {
    let w = window(&["Mon-Fri 09:00-17:00"], vec![]);
    // Friday 27 March 2026 18:00 GMT -> Monday 30 March 09:00 BST.
    assert_eq!(
        w.next_open(utc("2026-03-27T18:00:00Z"), LONDON),
        Some(utc("2026-03-30T08:00:00Z"))
    );
    // Friday 23 October 2026 18:00 BST -> Monday 26 October 09:00 GMT.
    assert_eq!(
        w.next_open(utc("2026-10-23T17:00:00Z"), LONDON),
        Some(utc("2026-10-26T09:00:00Z"))
    );
}

#[test]
fn an_opening_in_the_spring_gap_opens_at_the_first_instant_after_it() {
    // 02:30 doesn't exist in New York on 8 March 2026: the window opens at 03:00 EDT.
    let w = window(&["Sun 02:30-04:00"], vec![]);
    assert_eq!(
        w.next_open(utc("2026-03-07T17:00:00Z"), NY),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    // London's gap is 01:00-02:00 on 29 March 2026.
    let w = window(&["Sun 01:30-03:00"], vec![]);
    assert_eq!(
        w.next_open(utc("2026-03-28T12:00:00Z"), LONDON),
        Some(utc("2026-03-29T01:00:00Z"))
    );
}

#[test]
fn an_opening_in_the_doubled_hour_opens_at_its_first_occurrence() {
    // 01:30 happens twice in New York on 1 November 2026; the first is 01:30 EDT.
    let w = window(&["Sun 01:30-03:00"], vec![]);
    assert_eq!(
        w.next_open(utc("2026-10-31T16:00:00Z"), NY),
        Some(utc("2026-11-01T05:30:00Z"))
    );
    // In London, 01:30 on 25 October 2026 first happens at 01:30 BST.
    assert_eq!(
        w.next_open(utc("2026-10-24T12:00:00Z"), LONDON),
        Some(utc("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn a_window_past_midnight_belongs_to_the_day_it_opens() {
    let w = window(&["Fri 22:00-02:00"], vec![]);
    let z = Tz::UTC;
    // Saturday 01:00 is inside Friday's opening.
    assert!(w.is_open(utc("2026-01-10T01:00:00Z"), z));
    // Saturday 02:00 is past it: the next opening is the next Friday.
    assert_eq!(
        w.next_open(utc("2026-01-10T02:00:00Z"), z),
        Some(utc("2026-01-16T22:00:00Z"))
    );
    // Friday 21:00 waits an hour.
    assert_eq!(
        w.next_open(utc("2026-01-09T21:00:00Z"), z),
        Some(utc("2026-01-09T22:00:00Z"))
    );
    // A closed Friday shuts all of it, the hours after midnight too.
    let w = window(
        &["Fri 22:00-02:00"],
        vec![closed("2026-01-09", "2026-01-09", "Closed")],
    );
    assert!(!w.is_open(utc("2026-01-10T01:00:00Z"), z));
}

#[test]
fn a_window_past_midnight_across_the_spring_change() {
    // Saturday 22:00 to Sunday 04:00 in New York, on the night clocks go forward:
    // it still closes at 04:00 EDT (08:00 UTC), five hours of real time later.
    let w = window(&["Sat 22:00-04:00"], vec![]);
    assert!(w.is_open(utc("2026-03-08T07:59:00Z"), NY));
    assert!(!w.is_open(utc("2026-03-08T08:00:00Z"), NY));
    assert!(w.is_open(utc("2026-03-08T03:00:00Z"), NY));
}

#[test]
fn closed_dates_move_an_opening_and_say_why() {
    let w = window(
        &["Mon-Fri 09:00-17:00"],
        vec![closed("2026-11-26", "2026-11-26", "Thanksgiving Day")],
    );
    // Wednesday 25 November, 18:00 EST: Thursday is Thanksgiving, so Friday 09:00.
    let t = utc("2026-11-25T23:00:00Z");
    assert_eq!(w.next_open(t, NY), Some(utc("2026-11-27T14:00:00Z")));
    let thursday = utc("2026-11-26T15:00:00Z");
    assert!(!w.is_open(thursday, NY));
    assert_eq!(
        w.why_shut(thursday, NY),
        "Thursday 26 November 2026 is closed (Thanksgiving Day)"
    );
    assert_eq!(
        w.why_shut(utc("2026-11-28T15:00:00Z"), NY),
        "it is outside Mon-Fri 09:00-17:00"
    );
    // A closure range shuts every day in it.
    let w = window(
        &["daily 09:00-17:00"],
        vec![closed("2026-12-24", "2026-12-31", "Winter closure")],
    );
    assert_eq!(
        w.next_open(utc("2026-12-23T23:00:00Z"), NY),
        Some(utc("2027-01-01T14:00:00Z"))
    );
}

#[test]
fn a_window_that_never_opens_has_no_next_opening() {
    let w = window(
        &["Mon 09:00-10:00"],
        vec![closed("2026-01-01", "2030-12-31", "Closed for good")],
    );
    assert_eq!(w.next_open(utc("2026-01-05T00:00:00Z"), NY), None);
}

#[test]
fn an_instant_inside_the_window_stays_where_it_is() {
    let w = window(&["Mon-Fri 09:00-17:00", "Sat 10:00-14:00"], vec![]);
    let t = utc("2026-01-10T16:00:00Z"); // Saturday 11:00 EST
    assert_eq!(w.next_open(t, NY), Some(t));
    // 17:00 itself is closed: the window is open up to, not including, its end.
    assert!(!w.is_open(utc("2026-01-09T22:00:00Z"), NY));
}

#[test]
fn hours_read_in_plain_words() {
    let days = |s: &str| -> Vec<u8> {
        let mut d: Vec<u8> = parse_hours(s)
            .expect("hours")
            .iter()
            .map(|s| s.day)
            .collect();
        d.dedup();
        d
    };
    assert_eq!(days("Mon-Fri 09:00-17:00"), [0, 1, 2, 3, 4]);
    assert_eq!(days("Fri-Mon 09:00-17:00"), [0, 4, 5, 6]);
    assert_eq!(days("Mon, Wed, Fri 09:00-12:00"), [0, 2, 4]);
    assert_eq!(days("Saturday 10:00-14:00"), [5]);
    assert_eq!(days("daily 00:00-24:00"), [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(days("weekends 10:00-16:00"), [5, 6]);
    let err = |s: &str| parse_hours(s).err().unwrap_or_default();
    assert!(err("09:00-17:00").contains("write days and a time range"));
    assert!(err("Mon-Fri 9-17").contains("not a time of day"));
    assert!(err("Funday 09:00-17:00").contains("not a day of the week"));
    assert!(err("Mon 09:00-09:00").contains("same time"));
    assert!(err("Mon 25:00-26:00").contains("not a time of day"));
}

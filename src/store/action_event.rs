//! Which event an action belongs to, read from the action's id.
//!
//! Since schema version 14 an action's id is its event's id followed by its
//! place in the event's plan (store/ids.rs), so the event is the id's first
//! 26 characters and the primary key's index finds an event's actions: the
//! column `event_id` and its index `actions_event` held the same 26
//! characters again for every action, twice (about 800 bytes a Typeform
//! lead's dozen actions, an eighth of everything stored for it).
//!
//! Actions stored before keep ids of their own, unrelated to their event's;
//! the column was renamed `old_event_id` and still names their event, and
//! the partial index `actions_old_event` finds them. Every later action
//! writes '' there (no bytes in the row, no entry in the index).
//!
//! So there are two questions, each a macro so `concat!` can build static
//! SQL with it:
//! - [`action_event!`]: the event of an action row (the view
//!   `actions_named` selects it as `event_id`, so most readers never see
//!   the difference);
//! - [`of_event!`]: "this row is an action of that event", written so both
//!   engines answer it from an index: a range of the primary key (every id
//!   that starts with the event's lies between the event's id and that id
//!   followed by `zzzzzz`, the longest place an id is given), or the old
//!   column through its partial index.

/// The event id of a row of `actions` (or `actions_named`) named `$table`:
/// its `old_event_id` when it has one, else the first 26 characters of its
/// id (`ids::LEN`).
macro_rules! action_event {
    ($table:literal) => {
        concat!(
            "COALESCE(NULLIF(",
            $table,
            ".old_event_id, ''), substr(",
            $table,
            ".id, 1, 26))"
        )
    };
}
pub(crate) use action_event;

/// A condition true of the rows of `$table` (`actions` or `actions_named`,
/// or an alias of either) that are actions of the event whose id is
/// `$event` (a parameter like `$1`, or a column like `e.id`).
macro_rules! of_event {
    ($table:literal, $event:literal) => {
        concat!(
            "((",
            $table,
            ".id > ",
            $event,
            " AND ",
            $table,
            ".id <= ",
            $event,
            " || 'zzzzzz') OR (",
            $table,
            ".old_event_id = ",
            $event,
            " AND ",
            $table,
            ".old_event_id <> ''))"
        )
    };
}
pub(crate) use of_event;

//! An action's rule-set version is its event's, stored once.
//!
//! Every action of an event is planned by the rule-set version that planned
//! the event (an event waiting for an `[[enrich]]` fetch gets its version and
//! its actions in the same write), so the 64-character version hash was the
//! same text in all 10 to 15 rows of a shipped-pack lead: 800 bytes a lead,
//! about 4% of everything stored for it. Actions are now written with an
//! empty `ruleset_version` and read their event's; rows written before this
//! change keep and read their own hash.
//!
//! [`action_version!`] is the column expression every reader of an action's
//! version selects, a macro so `concat!` can build static SQL with it.

/// `... AS ruleset_version` for a statement on `actions` (or the view
/// `actions_named`, named as the argument): the row's own version if it
/// has one, else its event's (empty if the event is gone).
macro_rules! action_version {
    ($table:literal) => {
        concat!(
            "COALESCE(NULLIF(",
            $table,
            ".ruleset_version, ''), \
             (SELECT events.ruleset_version FROM events WHERE events.id = ",
            crate::store::action_event::action_event!($table),
            "), '') AS ruleset_version"
        )
    };
}
pub(crate) use action_version;

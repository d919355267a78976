//! An action's names, written once.
//!
//! Every action has five names: its rule, flow, entity, action key and
//! kind. A shipped-pack lead plans 12 or so actions, and all leads share a
//! few dozen combinations of names, so each row spelling them out took
//! about 900 bytes a lead. Since schema version 12 the combinations are
//! rows of `action_names`, each action holds its combination's `name_id`,
//! and a reader sees the names as columns again:
//! - a SELECT reads the view `actions_named` (every column of `actions` and
//!   the five names; an entity of '' there is read as none);
//! - an `UPDATE … RETURNING`, which can't join, selects [`action_names!`];
//! - a statement that picks actions by a name asks `action_names` for the
//!   numbers: `name_id IN (SELECT name_id FROM action_names WHERE rule = $1)`.
//!
//! Writers add combinations not seen before as they insert actions
//! (`store::accept`); a combination is never removed or changed, so a
//! number always means the same names.

/// The five names as columns of an `UPDATE actions … RETURNING` (the
/// argument names the table): each a lookup of the row's `name_id`.
macro_rules! action_names {
    ($table:literal) => {
        concat!(
            "(SELECT n.action_key FROM action_names n WHERE n.name_id = ",
            $table,
            ".name_id) AS action_key, ",
            "(SELECT n.rule FROM action_names n WHERE n.name_id = ",
            $table,
            ".name_id) AS rule, ",
            "(SELECT n.flow FROM action_names n WHERE n.name_id = ",
            $table,
            ".name_id) AS flow, ",
            "(SELECT NULLIF(n.entity, '') FROM action_names n WHERE n.name_id = ",
            $table,
            ".name_id) AS entity, ",
            "(SELECT n.kind FROM action_names n WHERE n.name_id = ",
            $table,
            ".name_id) AS kind"
        )
    };
}
pub(crate) use action_names;

//! An action's names, written once.
//!
//! Every action has five names: its rule, flow, entity, action key and
//! kind. A shipped-pack lead plans 12 or so actions, and all leads share a
//! few dozen combinations of names, so each row spelling them out took
//! about 1,200 bytes a lead (measured). Since schema version 12 the combinations are
//! rows of `action_names`, each action holds its combination's `name_id`,
//! and a reader sees the names as columns again:
//! - a SELECT reads the view `actions_named` (every column of `actions` and
//!   the five names; an entity of '' there is read as none);
//! - the writer's claim, an `UPDATE … RETURNING` (which can't join), returns
//!   the number and finds the names in its memory of them ([`NameIds`]);
//! - a statement that picks actions by a name asks `action_names` for the
//!   numbers: `name_id IN (SELECT name_id FROM action_names WHERE rule = $1)`.
//!
//! The writer adds combinations not seen before as it inserts actions
//! (`store::accept`) and remembers their numbers ([`NameIds`]); a
//! combination is never removed or changed, so a number always means the
//! same names.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::Row;

use super::StoreError;

/// One combination of names, as `action_names` holds it (an `entity` of ''
/// is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub rule: String,
    pub flow: String,
    pub entity: String,
    pub action_key: String,
    pub kind: String,
}

impl Names {
    /// The entity, None for ''.
    pub fn entity(&self) -> Option<&str> {
        Some(self.entity.as_str()).filter(|e| !e.is_empty())
    }
}

/// Numbers both ways.
#[derive(Debug, Default)]
struct Table {
    by_key: HashMap<String, i64>,
    by_id: HashMap<i64, Arc<Names>>,
}

/// The writer's memory of `action_names`: each combination's number, so a
/// lead's actions are written with numbers bound, not looked up in SQL
/// (which cost intake about 13%, measured: 5 text comparisons for each of
/// 12.5 actions a lead, in every round), and a claim's jobs get their names
/// from here, not from five lookups a row (8% of the dispatcher's rate).
///
/// A number is known for good once the transaction that read or made it
/// has committed: combinations are never changed or removed, and every
/// server agrees on them. Until then it is pending, because a round that
/// rolls back takes the combinations it added with it; [`NameIds::settle`]
/// says which it was.
#[derive(Debug, Default)]
pub struct NameIds {
    known: Table,
    pending: Table,
}

impl NameIds {
    /// The map key of five names: joined by a character no name holds
    /// (the unit separator; rule, flow, action and entity names are
    /// printable, and a kind is one of a few words).
    pub fn key(names: [&str; 5]) -> String {
        names.join("\u{1f}")
    }

    /// The number of the combination `key`, if this writer has seen it.
    pub fn get(&self, key: &str) -> Option<i64> {
        self.known
            .by_key
            .get(key)
            .or_else(|| self.pending.by_key.get(key))
            .copied()
    }

    /// The names numbered `id`, if this writer has seen them.
    pub fn names(&self, id: i64) -> Option<Arc<Names>> {
        self.known
            .by_id
            .get(&id)
            .or_else(|| self.pending.by_id.get(&id))
            .cloned()
    }

    /// A combination read inside the round's transaction.
    pub fn learn(&mut self, id: i64, names: Names) {
        if self.known.by_id.contains_key(&id) {
            return;
        }
        let key = Self::key([
            &names.rule,
            &names.flow,
            &names.entity,
            &names.action_key,
            &names.kind,
        ]);
        self.pending.by_key.insert(key, id);
        self.pending.by_id.insert(id, Arc::new(names));
    }

    /// The round's transaction committed (keep what it read) or rolled
    /// back (forget it).
    pub fn settle(&mut self, committed: bool) {
        let pending = std::mem::take(&mut self.pending);
        if committed {
            self.known.by_key.extend(pending.by_key);
            self.known.by_id.extend(pending.by_id);
        }
    }
}

// Reading the table inside the writer's transaction, for each engine's own
// connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// Read every combination of `action_names` into `names`: a few dozen
/// rows for the shipped pack, read when a rule set brings new actions.
pub(crate) async fn read_names_in(conn: &mut Conn, names: &mut NameIds) -> Result<(), StoreError> {
    let all = sqlx::query("SELECT name_id, rule, flow, entity, action_key, kind FROM action_names")
        .fetch_all(&mut *conn)
        .await?;
    for r in &all {
        names.learn(
            r.try_get("name_id")?,
            Names {
                rule: r.try_get("rule")?,
                flow: r.try_get("flow")?,
                entity: r.try_get("entity")?,
                action_key: r.try_get("action_key")?,
                kind: r.try_get("kind")?,
            },
        );
    }
    Ok(())
}

}

#[cfg(test)]
mod tests {
    use super::{NameIds, Names};

    #[test]
    fn a_rolled_back_round_forgets_what_it_learnt() {
        let names = Names {
            rule: "welcome".into(),
            flow: "runtime".into(),
            entity: String::new(),
            action_key: "welcome/notify_1".into(),
            kind: "notify".into(),
        };
        let key = NameIds::key(["welcome", "runtime", "", "welcome/notify_1", "notify"]);
        let mut ids = NameIds::default();
        ids.learn(7, names.clone());
        assert_eq!(ids.get(&key), Some(7), "usable inside its own round");
        assert_eq!(ids.names(7).as_deref(), Some(&names));
        ids.settle(false);
        assert_eq!(
            (ids.get(&key), ids.names(7)),
            (None, None),
            "gone with the rollback"
        );
        ids.learn(8, names.clone());
        ids.settle(true);
        ids.settle(false);
        assert_eq!(ids.get(&key), Some(8), "kept once committed");
        assert_eq!(
            ids.names(8).and_then(|n| n.entity().map(str::to_string)),
            None
        );
    }

    #[test]
    fn names_that_run_together_are_told_apart() {
        assert_ne!(
            NameIds::key(["ab", "c", "", "k", "email"]),
            NameIds::key(["a", "bc", "", "k", "email"])
        );
    }
}

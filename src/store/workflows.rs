//! Workflow instances and their history: one instance per (workflow, contact).

use serde_json::{json, Value};
use sqlx::Row;

use super::writer::{Write, Written};
use super::{from_millis, Backend, Store, StoreError};

/// What a workflow action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Created {
        instance: String,
        state: String,
    },
    Moved {
        instance: String,
        from: String,
        to: String,
    },
    /// The instance was not in one of the allowed states; nothing changed.
    Skipped {
        instance: String,
        state: String,
    },
}

/// A workflow move, as the workflow sink asks for it.
#[derive(Debug, Clone)]
pub struct TransitionRequest {
    pub workflow: String,
    pub contact: String,
    pub to: String,
    /// The states it may move from (empty: any).
    pub from: Vec<String>,
    /// `to` ends the instance.
    pub terminal: bool,
    /// What caused it, for the history.
    pub cause: String,
    /// The job moving it: its success commits with the move (see
    /// [`super::jobs::Fence`]). `None` outside a job.
    pub fence: Option<super::jobs::Fence>,
}

impl Store {
    /// Move (or start) the instance of the request's workflow for its contact
    /// (through the writer, so it commits with the other writes of its round).
    /// Also says whether the request's job was recorded as succeeded with it.
    pub async fn transition(
        &self,
        request: TransitionRequest,
    ) -> Result<(Transition, bool), StoreError> {
        match self.writer.submit(Write::Transition(request)).await? {
            Written::Transitioned(t, done) => Ok((t, done)),
            other => Err(other.mismatch()),
        }
    }
}

// A round's workflow moves inside the writer's transaction, for each
// engine's own connection type `Conn` (see `for_each_engine` in
// store/mod.rs).
//
// One by one, a move was three statements (find the instance, start or move
// it, add to its history). Together, the round finds every instance it
// touches with one SELECT, starts the missing ones with one INSERT, works
// each move out in memory in the order they came (two moves of one instance
// in a round chain as they would one after the other), then writes each
// instance's last state and the whole round's history with one INSERT.
crate::store::for_each_engine! {
pub(crate) async fn transitions_in(
    conn: &mut Conn,
    backend: Backend,
    requests: &[&TransitionRequest],
    now: i64,
) -> Result<Vec<Transition>, StoreError> {
    use std::collections::HashMap;
    let status = |t: &TransitionRequest| if t.terminal { "Completed" } else { "Active" }.to_string();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for t in requests {
        let k = (t.workflow.as_str(), t.contact.as_str());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let mut found: HashMap<(String, String), Instance> = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        found.extend(find_in(conn, backend, chunk).await?);
    }
    // Start the instances that aren't there, each in the state its first
    // move names. Another server may start the same instance at the same
    // moment: whoever inserts first wins, and here the other's instance is
    // found and moved instead.
    let mut starts: Vec<(&TransitionRequest, String)> = Vec::new();
    for t in requests {
        let missing = !found.contains_key(&(t.workflow.clone(), t.contact.clone()))
            && !starts.iter().any(|(s, _)| s.workflow == t.workflow && s.contact == t.contact);
        if missing {
            starts.push((t, crate::store::ids::new_id()));
        }
    }
    let mut started: Vec<String> = Vec::new();
    for chunk in starts.chunks(KEYS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO workflow_instances (id, workflow, contact, state, status, created_at, updated_at) \
             VALUES {} ON CONFLICT (workflow, contact) DO NOTHING RETURNING id",
            backend.values_list(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for (t, id) in chunk {
            q = q
                .bind(id.as_str())
                .bind(t.workflow.as_str())
                .bind(t.contact.as_str())
                .bind(t.to.as_str())
                .bind(status(t))
                .bind(now)
                .bind(now);
        }
        started.extend(q.fetch_all(&mut *conn).await?);
    }
    let mut lost: Vec<(&str, &str)> = Vec::new();
    for (t, id) in &starts {
        let key = (t.workflow.clone(), t.contact.clone());
        if started.contains(id) {
            found.insert(key, Instance { id: id.clone(), state: None, moved: false });
        } else {
            lost.push((t.workflow.as_str(), t.contact.as_str()));
        }
    }
    for chunk in lost.chunks(KEYS_PER_STATEMENT) {
        found.extend(find_in(conn, backend, chunk).await?);
    }

    // Each move, in order, against the instances as the round leaves them.
    let mut out = Vec::with_capacity(requests.len());
    let mut history: Vec<(String, &'static str, String)> = Vec::new();
    for t in requests {
        let key = (t.workflow.clone(), t.contact.clone());
        let Some(i) = found.get_mut(&key) else {
            return Err(StoreError::Other(format!(
                "the `{}` instance of {} could be neither found nor started",
                t.workflow, t.contact
            )));
        };
        let result = match &i.state {
            // Started just now, in the state this move names.
            None => {
                i.state = Some((t.to.clone(), status(t)));
                Transition::Created { instance: i.id.clone(), state: t.to.clone() }
            }
            Some((state, _)) if !t.from.is_empty() && !t.from.contains(state) => Transition::Skipped {
                instance: i.id.clone(),
                state: state.clone(),
            },
            Some((state, _)) => {
                let from = state.clone();
                i.state = Some((t.to.clone(), status(t)));
                i.moved = true;
                Transition::Moved { instance: i.id.clone(), from, to: t.to.clone() }
            }
        };
        let (action, details) = match &result {
            Transition::Created { state, .. } => ("created", json!({"state": state, "cause": t.cause})),
            Transition::Moved { from, to, .. } => ("moved", json!({"from": from, "to": to, "cause": t.cause})),
            Transition::Skipped { state, .. } => (
                "skipped",
                json!({"state": state, "wanted": t.to, "allowed_from": t.from, "cause": t.cause}),
            ),
        };
        history.push((i.id.clone(), action, details.to_string()));
        out.push(result);
    }

    for i in found.values().filter(|i| i.moved) {
        let Some((state, status)) = &i.state else { continue };
        sqlx::query("UPDATE workflow_instances SET state = $1, status = $2, updated_at = $3 WHERE id = $4")
            .bind(state.as_str())
            .bind(status.as_str())
            .bind(now)
            .bind(i.id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    // In the order written: history is read by time, then insertion order.
    for chunk in history.chunks(KEYS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO workflow_history (instance_id, at, action, details) VALUES {}",
            backend.values_list(chunk.len(), 4, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, action, details) in chunk {
            q = q.bind(id.as_str()).bind(now).bind(*action).bind(details.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(out)
}

/// The instances of these (workflow, contact) pairs, locked until the round
/// commits (on PostgreSQL).
async fn find_in(
    conn: &mut Conn,
    backend: Backend,
    keys: &[(&str, &str)],
) -> Result<Vec<((String, String), Instance)>, StoreError> {
    let sql = format!(
        "SELECT id, workflow, contact, state, status FROM workflow_instances WHERE {}{}",
        backend.key_terms(&["workflow", "contact"], keys.len()),
        backend.lock_rows()
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (w, c) in keys {
        q = q.bind(*w).bind(*c);
    }
    let mut found = Vec::new();
    for r in q.fetch_all(&mut *conn).await? {
        found.push((
            (r.try_get("workflow")?, r.try_get("contact")?),
            Instance {
                id: r.try_get("id")?,
                state: Some((r.try_get("state")?, r.try_get("status")?)),
                moved: false,
            },
        ));
    }
    Ok(found)
}
}

/// Pairs (or rows) per statement of a round's workflow moves.
const KEYS_PER_STATEMENT: usize = 100;

/// An instance as a round's moves leave it.
struct Instance {
    id: String,
    /// Its state and status; `None` for one this round started, until the
    /// move that started it is taken.
    state: Option<(String, String)>,
    /// A move of this round changed a stored instance.
    moved: bool,
}

impl Store {
    /// An instance with its history (GET /workflows/{id}).
    pub async fn instance(&self, id: &str) -> Result<Value, StoreError> {
        let r = sqlx::query("SELECT id, workflow, contact, state, status, created_at, updated_at FROM workflow_instances WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("there is no workflow instance {id}")))?;
        let history_sql = format!(
            "SELECT at, action, details FROM workflow_history WHERE instance_id = $1 ORDER BY {}",
            self.backend.history_order()
        );
        let history: Vec<Value> = sqlx::query(sqlx::AssertSqlSafe(history_sql))
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|h| {
                Ok(json!({
                    "timestamp": from_millis(h.try_get("at")?),
                    "action": h.try_get::<String, _>("action")?,
                    "details": serde_json::from_str::<Value>(&h.try_get::<String, _>("details")?).unwrap_or(Value::Null),
                }))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(json!({
            "id": r.try_get::<String, _>("id")?,
            "workflow": r.try_get::<String, _>("workflow")?,
            "contact": r.try_get::<String, _>("contact")?,
            "state": r.try_get::<String, _>("state")?,
            "status": r.try_get::<String, _>("status")?,
            "created_at": from_millis(r.try_get("created_at")?),
            "updated_at": from_millis(r.try_get("updated_at")?),
            "history": history,
        }))
    }
}

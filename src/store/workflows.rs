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

// Workflow moves inside the writer's transaction, for each engine's own
// connection type `Conn` (see `for_each_engine` in store/mod.rs).
crate::store::for_each_engine! {
/// Move (or start) an instance inside the caller's transaction, and record it in the history.
pub(crate) async fn transition_in(
    conn: &mut Conn,
    backend: Backend,
    t: &TransitionRequest,
    now: i64,
) -> Result<Transition, StoreError> {
    let TransitionRequest {
        workflow,
        contact,
        to,
        from,
        terminal,
        cause,
        fence: _,
    } = t;
    let select = format!(
        "SELECT id, state FROM workflow_instances WHERE workflow = $1 AND contact = $2{}",
        backend.lock_rows()
    );
    let find = || {
        sqlx::query(sqlx::AssertSqlSafe(select.clone()))
            .bind(workflow)
            .bind(contact)
    };
    let status = if *terminal { "Completed" } else { "Active" };
    let mut row = find().fetch_optional(&mut *conn).await?;
    let mut created: Option<String> = None;
    if row.is_none() {
        let id = uuid::Uuid::now_v7().to_string();
        // Another server may start the same instance at the same moment:
        // whoever inserts first wins, the other moves the instance it made.
        created = sqlx::query_scalar(
            "INSERT INTO workflow_instances (id, workflow, contact, state, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workflow, contact) DO NOTHING RETURNING id",
        )
        .bind(&id)
        .bind(workflow)
        .bind(contact)
        .bind(to)
        .bind(status)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if created.is_none() {
            row = find().fetch_optional(&mut *conn).await?;
        }
    }
    let result = match (created, row) {
        (Some(id), _) => Transition::Created {
            instance: id,
            state: to.to_string(),
        },
        (None, None) => {
            return Err(StoreError::Other(format!(
                "the `{workflow}` instance of {contact} could be neither found nor started"
            )))
        }
        (None, Some(r)) => {
            let id: String = r.try_get("id")?;
            let state: String = r.try_get("state")?;
            if !from.is_empty() && !from.contains(&state) {
                Transition::Skipped {
                    instance: id,
                    state,
                }
            } else {
                sqlx::query("UPDATE workflow_instances SET state = $1, status = $2, updated_at = $3 WHERE id = $4")
                    .bind(to)
                    .bind(status)
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *conn)
                    .await?;
                Transition::Moved {
                    instance: id,
                    from: state,
                    to: to.to_string(),
                }
            }
        }
    };
    let (id, action, details) = match &result {
        Transition::Created { instance, state } => {
            (instance, "created", json!({"state": state, "cause": cause}))
        }
        Transition::Moved { instance, from, to } => (
            instance,
            "moved",
            json!({"from": from, "to": to, "cause": cause}),
        ),
        Transition::Skipped { instance, state } => (
            instance,
            "skipped",
            json!({"state": state, "wanted": to, "allowed_from": from, "cause": cause}),
        ),
    };
    sqlx::query(
        "INSERT INTO workflow_history (instance_id, at, action, details) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(now)
    .bind(action)
    .bind(details.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(result)
}
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

//! An event's explain trace, made whole again when it is read.
//!
//! Each candidate rule's conditions with the values they compared, and the
//! routing step route by route, were most of what a stored event weighed
//! (about 2.6 KB of a Typeform lead). They follow from what the store keeps
//! anyway: the request as it came (body, kept headers, arrival time, and
//! what an `[[enrich]]` source fetched) and the rule-set version that
//! planned it. So intake stores which rules fired, the entities and why,
//! cancellations and notes, and `rules_later` (store::accept); reading the
//! event (the API, the console, `hsflow export`) normalises the stored
//! request again with that version and plans it without rendering, which
//! gives the same verdicts and values the planning saw.

use std::sync::Arc;

use serde_json::Value;

use crate::engine::plan::{plan, Options};
use crate::rules::RuleSet;
use crate::sources::intake::renormalise;
use crate::sources::normalise::Request;
use crate::store::Store;

/// The rule-set version whose rules `event` (as GET /api/events/{id} shows
/// it) needs to make its trace whole, if it was stored compact.
pub fn version_needed(event: &Value) -> Option<String> {
    if event["trace"]["rules_later"] != true {
        return None;
    }
    event["ruleset_version"].as_str().map(str::to_string)
}

/// Put the rules' verdicts and the routing back into `event`'s trace, from
/// its stored request planned again by `rs` (its version). When that can't
/// be done the trace keeps which rules fired and says why in its notes.
pub async fn fill(store: &Store, event: &mut Value, rs: Result<Arc<RuleSet>, String>) {
    let rebuilt = match rs {
        Ok(rs) => rebuild(store, event, &rs).await,
        Err(e) => Err(e),
    };
    let trace = &mut event["trace"];
    match rebuilt {
        Ok((rules, routing)) => {
            trace["rules"] = rules;
            trace["routing"] = routing;
            if let Some(t) = trace.as_object_mut() {
                t.remove("rules_later");
            }
        }
        Err(e) => {
            let note = format!("The conditions of each rule could not be shown again: {e}.");
            match trace["notes"].as_array_mut() {
                Some(notes) => notes.push(note.into()),
                None => trace["notes"] = Value::Array(vec![note.into()]),
            }
        }
    }
}

async fn rebuild(store: &Store, event: &Value, rs: &RuleSet) -> Result<(Value, Value), String> {
    let id = event["id"].as_str().unwrap_or_default().to_string();
    let stored = store
        .stored_requests_by_id(std::slice::from_ref(&id))
        .await
        .map_err(|e| format!("its request can't be read ({e})"))?;
    let req = stored
        .first()
        .ok_or_else(|| format!("event {id} is gone"))?;
    let src = rs
        .sources
        .get(&req.source)
        .ok_or_else(|| format!("its version has no source `{}`", req.source))?;
    let request = Request {
        headers: &req.headers,
        body: &req.body,
    };
    let ev = renormalise(rs, src, &request, req.received_at, req.enriched.as_ref())?;
    let p = plan(
        rs,
        &ev,
        Options {
            render: false,
            explain: true,
        },
    );
    let json = |v: serde_json::Result<Value>| v.map_err(|e| e.to_string());
    Ok((
        json(serde_json::to_value(&p.rules))?,
        json(serde_json::to_value(&p.routing))?,
    ))
}

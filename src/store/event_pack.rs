//! An event's stored parts in one compressed frame.
//!
//! An event row kept its request body, kept headers, normalised fields,
//! trace and plan in five columns, four of them compressed each on its own
//! (store::packed). The parts repeat one another (the fields are values of
//! the body, the plan spells out the contact's address and name again), and
//! a shipped-pack lead's row came to about 1,680 bytes: SQLite's 4 KB pages
//! then hold two rows each, and a third of every page stood empty (2,050
//! bytes a lead on disk). Packed together, at zstd level 3 against the same
//! dictionary, the parts take about 1,080 bytes and the row about 1,170:
//! three rows a page, 1,365 bytes a lead.
//!
//! The frame is the `packed` column: a layout byte ([`EVENT_LAYOUT`]), then
//! one zstd frame of the parts, each preceded by its length (4 bytes,
//! little-endian): body, fields, headers, trace, plan (the plan's entries as
//! [`super::packed::plan_bytes`] writes them; empty when nothing was
//! planned). The old columns are then empty. Rows written before keep their
//! columns and `packed` NULL; [`parts_of`] reads either.
//!
//! The fields are no longer text SQL can search: the events list's search
//! reads them here instead (store::browse).

use sqlx::Row;

use super::StoreError;

/// The first byte of the `packed` column: this layout. A plan packed alone
/// starts with 1 (`packed::PLAN_LAYOUT`), so the claim can read either from
/// one column expression.
pub(super) const EVENT_LAYOUT: u8 = 2;

/// The columns [`parts_of`] reads: both layouts'.
pub(super) const PART_COLUMNS: &str =
    "headers, headers_packed, body, body_packed, fields, trace, trace_packed, packed";

/// An event's stored parts, unpacked.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EventParts {
    /// The request body as received.
    pub body: Vec<u8>,
    /// The normalised fields, JSON.
    pub fields: String,
    /// The kept headers, JSON.
    pub headers: String,
    /// The explain trace as stored, JSON.
    pub trace: String,
    /// The planned actions' entries (`packed::plan_bytes`), empty for none.
    pub plan: Vec<u8>,
}

impl EventParts {
    /// The parts in one column's bytes.
    pub fn pack(&self) -> Result<Vec<u8>, StoreError> {
        let mut raw = Vec::with_capacity(
            self.body.len()
                + self.fields.len()
                + self.headers.len()
                + self.trace.len()
                + self.plan.len()
                + 20,
        );
        for part in [
            &self.body[..],
            self.fields.as_bytes(),
            self.headers.as_bytes(),
            self.trace.as_bytes(),
            &self.plan[..],
        ] {
            super::packed::push_part(&mut raw, part, "an event")?;
        }
        let mut out = vec![EVENT_LAYOUT];
        out.extend(super::packed::compress(&raw)?);
        Ok(out)
    }

    /// The parts of a `packed` column's bytes.
    pub fn unpack(packed: &[u8]) -> Result<EventParts, StoreError> {
        let corrupt = |why: &str| StoreError::Corrupt(format!("an event's stored parts {why}"));
        let Some((&layout, rest)) = packed.split_first() else {
            return Err(corrupt("are empty"));
        };
        if layout != EVENT_LAYOUT {
            return Err(corrupt(&format!(
                "have layout {layout}, which this version of hsflow doesn't know (a newer one wrote them?)"
            )));
        }
        let raw = super::packed::decompress(rest, "an event's stored parts")?;
        let mut at = 0;
        let mut next = || -> Result<&[u8], StoreError> {
            match super::packed::next_part(&raw, &mut at) {
                Ok(Some(part)) => Ok(part),
                Ok(None) => Err(corrupt("end before all five parts")),
                Err(()) => Err(corrupt("end in the middle of a part")),
            }
        };
        let text = |b: &[u8], what: &str| {
            String::from_utf8(b.to_vec())
                .map_err(|_| corrupt(&format!("hold {what} that is not UTF-8")))
        };
        let body = next()?.to_vec();
        let fields = text(next()?, "fields")?;
        let headers = text(next()?, "headers")?;
        let trace = text(next()?, "a trace")?;
        let plan = next()?.to_vec();
        Ok(EventParts {
            body,
            fields,
            headers,
            trace,
            plan,
        })
    }
}

/// Event `id`'s row with `columns` (which name `id`) and its parts' columns.
pub(super) async fn event_row(
    pool: &sqlx::AnyPool,
    columns: &str,
    id: &str,
) -> Result<sqlx::any::AnyRow, StoreError> {
    let sql = format!("SELECT {columns}, {PART_COLUMNS} FROM events WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("there is no event {id}")))
}

/// The stored parts of event row `r` (selected with [`PART_COLUMNS`] and
/// `id`), whichever layout wrote it: an error if they can't be read. A row
/// of the old layout reads as it always did (a damaged trace or headers
/// column is logged and reads as empty; a damaged body is an error), and
/// its plan is left empty: readers find it through `action_plan!`.
pub fn parts_of(r: &sqlx::any::AnyRow) -> Result<EventParts, StoreError> {
    read(r, true)
}

/// [`parts_of`] for showing: damage is logged and what it hit reads as
/// empty (so as null JSON), and one damaged event never hides a page of
/// others. In the old layout each column stands alone, as before.
pub fn shown_parts(r: &sqlx::any::AnyRow) -> EventParts {
    read(r, false).unwrap_or_else(|e| {
        warn(r, &e);
        EventParts::default()
    })
}

/// Either layout; in the old one a damaged body is an error when
/// `body_counts`, else empty like the other parts.
fn read(r: &sqlx::any::AnyRow, body_counts: bool) -> Result<EventParts, StoreError> {
    match r.try_get::<Option<Vec<u8>>, _>("packed")? {
        Some(packed) => EventParts::unpack(&packed),
        None => old_parts(r, body_counts),
    }
}

fn warn(r: &sqlx::any::AnyRow, e: &StoreError) {
    let id = r.try_get::<String, _>("id").unwrap_or_default();
    tracing::warn!(event = %id, "{e}");
}

/// A row of the old layout, one column per part; a damaged body is an
/// error when `body_counts`, else empty like the others.
fn old_parts(r: &sqlx::any::AnyRow, body_counts: bool) -> Result<EventParts, StoreError> {
    let id = r.try_get::<String, _>("id").unwrap_or_default();
    let text = |column: &str| -> String {
        let read = || -> Result<String, StoreError> {
            super::packed::text(
                r.try_get(column)?,
                r.try_get(format!("{column}_packed").as_str())?,
                &format!("the {column} of event {id}"),
            )
        };
        read().unwrap_or_else(|e| {
            warn(r, &e);
            String::new()
        })
    };
    let body = match super::packed::body(r.try_get("body")?, r.try_get("body_packed")?) {
        Ok(body) => body,
        Err(e) if !body_counts => {
            warn(r, &e);
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    Ok(EventParts {
        body,
        fields: r.try_get("fields")?,
        headers: text("headers"),
        trace: text("trace"),
        plan: Vec::new(),
    })
}

/// A stored JSON part for showing: null when it is empty or damaged.
pub fn shown_json(part: &str) -> serde_json::Value {
    serde_json::from_str(part).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> EventParts {
        EventParts {
            body: br#"{"email":"ada@example.org","name":"Ada"}"#.to_vec(),
            fields: r#"{"email":"ada@example.org"}"#.into(),
            headers: r#"{"content-type":"application/json"}"#.into(),
            trace: r#"{"rules":[]}"#.into(),
            plan: super::super::packed::plan_bytes([("r/a", "{\"x\":1}")]).expect("entries"),
        }
    }

    #[test]
    fn parts_unpack_to_what_was_packed() {
        let p = parts();
        let packed = p.pack().expect("packs");
        assert_eq!(packed[0], EVENT_LAYOUT);
        assert_eq!(EventParts::unpack(&packed).expect("unpacks"), p);
        let empty = EventParts::default();
        assert_eq!(
            EventParts::unpack(&empty.pack().expect("packs")).expect("unpacks"),
            empty
        );
    }

    #[test]
    fn damaged_parts_are_an_error_that_says_so() {
        let packed = parts().pack().expect("packs");
        let mut other = packed.clone();
        other[0] = 7;
        let e = EventParts::unpack(&other).expect_err("layout 7");
        assert!(e.to_string().contains("layout 7"), "{e}");
        assert!(EventParts::unpack(&[]).is_err());
        assert!(EventParts::unpack(&packed[..packed.len() / 2]).is_err());
        // A whole frame with fewer than five parts.
        let mut short = vec![EVENT_LAYOUT];
        short.extend(super::super::packed::compress(&[1, 0, 0, 0, b'a']).expect("packs"));
        let e = EventParts::unpack(&short).expect_err("one part");
        assert!(e.to_string().contains("before all five parts"), "{e}");
    }
}

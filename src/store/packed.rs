//! What an event and a local page store, compressed.
//!
//! A shipped-pack lead stored about 16 KB, and a few things were most of it
//! (measured on 300 leads): the 12 or so planned actions' payloads, 5.6 KB
//! of JSON that repeat one another (the contact's address and name, the
//! entity, the times), the request body, 1.5 KB of JSON that repeats the
//! form's own definition, and the local Notion pages' properties, 2.2 KB.
//! All are written once (a page whole at each write), so they compress
//! well and cheaply:
//! - an event's parts (its body, fields, kept headers, trace and the
//!   **plan**, every planned action's payload as
//!   `store::action_payload::compact` writes it) are one frame on the event
//!   row (store::event_pack, since store version 15; before, the plan,
//!   body, trace and headers were each compressed alone, and those rows
//!   are read as they are). Its action rows keep an empty `payload` and
//!   find theirs in the plan by their `action_key`. A row whose payload
//!   changes after planning ("run now" drops a send window) writes its own
//!   payload again, and a row's own payload wins;
//! - a local Notion page's **properties** ([`pack_text`]: the text column
//!   is then empty and `{column}_packed` holds it).
//!
//! Every frame is packed against one [`DICTIONARY`]: small records share
//! little with themselves and much with each other. With it, a lead's plan
//! takes about 620 bytes, its body 490, its trace 40; a page 150.
//!
//! zstd at its fastest level: a lead's plan and body in 15 µs (2,121 bytes
//! without the dictionary), where deflate took 29 µs at level 1 (2,275
//! bytes) and 57 µs at level 6 (1,962 bytes), measured on 300 shipped-pack
//! leads; unpacking is faster still. Each thread keeps its compression
//! contexts, which cost more to set up than a lead takes to pack.
//!
//! Readers never see any of this: every reader of an action's payload goes
//! through [`Plans`] (which unpacks each event's plan once per query),
//! every reader of an event's other parts through `event_pack::parts_of`
//! and of a page through [`properties`].

use std::cell::RefCell;
use std::collections::HashMap;

use super::StoreError;

/// The first byte of a packed plan: its layout, so a later layout can be
/// told apart from this one.
const PLAN_LAYOUT: u8 = 1;

/// A plan or body bigger than this when unpacked is corrupt: the largest
/// shipped-pack plan is under 10 KB, and a body is at most the server's
/// request limit.
const MAX_UNPACKED: u64 = 256 << 20;

/// zstd level 3 (its default). Level 1 packed a shipped-pack lead's plan
/// and body into 2,121 bytes in 15 µs without the dictionary, where deflate
/// at level 6 took 57 µs for 1,962. With the dictionary, a lead's parts in
/// one frame take 1,087 bytes at level 3 against 1,256 at level 1, and
/// pack as fast (770 MB/s either, `zstd -b1 -e3 -D` on 20 leads' parts:
/// about 10 µs a lead). Levels 6 and 9 save 85 and 190 bytes more, at six
/// and eleven times the time.
const LEVEL: i32 = 3;

/// `... AS plan` for a statement on `actions` (or the view `actions_named`,
/// named as the argument): the event's packed plan (its packed parts, or
/// its plan column if it was stored before them: store::event_pack) when
/// the row has no payload of its own, else NULL (not read for nothing).
macro_rules! action_plan {
    ($table:literal) => {
        concat!(
            "CASE WHEN ",
            $table,
            ".payload = '' THEN \
             (SELECT COALESCE(events.packed, events.plan) FROM events WHERE events.id = ",
            crate::store::action_event::action_event!($table),
            ") END AS plan"
        )
    };
}
pub(crate) use action_plan;

/// The dictionary every frame is packed with: what an event's plan, body,
/// trace and headers and a page's properties have in common with every
/// other's (JSON keys, the payload format, the shipped pack's texts and
/// Notion property shapes), trained by `cargo bench --bench dictionary`
/// from every source's examples with made-up addresses, names, ids, times
/// and text. On events made from another seed, an event's parts pack to
/// 511 bytes with it against 1,486 alone (4,146 raw). A frame names the
/// dictionary it was packed with (zstd writes its id in the frame), so
/// frames from before it (no dictionary) and from a later one are told
/// apart. Never change this file once shipped: train a new dictionary
/// under a new name, pack with that, and keep reading this one.
pub const DICTIONARY: &[u8] = include_bytes!("dictionary/1.zdict");

// A compression context is 1 MB or so to set up: each thread keeps one
// (intake packs on the request's task, readers unpack on theirs), and one
// for frames packed with no dictionary (before it came).
thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static PLAIN_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

pub(super) fn compress(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let failed =
        |e: std::io::Error| StoreError::Other(format!("compressing for the store failed: {e}"));
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        let c = match &mut *c {
            Some(c) => c,
            empty => empty.insert(
                zstd::bulk::Compressor::with_dictionary(LEVEL, DICTIONARY).map_err(failed)?,
            ),
        };
        c.compress(bytes).map_err(failed)
    })
}

pub(super) fn decompress(bytes: &[u8], what: &str) -> Result<Vec<u8>, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("{what} can't be unpacked: {why}"));
    // Every frame written here says how big it unpacks to.
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(n)) if n <= MAX_UNPACKED => n as usize,
        Ok(Some(n)) => return Err(corrupt(format!("it says it unpacks to {n} bytes"))),
        Ok(None) | Err(_) => return Err(corrupt("it is not a whole zstd frame".into())),
    };
    // The frame names its dictionary: none (packed before there was one) or ours.
    let (cell, dictionary) = match zstd::zstd_safe::get_dict_id_from_frame(bytes) {
        None => (&PLAIN_DECOMPRESSOR, None),
        Some(id) if Some(id) == zstd::zstd_safe::get_dict_id_from_dict(DICTIONARY) => {
            (&DECOMPRESSOR, Some(DICTIONARY))
        }
        Some(id) => {
            return Err(corrupt(format!(
                "it was packed with dictionary {id}, which this version of hsflow doesn't have (a newer one wrote it?)"
            )))
        }
    };
    cell.with(|d| {
        let mut d = d.borrow_mut();
        let d = match &mut *d {
            Some(d) => d,
            empty => empty.insert(
                match dictionary {
                    Some(dict) => zstd::bulk::Decompressor::with_dictionary(dict),
                    None => zstd::bulk::Decompressor::new(),
                }
                .map_err(|e| corrupt(e.to_string()))?,
            ),
        };
        d.decompress(bytes, size)
            .map_err(|e| corrupt(e.to_string()))
    })
}

/// An event's plan, packed alone, as events were stored before their parts
/// were packed together (store::event_pack): what the tests of reading
/// those rows write.
#[cfg(test)]
/// Each entry is its key and payload, each preceded by its length (4 bytes,
/// little-endian), so no text needs escaping.
pub fn pack_plan<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<u8>, StoreError> {
    let raw = plan_bytes(entries)?;
    let mut out = vec![PLAN_LAYOUT];
    out.extend(compress(&raw)?);
    Ok(out)
}

/// A plan's entries as they are packed, before compression (what the
/// dictionary is trained on).
pub fn plan_bytes<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<u8>, StoreError> {
    let mut raw = Vec::new();
    for (key, payload) in entries {
        push_part(&mut raw, key.as_bytes(), "an action")?;
        push_part(&mut raw, payload.as_bytes(), "an action")?;
    }
    Ok(raw)
}

/// Append `part` to `raw`, preceded by its length (4 bytes, little-endian),
/// so nothing in it needs escaping: how a plan's entries and an event's
/// parts (store::event_pack) are laid out. `what` names it if it is too big.
pub(super) fn push_part(raw: &mut Vec<u8>, part: &[u8], what: &str) -> Result<(), StoreError> {
    let len = u32::try_from(part.len())
        .map_err(|_| StoreError::Other(format!("{what} is too big to store (over 4 GB)")))?;
    raw.extend_from_slice(&len.to_le_bytes());
    raw.extend_from_slice(part);
    Ok(())
}

/// The part of `raw` at `*at` (laid out by [`push_part`]), moving `*at`
/// past it: `Ok(None)` at the end, `Err(())` if `raw` ends inside a part.
pub(super) fn next_part<'a>(raw: &'a [u8], at: &mut usize) -> Result<Option<&'a [u8]>, ()> {
    if *at == raw.len() {
        return Ok(None);
    }
    let len = raw
        .get(*at..*at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
        .ok_or(())?;
    let part = raw.get(*at + 4..*at + 4 + len).ok_or(())?;
    *at += 4 + len;
    Ok(Some(part))
}

/// An unpacked plan: each action key's stored payload.
pub type Unpacked = HashMap<String, String>;

/// The entries of a packed plan: a plan packed alone (layout 1) or the
/// plan part of an event's parts (store::event_pack, layout 2).
pub fn unpack_plan(packed: &[u8]) -> Result<Unpacked, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("an event's stored plan {why}"));
    let Some((&layout, rest)) = packed.split_first() else {
        return Err(corrupt("is empty"));
    };
    match layout {
        PLAN_LAYOUT => entries(&decompress(rest, "an event's stored plan")?),
        super::event_pack::EVENT_LAYOUT => {
            entries(&super::event_pack::EventParts::unpack(packed)?.plan)
        }
        _ => Err(corrupt(&format!(
            "has layout {layout}, which this version of hsflow doesn't know (a newer one wrote it?)"
        ))),
    }
}

/// A plan's entries from their bytes ([`plan_bytes`]).
fn entries(raw: &[u8]) -> Result<Unpacked, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("an event's stored plan {why}"));
    let mut at = 0;
    let mut part = || -> Result<Option<String>, StoreError> {
        match next_part(raw, &mut at) {
            Ok(Some(text)) => String::from_utf8(text.to_vec())
                .map(Some)
                .map_err(|_| corrupt("holds text that is not UTF-8")),
            Ok(None) => Ok(None),
            Err(()) => Err(corrupt("ends in the middle of an entry")),
        }
    };
    let mut out = HashMap::new();
    while let Some(key) = part()? {
        let payload = part()?.ok_or_else(|| corrupt("has a key with no payload"))?;
        out.insert(key, payload);
    }
    Ok(out)
}

/// Unpacked plans by event, for the rows of one query: an event's actions
/// usually come together (claimed at once, listed on its page), and each
/// plan is unpacked once.
#[derive(Default)]
pub struct Plans {
    by_event: HashMap<String, Unpacked>,
}

impl Plans {
    /// The stored payload of action `key` of `event_id`: the row's `own`
    /// text if it has one, else its entry in `plan` (the [`action_plan!`]
    /// column).
    pub fn stored(
        &mut self,
        own: String,
        event_id: &str,
        key: &str,
        plan: Option<Vec<u8>>,
    ) -> Result<String, StoreError> {
        if !own.is_empty() {
            return Ok(own);
        }
        if !self.by_event.contains_key(event_id) {
            let packed = plan.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "action {key} of event {event_id} has no payload, and its event no plan"
                ))
            })?;
            self.by_event
                .insert(event_id.to_string(), unpack_plan(&packed)?);
        }
        let unpacked = &self.by_event[event_id];
        unpacked.get(key).cloned().ok_or_else(|| {
            StoreError::Corrupt(format!(
                "action {key} is missing from the stored plan of event {event_id}"
            ))
        })
    }
}

/// A body as stored before an event's parts were packed together:
/// (bytes, packed), packed only when that is smaller.
#[cfg(test)]
fn pack_body(body: Vec<u8>) -> Result<(Vec<u8>, bool), StoreError> {
    let packed = compress(&body)?;
    Ok(if packed.len() < body.len() {
        (packed, true)
    } else {
        (body, false)
    })
}

/// A stored body as it was received.
pub fn body(stored: Vec<u8>, packed: i64) -> Result<Vec<u8>, StoreError> {
    match packed {
        0 => Ok(stored),
        1 => decompress(&stored, "an event's stored body"),
        n => Err(StoreError::Corrupt(format!(
            "an event's body is stored packed in a way ({n}) this version of hsflow doesn't know"
        ))),
    }
}

/// A text column as stored: (text, packed). Packed when that is smaller,
/// and the text is then empty (an event's trace and headers, a local page's
/// properties: JSON that names every key each time, so it packs well).
pub fn pack_text(text: String) -> Result<(String, Option<Vec<u8>>), StoreError> {
    let packed = compress(text.as_bytes())?;
    Ok(if packed.len() < text.len() {
        (String::new(), Some(packed))
    } else {
        (text, None)
    })
}

/// The text of a stored (text, packed) pair; `what` names it in the error
/// a damaged one gives.
pub fn text(text: String, packed: Option<Vec<u8>>, what: &str) -> Result<String, StoreError> {
    match packed {
        None => Ok(text),
        Some(packed) => String::from_utf8(decompress(&packed, what)?)
            .map_err(|_| StoreError::Corrupt(format!("{what} is not UTF-8 text"))),
    }
}

/// A stored (text, packed) pair holding JSON, parsed.
pub fn json(
    text: String,
    packed: Option<Vec<u8>>,
    what: &str,
) -> Result<serde_json::Value, StoreError> {
    let text = self::text(text, packed, what)?;
    serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("{what} is not JSON ({e})")))
}

/// A local Notion page's properties from its stored (text, packed) pair.
/// `page` names it in the error a damaged page gives.
pub fn properties(
    text: String,
    packed: Option<Vec<u8>>,
    page: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    match json(
        text,
        packed,
        &format!("the properties of local page {page}"),
    )? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(StoreError::Corrupt(format!(
            "the properties of local page {page} are not a JSON object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_unpacks_to_what_was_packed() {
        let entries = [
            (
                "welcome/email",
                "{\"delay_s\":0,\"text\":\"h\u{e9}llo\\n\"}",
            ),
            ("welcome/task", ""),
            ("", "{}"),
        ];
        let packed = pack_plan(entries).expect("packs");
        let unpacked = unpack_plan(&packed).expect("unpacks");
        assert_eq!(unpacked.len(), 3);
        for (k, v) in entries {
            assert_eq!(unpacked[k], v);
        }
    }

    #[test]
    fn page_properties_come_back_as_written_packed_or_not() {
        let big = serde_json::json!({"Name": {"title": [{"text": {"content": "Ada Lovelace"}}]},
            "Notes": {"rich_text": [{"text": {"content": "Ada Lovelace, Ada Lovelace, Ada Lovelace"}}]}});
        let (text, packed) = pack_text(big.to_string()).expect("packs");
        assert!(
            text.is_empty() && packed.is_some(),
            "repetitive JSON is packed"
        );
        let back = properties(text, packed, "p1").expect("unpacks");
        assert_eq!(serde_json::Value::Object(back), big);
        // Too small to gain: kept as text.
        let (text, packed) = pack_text("{}".into()).expect("packs");
        assert_eq!((text.as_str(), packed.is_none()), ("{}", true));
        assert!(properties(text, packed, "p2").expect("reads").is_empty());
        // Damage is an error naming the page, never an empty page.
        let e = properties(String::new(), Some(vec![1, 2, 3]), "p3").expect_err("damaged");
        assert!(e.to_string().contains("local page p3"), "{e}");
        let e = properties("[1]".into(), None, "p4").expect_err("not an object");
        assert!(e.to_string().contains("not a JSON object"), "{e}");
    }

    #[test]
    fn frames_packed_before_the_dictionary_still_unpack() {
        let text = br#"{"kind":"notify","text":"New lead"}"#;
        let old = zstd::bulk::compress(text, 1).expect("a frame with no dictionary");
        assert_eq!(zstd::zstd_safe::get_dict_id_from_frame(&old), None);
        assert_eq!(body(old, 1).expect("unpacks"), text);
        let new = compress(text).expect("packs");
        assert!(
            zstd::zstd_safe::get_dict_id_from_frame(&new).is_some(),
            "new frames name the dictionary"
        );
        assert_eq!(body(new, 1).expect("unpacks"), text);
        // A frame naming a dictionary this build lacks says so: the same
        // frame with another id in its header (after the magic number and
        // the descriptor byte, and the window byte unless single-segment).
        let mut other = compress(text).expect("packs");
        let descriptor = other[4];
        let at = 5 + usize::from(descriptor & 0x20 == 0);
        assert_ne!(descriptor & 3, 0, "the frame has a dictionary id");
        other[at] ^= 1;
        let id = zstd::zstd_safe::get_dict_id_from_frame(&other).expect("an id");
        let e = body(other, 1).expect_err("an unknown dictionary");
        assert!(e.to_string().contains(&format!("dictionary {id}")), "{e}");
    }

    #[test]
    fn a_damaged_plan_is_an_error_that_says_so() {
        let packed = pack_plan([("a/b", "{\"delay_s\":0}")]).expect("packs");
        let mut wrong_layout = packed.clone();
        wrong_layout[0] = 9;
        let e = unpack_plan(&wrong_layout).expect_err("layout 9");
        assert!(e.to_string().contains("layout 9"), "{e}");
        assert!(unpack_plan(&packed[..packed.len() / 2]).is_err());
        assert!(unpack_plan(&[]).is_err());
        // A whole frame that ends inside an entry.
        let mut torn = vec![PLAN_LAYOUT];
        torn.extend(compress(&[3, 0, 0, 0, b'a']).expect("compresses"));
        let e = unpack_plan(&torn).expect_err("torn entry");
        assert!(e.to_string().contains("middle of an entry"), "{e}");
    }

    #[test]
    fn a_row_with_its_own_payload_keeps_it_and_others_read_the_plan_once() {
        let packed = pack_plan([("r/a", "{\"x\":1}"), ("r/b", "{\"x\":2}")]).expect("packs");
        let mut plans = Plans::default();
        let own = plans
            .stored("{\"x\":9}".into(), "e1", "r/a", None)
            .expect("own");
        assert_eq!(own, "{\"x\":9}");
        let a = plans
            .stored(String::new(), "e1", "r/a", Some(packed))
            .expect("a");
        assert_eq!(a, "{\"x\":1}");
        // The plan of e1 is known now: a row that brings none still reads it.
        let b = plans.stored(String::new(), "e1", "r/b", None).expect("b");
        assert_eq!(b, "{\"x\":2}");
        let e = plans
            .stored(String::new(), "e1", "r/c", None)
            .expect_err("r/c");
        assert!(
            e.to_string().contains("missing from the stored plan"),
            "{e}"
        );
        let e = plans
            .stored(String::new(), "e2", "r/a", None)
            .expect_err("no plan");
        assert!(e.to_string().contains("no plan"), "{e}");
    }

    #[test]
    fn a_body_is_packed_only_when_that_is_smaller() {
        let json = br#"{"answers":[{"a":"x"},{"a":"x"},{"a":"x"},{"a":"x"},{"a":"x"}]}"#;
        let (stored, packed) = pack_body(json.to_vec()).expect("packs");
        assert!(packed && stored.len() < json.len());
        assert_eq!(body(stored, 1).expect("unpacks"), json);
        let (stored, packed) = pack_body(b"ab".to_vec()).expect("packs");
        assert!(!packed);
        assert_eq!(body(stored, 0).expect("as is"), b"ab");
        assert!(body(b"not zstd".to_vec(), 1).is_err());
        assert!(body(Vec::new(), 2).is_err());
    }
}

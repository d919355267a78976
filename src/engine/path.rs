//! JSONPaths, compiled once at load.
//!
//! Most paths in source files are plain (`$.form_response.token`,
//! `$.line_items[0].name`): those compile to a list of keys and indexes and
//! are walked directly, which costs nanoseconds. The next most common shape
//! picks an element of a list by one of its values, as Typeform's answers
//! are read (`$.form_response.answers[?@.field.ref == 'email'].email`): it
//! compiles to three plain walks and a comparison ([`FilterPath`]), because
//! through the general engine the eight such paths of the Typeform source
//! took 5% of the server's CPU under a stream of leads (`perf`), more than
//! half of normalising them. Anything richer
//! (wildcards, recursive descent, other filters) is parsed once by
//! jsonpath-rust and run through it. Either way nothing is parsed per event.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct JsonPath {
    text: String,
    kind: PathKind,
}

#[derive(Debug, Clone)]
enum PathKind {
    Simple(Vec<Segment>),
    Filter(Box<FilterPath>),
    Full(Box<JpQuery>),
}

/// `$.<list>[?@.<test> == '<text>'].<then>`: of the elements of `list` (the
/// values of an object), those whose `test` is the string `text`, each
/// walked on by `then`. The same answers as the general engine gives for
/// such a path (a test in this file holds the two side by side).
#[derive(Debug, Clone)]
struct FilterPath {
    list: Vec<Segment>,
    test: Vec<Segment>,
    equals: Value,
    then: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// Compile a JSONPath; the error says what is wrong in words.
    pub fn compile(text: &str) -> Result<JsonPath, String> {
        if !text.starts_with('$') {
            return Err(format!(
                "`{text}` is not a JSONPath: it must start with `$`, like \"$.email\""
            ));
        }
        if let Some(segments) = simple_segments(text) {
            return Ok(JsonPath {
                text: text.to_string(),
                kind: PathKind::Simple(segments),
            });
        }
        let q =
            parse_json_path(text).map_err(|e| format!("`{text}` is not a valid JSONPath: {e}"))?;
        let kind = match filter_path(text) {
            Some(f) => PathKind::Filter(Box::new(f)),
            None => PathKind::Full(Box::new(q)),
        };
        Ok(JsonPath {
            text: text.to_string(),
            kind,
        })
    }

    /// A path from dotted words (`payload.form_response.token`), for conditions.
    pub fn from_dotted(words: &str) -> JsonPath {
        JsonPath {
            text: format!("$.{words}"),
            kind: PathKind::Simple(
                words
                    .split('.')
                    .map(|w| match w.parse::<usize>() {
                        Ok(i) => Segment::Index(i),
                        Err(_) => Segment::Key(w.to_string()),
                    })
                    .collect(),
            ),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Every value the path selects.
    pub fn select<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        match &self.kind {
            PathKind::Simple(segs) => walk(segs, root).into_iter().collect(),
            PathKind::Filter(f) => f.select(root),
            PathKind::Full(q) => js_path_process(q, root)
                .map(|refs| refs.into_iter().map(|r| r.val()).collect())
                .unwrap_or_default(),
        }
    }

    /// The value the path selects: one match as itself, several as a list, none as `None`.
    pub fn select_value(&self, root: &Value) -> Option<Value> {
        match &self.kind {
            PathKind::Simple(segs) => walk(segs, root).cloned(),
            PathKind::Filter(_) | PathKind::Full(_) => {
                let mut all = self.select(root);
                match all.len() {
                    0 => None,
                    1 => all.pop().cloned(),
                    _ => Some(Value::Array(all.into_iter().cloned().collect())),
                }
            }
        }
    }

    /// Whether this path is plain keys and indexes.
    pub fn is_simple(&self) -> bool {
        matches!(self.kind, PathKind::Simple(_))
    }

    /// Like [`select_value`](Self::select_value), but moves a plain path's value
    /// out of `root` instead of copying it (for a body nobody reads afterwards).
    pub fn take_value(&self, root: &mut Value) -> Option<Value> {
        let PathKind::Simple(segs) = &self.kind else {
            return self.select_value(root);
        };
        let mut cur = root;
        for s in segs {
            cur = match s {
                Segment::Key(k) => cur.get_mut(k.as_str())?,
                Segment::Index(i) => cur.get_mut(*i)?,
            };
        }
        Some(cur.take())
    }
}

/// The value at the end of plain keys and indexes, if there is one.
fn walk<'a>(segs: &[Segment], root: &'a Value) -> Option<&'a Value> {
    let mut cur = root;
    for s in segs {
        cur = match s {
            Segment::Key(k) => cur.get(k.as_str())?,
            Segment::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

impl FilterPath {
    fn select<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let elements: Box<dyn Iterator<Item = &'a Value>> = match walk(&self.list, root) {
            Some(Value::Array(items)) => Box::new(items.iter()),
            Some(Value::Object(map)) => Box::new(map.values()),
            _ => return Vec::new(),
        };
        elements
            .filter(|e| walk(&self.test, e) == Some(&self.equals))
            .filter_map(|e| walk(&self.then, e))
            .collect()
    }
}

/// `$.a[?@.b.c == 'x'].d` (or `[?(@.b.c == "x")]`) as a [`FilterPath`];
/// `None` for any other shape, which the general engine runs.
fn filter_path(text: &str) -> Option<FilterPath> {
    let (list, rest) = text.split_once("[?")?;
    let (cond, then) = rest.split_once(']')?;
    let cond = cond.trim();
    let cond = match cond.strip_prefix('(') {
        Some(c) => c.strip_suffix(')')?.trim(),
        None => cond,
    };
    let (test, literal) = cond.split_once("==")?;
    let test = test.trim().strip_prefix('@')?;
    let literal = literal.trim();
    let quoted = literal.len() >= 2
        && ((literal.starts_with('\'') && literal.ends_with('\''))
            || (literal.starts_with('"') && literal.ends_with('"')));
    let text_of = &literal.get(1..literal.len().saturating_sub(1))?;
    if !quoted || text_of.contains(['\'', '"', '\\']) {
        return None;
    }
    Some(FilterPath {
        list: simple_segments(list)?,
        test: simple_segments(&format!("${test}"))?,
        equals: Value::String(text_of.to_string()),
        then: simple_segments(&format!("${then}"))?,
    })
}

/// `$.a.b[0]["c d"]` -> keys and indexes; `None` when the path needs the full engine.
fn simple_segments(text: &str) -> Option<Vec<Segment>> {
    let mut segs = Vec::new();
    let mut rest = text.strip_prefix('$')?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return None;
            }
            segs.push(Segment::Key(key.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            if let Ok(i) = inner.parse::<usize>() {
                segs.push(Segment::Index(i));
            } else if inner.len() >= 2
                && ((inner.starts_with('\'') && inner.ends_with('\''))
                    || (inner.starts_with('"') && inner.ends_with('"')))
            {
                let key = &inner[1..inner.len() - 1];
                if key.contains(['\'', '"', '\\']) {
                    return None;
                }
                segs.push(Segment::Key(key.to_string()));
            } else {
                return None;
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(segs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(p: &str) -> JsonPath {
        JsonPath::compile(p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn simple_paths_walk_keys_and_indexes() {
        let v = json!({"a": {"b": [10, {"c d": 3}]}});
        assert_eq!(compile("$.a.b[0]").select_value(&v), Some(json!(10)));
        assert_eq!(compile("$.a.b[1]['c d']").select_value(&v), Some(json!(3)));
        assert_eq!(compile("$.a.x").select_value(&v), None);
        assert!(matches!(compile("$.a.b[0]").kind, PathKind::Simple(_)));
    }

    #[test]
    fn filters_and_wildcards_select_every_match() {
        let v = json!({"answers": [
            {"type": "email", "email": "ada@example.com", "field": {"ref": "email"}},
            {"type": "text", "text": "Ada", "field": {"ref": "first_name"}}
        ]});
        let p = compile("$.answers[?@.field.ref == 'first_name'].text");
        assert!(matches!(p.kind, PathKind::Filter(_)));
        assert_eq!(p.select_value(&v), Some(json!("Ada")));
        let p = compile("$.answers[?@.type == 'email'].email");
        assert_eq!(p.select_value(&v), Some(json!("ada@example.com")));
        let many = compile("$.answers[*].type").select_value(&v);
        assert_eq!(many, Some(json!(["email", "text"])));
    }

    /// The filter fast path answers as jsonpath-rust does, on the shapes a
    /// webhook may have: a match, several, none, a missing or non-string
    /// test value, an object instead of a list, nothing at all.
    #[test]
    fn filter_paths_answer_as_the_general_engine_does() {
        let docs = [
            json!({"r": {"answers": [
                {"type": "email", "email": "ada@example.com", "field": {"ref": "email"}},
                {"type": "text", "text": "Ada", "field": {"ref": "first_name"}},
                {"type": "text", "text": "Bea", "field": {"ref": "first_name"}},
                {"type": "choices", "choices": {"labels": ["A", "B"]}, "field": {"ref": "tags"}},
                {"type": 7, "field": {}},
                "not an object",
                {"text": "no type"}
            ]}}),
            json!({"r": {"answers": {"x": {"type": "text", "text": "in an object"}, "y": {"type": "email"}}}}),
            json!({"r": {"answers": []}}),
            json!({"r": {"answers": "text"}}),
            json!({"r": {}}),
            json!(null),
        ];
        let paths = [
            "$.r.answers[?@.type == 'text'].text",
            "$.r.answers[?(@.type == \"text\")].text",
            "$.r.answers[?@.field.ref == 'first_name'].text",
            "$.r.answers[?@.field.ref == 'tags'].choices.labels",
            "$.r.answers[?@.field.ref == 'tags'].choices.labels[1]",
            "$.r.answers[?@.type == 'email'].email",
            "$.r.answers[?@.type == 'email']",
            "$.r.answers[?@.type == 'none'].text",
            "$.r.answers[?@ == 'not an object']",
        ];
        for path in paths {
            let fast = compile(path);
            assert!(matches!(fast.kind, PathKind::Filter(_)), "{path}");
            let full = JsonPath {
                text: path.into(),
                kind: PathKind::Full(Box::new(parse_json_path(path).expect("parses"))),
            };
            for doc in &docs {
                assert_eq!(fast.select(doc), full.select(doc), "{path} on {doc}");
                assert_eq!(
                    fast.select_value(doc),
                    full.select_value(doc),
                    "{path} on {doc}"
                );
            }
        }
        // Other filters stay with the general engine.
        for path in [
            "$.a[?@.b != 'x'].c",
            "$.a[?@.b == 'x' && @.c == 'y'].d",
            "$.a[?@.b == 1].c",
            "$.a[?@.b == 'x'].c[?@.d == 'y']",
        ] {
            assert!(matches!(compile(path).kind, PathKind::Full(_)), "{path}");
        }
    }

    #[test]
    fn bad_paths_are_refused_with_a_reason() {
        assert!(JsonPath::compile("email").is_err_and(|e| e.contains("start with `$`")));
        assert!(JsonPath::compile("$.a[?@.b ==").is_err_and(|e| e.contains("not a valid JSONPath")));
    }
}

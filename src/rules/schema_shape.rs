//! Reshaping the generated JSON Schemas so that every TOML editor reads them alike.
//!
//! schemars writes draft 2020-12: an action is a `oneOf` of `$ref`s with a
//! `kind` constant beside each `$ref`, closed by `unevaluatedProperties`.
//! Draft-07 readers (Taplo, the engine of VS Code's "Even Better TOML") ignore
//! every keyword beside a `$ref` and know nothing of `unevaluatedProperties`,
//! so to them each branch is the bare variant, several branches match, and a
//! valid action becomes "valid under more than one of the schemas". Tombi reads
//! 2020-12 correctly but, in its strict mode, treats a table without
//! `additionalProperties` as closed.
//!
//! This module rewrites the schema into the shape both drafts agree on:
//! - each tagged alternative is one closed object listing all its keys (the
//!   shared ones such as `delay`, the variant's own, and `kind` as a constant),
//!   so exactly one alternative matches a valid table, whatever the draft;
//! - `$ref` never has siblings (they move beside an `allOf: [{ $ref }]`);
//! - nothing is "or null" and no default is `null`: TOML cannot write null, an
//!   omitted key is how a rule file says "none";
//! - free-form tables (a test's payload, a webhook's body) say so explicitly.
//!
//! The validator in `schema.rs` uses the reshaped schema too, so what lint
//! reports and what an editor underlines come from the same document.

use serde_json::{Map, Value};

/// The draft the reshaped schemas are written for (and declare).
pub const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// Reshape a generated schema in place.
pub fn for_every_editor(schema: &mut Value, name: &str) {
    if let Some(root) = schema.as_object_mut() {
        root.insert("$schema".into(), DRAFT.into());
    }
    inline_tagged_unions(schema);
    walk(schema, &mut tidy);
    walk(schema, &mut |node| document_keys(node, name));
    drop_unused_definitions(schema);
}

/// Give every key a description and an example. A key alone in an
/// alternative (`{ split = "," }`, an auth's `kind`) is described by the
/// alternative's own description.
fn document_keys(node: &mut Map<String, Value>, schema_name: &str) {
    let own = node.get("description").cloned();
    let Some(Value::Object(props)) = node.get_mut("properties") else {
        return;
    };
    let alone = props.len() == 1;
    for (key, prop) in props.iter_mut() {
        // `true` (anything goes) can't carry words; `{}` means the same and can.
        if *prop == Value::Bool(true) {
            *prop = Value::Object(Map::new());
        }
        let Value::Object(prop) = prop else { continue };
        if !prop.contains_key("description") && (alone || key == "kind") {
            if let Some(d) = &own {
                prop.insert("description".into(), d.clone());
            }
        }
        let constant = prop.contains_key("const") || prop.contains_key("enum");
        if !prop.contains_key("examples") && !constant {
            if let Some(example) = super::schema_examples::example(schema_name, key) {
                prop.insert("examples".into(), Value::Array(vec![example]));
            }
        }
    }
}

/// Replace each `oneOf` of `{ $ref, properties.kind.const }` branches by
/// closed, self-contained branches.
fn inline_tagged_unions(schema: &mut Value) {
    let Some(defs) = schema.get("$defs").and_then(Value::as_object).cloned() else {
        return;
    };
    let mut rewritten: Vec<(String, Value)> = Vec::new();
    for (name, def) in &defs {
        let Some(branches) = def.get("oneOf").and_then(Value::as_array) else {
            continue;
        };
        let tagged =
            |b: &Value| b.get("$ref").is_some() && b.pointer("/properties/kind/const").is_some();
        if branches.is_empty() || !branches.iter().all(tagged) {
            continue;
        }
        let shared = def
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let shared_required = strings(def.get("required"));
        let mut kinds = Vec::new();
        let mut kind_words = Vec::new();
        let mut inlined = Vec::new();
        for branch in branches {
            let target = branch
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|r| defs.get(r));
            let Some(target) = target else { continue };
            let kind = branch
                .pointer("/properties/kind/const")
                .cloned()
                .unwrap_or(Value::Null);
            let description = branch.get("description").cloned().unwrap_or_default();
            let mut props = shared.clone();
            if let Some(own) = target.get("properties").and_then(Value::as_object) {
                props.extend(own.clone());
            }
            let mut kind_schema = Map::new();
            kind_schema.insert("const".into(), kind.clone());
            if !description.is_null() {
                kind_schema.insert("description".into(), description.clone());
            }
            props.insert("kind".into(), Value::Object(kind_schema));
            let mut required = vec!["kind".to_string()];
            for r in strings(target.get("required"))
                .into_iter()
                .chain(shared_required.iter().cloned())
            {
                if !required.contains(&r) {
                    required.push(r);
                }
            }
            let mut b = Map::new();
            b.insert("type".into(), "object".into());
            if !description.is_null() {
                b.insert("description".into(), description.clone());
            }
            b.insert("properties".into(), Value::Object(props));
            b.insert("required".into(), required.into());
            b.insert("additionalProperties".into(), false.into());
            inlined.push(Value::Object(b));
            if let (Some(k), Some(d)) = (kind.as_str(), description.as_str()) {
                kind_words.push(format!("- \"{k}\": {d}"));
            }
            kinds.push(kind);
        }
        let mut new_def = def.clone();
        if let Some(obj) = new_def.as_object_mut() {
            obj.remove("unevaluatedProperties");
            obj.insert("oneOf".into(), Value::Array(inlined));
            obj.insert("type".into(), "object".into());
            // The shared keys stay listed here too, with `kind` and its values,
            // so that an editor completes them before a kind is chosen.
            let mut props = shared.clone();
            let mut kind_schema = Map::new();
            kind_schema.insert(
                "description".into(),
                format!("What this does:\n{}", kind_words.join("\n")).into(),
            );
            kind_schema.insert("enum".into(), Value::Array(kinds));
            props.insert("kind".into(), Value::Object(kind_schema));
            obj.insert("properties".into(), Value::Object(props));
            // The branches close the table; saying so here too would make
            // Tombi's strict mode report every variant's own keys as unknown.
            obj.insert("additionalProperties".into(), true.into());
        }
        rewritten.push((name.clone(), new_def));
    }
    if let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) {
        for (name, def) in rewritten {
            defs.insert(name, def);
        }
    }
}

/// Visit every schema (not keyword containers such as `properties` itself,
/// nor values such as `enum` lists and defaults), children first.
fn walk(node: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    let Value::Object(map) = node else { return };
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "$defs" | "patternProperties" => {
                if let Value::Object(named) = child {
                    for (_, schema) in named.iter_mut() {
                        walk(schema, f);
                    }
                }
            }
            "oneOf" | "anyOf" | "allOf" => {
                if let Value::Array(items) = child {
                    for schema in items {
                        walk(schema, f);
                    }
                }
            }
            "items" | "additionalProperties" | "not" | "if" | "then" | "else" => walk(child, f),
            _ => {}
        }
    }
    f(map);
}

/// The local rewrites: no null, no `$ref` siblings, explicit free-form tables.
fn tidy(node: &mut Map<String, Value>) {
    if node.get("default") == Some(&Value::Null) {
        node.remove("default");
    }
    // `type: ["string", "null"]` -> `type: "string"`.
    if let Some(Value::Array(types)) = node.get("type") {
        let kept: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let replacement = match kept.len() {
            1 => kept[0].clone(),
            _ => Value::Array(kept),
        };
        node.insert("type".into(), replacement);
    }
    // `anyOf: [X, { type: null }]` -> X (merged beside the node's own keys).
    if let Some(Value::Array(alts)) = node.get("anyOf") {
        let kept: Vec<Value> = alts
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
            .cloned()
            .collect();
        if kept.len() < alts.len() {
            node.remove("anyOf");
            match kept.as_slice() {
                [Value::Object(only)] => {
                    for (k, v) in only {
                        node.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                _ => {
                    node.insert("anyOf".into(), Value::Array(kept));
                }
            }
        }
    }
    // Draft-07 ignores every keyword beside a `$ref`: wrap the reference.
    if node.contains_key("$ref") && node.len() > 1 {
        if let Some(reference) = node.remove("$ref") {
            let mut wrapped = Map::new();
            wrapped.insert("$ref".into(), reference);
            node.insert("allOf".into(), Value::Array(vec![Value::Object(wrapped)]));
        }
    }
    // A property that accepts anything (a payload, a webhook body): say that
    // its tables are open, or strict readers would reject every key in them.
    let constrains = [
        "type",
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
        "enum",
        "const",
        "properties",
    ];
    if !constrains.iter().any(|k| node.contains_key(*k)) {
        node.insert("additionalProperties".into(), true.into());
    }
}

/// Remove `$defs` entries nothing refers to any more (the inlined variants).
fn drop_unused_definitions(schema: &mut Value) {
    loop {
        let text = schema.to_string();
        let Some(defs) = schema.get_mut("$defs").and_then(Value::as_object_mut) else {
            return;
        };
        let unused: Vec<String> = defs
            .keys()
            .filter(|name| !text.contains(&format!("\"#/$defs/{name}\"")))
            .cloned()
            .collect();
        if unused.is_empty() {
            return;
        }
        for name in unused {
            defs.remove(&name);
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tagged_union_becomes_closed_branches_with_every_key() {
        let mut s = json!({
            "$defs": {
                "Action": {
                    "oneOf": [{ "$ref": "#/$defs/Email", "description": "Send",
                                "properties": { "kind": { "const": "email" } }, "required": ["kind"] }],
                    "properties": { "delay": { "type": ["string", "null"], "default": null } },
                    "unevaluatedProperties": false
                },
                "Email": { "properties": { "template": { "type": "string" } }, "required": ["template"] }
            },
            "properties": { "a": { "$ref": "#/$defs/Action" } }
        });
        for_every_editor(&mut s, "t");
        let branch = &s["$defs"]["Action"]["oneOf"][0];
        assert_eq!(branch["additionalProperties"], false);
        assert_eq!(branch["required"], json!(["kind", "template"]));
        assert_eq!(branch["properties"]["kind"]["const"], "email");
        assert_eq!(branch["properties"]["delay"], json!({ "type": "string" }));
        assert!(s["$defs"]["Action"].get("unevaluatedProperties").is_none());
        assert_eq!(
            s["$defs"]["Action"]["properties"]["kind"]["enum"],
            json!(["email"])
        );
        // Email is inlined, so no longer defined on its own.
        assert!(s["$defs"].get("Email").is_none());
        assert_eq!(s["$schema"], DRAFT);
    }

    #[test]
    fn a_ref_with_a_description_is_wrapped_and_optional_refs_lose_null() {
        let mut s = json!({
            "$defs": { "D": { "type": "string" } },
            "properties": {
                "a": { "$ref": "#/$defs/D", "description": "kept" },
                "b": { "anyOf": [{ "$ref": "#/$defs/D" }, { "type": "null" }], "description": "b" },
                "c": { "description": "anything" }
            }
        });
        for_every_editor(&mut s, "t");
        assert_eq!(
            s["properties"]["a"],
            json!({ "allOf": [{ "$ref": "#/$defs/D" }], "description": "kept" })
        );
        assert_eq!(
            s["properties"]["b"],
            json!({ "allOf": [{ "$ref": "#/$defs/D" }], "description": "b" })
        );
        assert_eq!(s["properties"]["c"]["additionalProperties"], true);
    }
}

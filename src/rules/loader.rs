//! Loading rules/ and templates/ into one [`RuleSet`], or every reason not to.
//!
//! The loader never stops at the first problem: each file is parsed,
//! schema-checked and compiled on its own, and one broken file doesn't hide
//! another's mistakes. The rule set is built only when there is no error;
//! warnings travel with it. The same function backs `hsflow lint`, the
//! server's start and every hot reload, so what lint accepts is exactly what
//! the server will run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use std::sync::Arc;

use super::compile::{self, flow::FlowEnv, Compiler};
use super::diagnostic::{Diagnostic, Severity};
use super::document::Document;
use super::files::RuleFiles;
use super::kind::FileKind;
use super::model::SourceFile;
use super::read_files::{known_event_types, remember_broken, stem, Files, Parsed};
use super::ruleset::{FlowInfo, Routing, RuleSet, TestFile};
use super::schema;
use super::templates::Templates;
use crate::engine::index::RuleIndex;

/// The outcome of a load: the rule set when there were no errors, and every finding.
pub struct Loaded {
    pub ruleset: Option<RuleSet>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn error_count(&self) -> usize {
        self.errors().count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }
}

/// Load and compile. `rules_dir` is e.g. `./rules`, `templates_dir` `./templates`.
/// Rule tests' payload files are checked too (they are relative to the
/// project root, the parent of `rules_dir`).
pub fn load(rules_dir: &Path, templates_dir: &Path) -> Loaded {
    load_with(rules_dir, templates_dir, true)
}

/// [`load`] for serving: a server runs the rules, never their tests, so the
/// tests' payload files (examples/ in a project) need not be deployed.
pub fn load_to_serve(rules_dir: &Path, templates_dir: &Path) -> Loaded {
    load_with(rules_dir, templates_dir, false)
}

fn load_with(rules_dir: &Path, templates_dir: &Path, check_payload_files: bool) -> Loaded {
    if !rules_dir.is_dir() {
        let diag = Diagnostic::whole_file(
            Severity::Error,
            "io",
            rules_dir,
            "this rules directory does not exist",
        )
        .with_hint("run hsflow from the project root, or pass --rules DIR");
        return Loaded {
            ruleset: None,
            diagnostics: vec![diag],
        };
    }
    let (files, diags) = RuleFiles::read(rules_dir, templates_dir);
    load_files_with(
        Arc::new(files),
        rules_dir,
        templates_dir,
        check_payload_files,
        diags,
    )
}

/// Build a rule set from files held in memory (a stored version, or the
/// live files with one changed), named as if they were in `rules_dir` and
/// `templates_dir`. Payload files of rule tests are not read.
pub fn load_files(files: Arc<RuleFiles>, rules_dir: &Path, templates_dir: &Path) -> Loaded {
    load_files_with(files, rules_dir, templates_dir, false, Vec::new())
}

fn load_files_with(
    text: Arc<RuleFiles>,
    rules_dir: &Path,
    templates_dir: &Path,
    check_payload_files: bool,
    mut diags: Vec<Diagnostic>,
) -> Loaded {
    let mut files = Files::default();
    let mut rels = Vec::new();
    for (rel_str, source) in &text.rules {
        let rel = PathBuf::from(rel_str);
        let path = rules_dir.join(&rel);
        let path = &path;
        let Some(kind) = FileKind::of(&rel) else {
            diags.push(Diagnostic::whole_file(Severity::Error, "unknown-file", path, format!("hsflow doesn't know what `{}` is", rel.display()))
                .with_hint("rule files are sources/*.toml, flows/*.toml, tests/*.toml, entities.toml, lead_sources.toml, databases.toml and schedules.toml"));
            continue;
        };
        let text = source.clone();
        rels.push(rel.clone());
        let doc = match Document::parse(path, text) {
            Ok(d) => d,
            Err(mut e) => {
                diags.append(&mut e);
                if kind == FileKind::Source {
                    files.broken_sources.insert(stem(&rel));
                }
                files.unreadable_flow |= kind == FileKind::Flow;
                files.databases_broken |= kind == FileKind::Databases;
                files.entities_broken |= kind == FileKind::Entities;
                files.schedules_broken |= kind == FileKind::Schedules;
                files.calendar_broken |= kind == FileKind::Calendar;
                files.emails_broken |= kind == FileKind::Emails;
                files.lead_sources_broken |= kind == FileKind::LeadSources;
                continue;
            }
        };
        check_directive(&doc, kind, &rel, &mut diags);
        let schema_errors = schema::validate(&doc, kind);
        let failed = schema_errors.iter().any(Diagnostic::is_error);
        diags.extend(schema_errors);
        if failed {
            remember_broken(&doc, kind, &rel, &mut files);
            continue;
        }
        match kind {
            FileKind::Source => typed(doc, rel, &mut diags).map(|p| files.sources.push(p)),
            FileKind::Entities => typed(doc, rel, &mut diags).map(|p| files.entities = Some(p)),
            FileKind::LeadSources => {
                typed(doc, rel, &mut diags).map(|p| files.lead_sources = Some(p))
            }
            FileKind::Databases => typed(doc, rel, &mut diags).map(|p| files.databases = Some(p)),
            FileKind::Schedules => typed(doc, rel, &mut diags).map(|p| files.schedules = Some(p)),
            FileKind::Calendar => typed(doc, rel, &mut diags).map(|p| files.calendar = Some(p)),
            FileKind::Emails => typed(doc, rel, &mut diags).map(|p| files.emails = Some(p)),
            FileKind::Flow => typed(doc, rel, &mut diags).map(|p| files.flows.push(p)),
            FileKind::Tests => typed(doc, rel, &mut diags).map(|p| files.tests.push(p)),
        };
    }

    let (templates, mut tdiags) = Templates::from_files(templates_dir, &text.templates);
    diags.append(&mut tdiags);
    let mut c = Compiler::new(templates);
    c.diagnostics = diags;
    // Rule tests' payload files are relative to the project root.
    let payload_root = check_payload_files.then(|| rules_dir.parent().unwrap_or(Path::new(".")));
    let ruleset = build(
        &mut c,
        files,
        rules_dir,
        templates_dir,
        text,
        rels,
        payload_root,
    );
    let mut diagnostics = std::mem::take(&mut c.diagnostics);
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    Loaded {
        ruleset: if has_errors { None } else { Some(ruleset) },
        diagnostics,
    }
}

fn build(
    c: &mut Compiler,
    files: Files,
    rules_dir: &Path,
    templates_dir: &Path,
    text: Arc<RuleFiles>,
    rels: Vec<PathBuf>,
    payload_root: Option<&Path>,
) -> RuleSet {
    // Sources first: every rule is checked against the fields they produce.
    let source_name = |p: &Parsed<SourceFile>| stem(&p.rel);
    c.broken_sources = files.broken_sources.clone();
    for b in &files.broken_sources {
        c.produced_by.entry(b.clone()).or_default();
    }
    for s in &files.sources {
        compile::source::declare(c, &source_name(s), &s.value);
    }
    let mut sources = BTreeMap::new();
    for s in &files.sources {
        let mut out = Vec::new();
        let name = source_name(s);
        if let Some(src) = compile::source::compile(c, &name, &s.value, &mut out) {
            sources.insert(name, src);
        }
        c.emit(&s.doc, out);
    }
    let databases = match &files.databases {
        Some(p) => {
            let mut out = Vec::new();
            let d = compile::routing::databases(&p.value, &mut out);
            c.emit(&p.doc, out);
            d
        }
        None => BTreeMap::new(),
    };
    // Send windows before entities and flows: both name them.
    if let Some(p) = &files.calendar {
        let mut out = Vec::new();
        c.windows = compile::send_windows::windows(&p.value, &mut out);
        c.emit(&p.doc, out);
    }
    c.windows_broken = files.calendar_broken;
    let entities = match &files.entities {
        Some(p) => {
            let mut out = Vec::new();
            let r = compile::routing::entities(c, &p.value, &mut out);
            c.emit(&p.doc, out);
            r
        }
        None => Routing::default(),
    };
    let email_categories = email_categories(c, &files, templates_dir);
    let known_entities = (!files.entities_broken).then_some(entities.entities.as_slice());
    let template_findings = compile::template_checks::check(&c.templates, known_entities);
    c.diagnostics.extend(template_findings);
    let lead_sources = files.lead_sources.as_ref().map(|p| {
        let mut out = Vec::new();
        let l = compile::routing::lead_sources(c, &p.value, &mut out);
        c.emit(&p.doc, out);
        l
    });
    // Workflows from every flow, so a rule can move another flow's workflow.
    let mut workflows = BTreeMap::new();
    for f in &files.flows {
        let mut out = Vec::new();
        compile::flow::check_workflows(&f.value, &mut out);
        for (id, wf) in &f.value.workflows {
            if workflows.insert(id.clone(), wf.clone()).is_some() {
                out.push(super::diagnostic::Finding::error(
                    "duplicate-id",
                    format!("/workflows/{id}"),
                    format!("the workflow `{id}` is defined in two flows"),
                )
                .hint(format!("rename one of them, or keep `{id}` in one flow file: a rule in any flow can move it")));
            }
        }
        c.emit(&f.doc, out);
    }
    let mut source_names: BTreeSet<String> = c.produced_by.keys().cloned().collect();
    source_names.extend(files.broken_sources.iter().cloned());
    let schedules = match &files.schedules {
        Some(p) => {
            let mut out = Vec::new();
            let s = compile::schedules::schedules(
                &p.value,
                entities.zone,
                &databases,
                files.databases_broken,
                &source_names,
                &mut out,
            );
            c.emit(&p.doc, out);
            s
        }
        None => Vec::new(),
    };
    let entity_ids: Vec<String> = entities.entities.iter().map(|e| e.id.to_string()).collect();
    let follow_up_templates: Vec<String> = lead_sources
        .as_ref()
        .map(|l| {
            l.sources
                .iter()
                .flat_map(|s| {
                    s.follow_ups.iter().map(|(_, t)| t.to_string()).chain(
                        s.overrides.iter().flat_map(|o| {
                            o.follow_ups.iter().flatten().map(|(_, t)| t.to_string())
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let schedule_ids: BTreeSet<String> = schedules.iter().map(|s| s.id.to_string()).collect();
    let event_types = known_event_types(&files);
    let route_specs: Vec<compile::routing_checks::RouteSpec> = files
        .entities
        .iter()
        .flat_map(|e| &e.value.routes)
        .map(|r| compile::routing_checks::RouteSpec {
            entity: r.entity.clone(),
            when: r.when.clone(),
        })
        .collect();
    let env = FlowEnv {
        sources: &source_names,
        schedule_ids: (!files.schedules_broken).then_some(&schedule_ids),
        has_schedules_file: files.schedules.is_some(),
        event_types: &event_types,
        broken_sources: &files.broken_sources,
        unreadable_flow: files.unreadable_flow || !files.broken_rule_ids.is_empty(),
        routes: (!files.entities_broken).then_some(route_specs.as_slice()),
        explicit_field: files
            .entities
            .as_ref()
            .and_then(|e| e.value.explicit_field.as_deref()),
        entities: &entity_ids,
        databases: &databases,
        databases_broken: files.databases_broken,
        entities_broken: files.entities_broken,
        workflows: &workflows,
        // A broken lead_sources.toml is reported on its own; follow_up actions don't say it's missing.
        has_lead_sources: lead_sources.is_some() || files.lead_sources_broken,
        follow_up_templates: &follow_up_templates,
    };
    let mut seen_rules = BTreeMap::new();
    let mut rules = Vec::new();
    let mut flows = Vec::new();
    let mut flow_ids = BTreeMap::new();
    for f in &files.flows {
        let mut out = Vec::new();
        if let Some(first) = flow_ids.insert(f.value.id.clone(), f.rel.display().to_string()) {
            out.push(super::diagnostic::Finding::error(
                "duplicate-id",
                "/id",
                format!("the flow id `{}` is already used by {first}", f.value.id),
            )
            .hint("give this flow its own id (e.g. after its file name): ids tell flows apart in the console and in explain traces"));
        }
        let here = f.rel.display().to_string();
        let mut compiled =
            compile::flow::compile(c, &f.value, &env, &mut seen_rules, &here, &mut out);
        // Each rule's line, for showing where it is written.
        for r in &mut compiled {
            if let Some(i) = f.value.rules.iter().position(|s| *s.id == *r.id) {
                let at = f.doc.key_span(&format!("/rules/{i}")).start;
                let (line, _, _) = super::diagnostic::line_col(&f.doc.text, at);
                r.written_at = (f.rel.clone(), line);
            }
        }
        rules.extend(compiled);
        flows.push(FlowInfo {
            id: f.value.id.clone(),
            description: f.value.description.clone(),
            file: f.rel.clone(),
        });
        c.emit(&f.doc, out);
    }
    let mut rule_ids: BTreeSet<String> = rules.iter().map(|r| r.id.to_string()).collect();
    rule_ids.extend(files.broken_rule_ids.iter().cloned());
    let mut tests = Vec::new();
    for t in &files.tests {
        let mut out = Vec::new();
        let rules_known = (!files.unreadable_flow).then_some(&rule_ids);
        compile::tests::check(&t.value, &source_names, rules_known, payload_root, &mut out);
        c.emit(&t.doc, out);
        tests.push(TestFile {
            path: t.doc.path.clone(),
            cases: t.value.cases.clone(),
        });
    }
    if let Some(l) = &lead_sources {
        let mut days: Vec<u32> = l
            .sources
            .iter()
            .flat_map(|s| {
                s.follow_ups.iter().map(|(d, _)| *d).chain(
                    s.overrides
                        .iter()
                        .flat_map(|o| o.follow_ups.iter().flatten().map(|(d, _)| *d)),
                )
            })
            .collect();
        days.sort_unstable();
        days.dedup();
        for r in rules.iter_mut().filter(|r| {
            r.actions
                .iter()
                .any(|a| matches!(a.kind, super::ruleset::ActionKind::FollowUp { .. }))
        }) {
            r.follow_up_ids
                .push((None, format!("{}/first_response", r.id).into()));
            for d in &days {
                r.follow_up_ids
                    .push((Some(*d), format!("{}/follow_up_day_{d}", r.id).into()));
            }
        }
    }
    let index = RuleIndex::build(sources.keys().map(String::as_str), &rules, false);
    let cancel_index = RuleIndex::build(sources.keys().map(String::as_str), &rules, true);
    let reads_payload = c.reads_payload;
    RuleSet {
        version: text.version(),
        text,
        reads_payload,
        index,
        cancel_index,
        rules_dir: rules_dir.to_path_buf(),
        templates_dir: templates_dir.to_path_buf(),
        fields: std::mem::take(&mut c.fields),
        sources,
        entities,
        lead_sources,
        databases,
        schedules,
        windows: std::mem::take(&mut c.windows),
        email_categories,
        email_variants: std::mem::take(&mut c.email_variants),
        workflows,
        flows,
        rules,
        templates: std::mem::take(&mut c.templates),
        tests,
        files: rels,
    }
}

fn typed<T: DeserializeOwned>(
    doc: Document,
    rel: PathBuf,
    diags: &mut Vec<Diagnostic>,
) -> Option<Parsed<T>> {
    match serde_json::from_value::<T>(doc.value.clone()) {
        Ok(value) => Some(Parsed { doc, rel, value }),
        Err(e) => {
            // The schema passed, so this is a value the schema can't express (rare).
            diags.push(doc.diag(
                Severity::Error,
                "invalid",
                "",
                format!("hsflow could not read this file: {e}"),
            ));
            None
        }
    }
}

/// Each email template's category from emails.toml; a template it doesn't
/// mention is an error reported at the template's subject file. A template
/// with A/B variants is known to rules by its own name from here on, with
/// the variables of all its variants.
fn email_categories(
    c: &mut Compiler,
    files: &Files,
    templates_dir: &Path,
) -> BTreeMap<String, super::model::EmailCategory> {
    let names: Vec<String> = c.templates.emails.keys().cloned().collect();
    let compiled = compile::emails::compile(files.emails.as_ref().map(|p| &p.value), &names);
    if let Some(p) = &files.emails {
        c.emit(&p.doc, compiled.findings);
    }
    if !files.emails_broken {
        for name in compiled.missing {
            let subject = templates_dir.join(format!("emails/{name}.subject.hbs"));
            c.diagnostics.push(
                Diagnostic::whole_file(
                    Severity::Error,
                    "missing-category",
                    &subject,
                    format!(
                        "the email `{name}` doesn't say whether it is transactional or marketing"
                    ),
                )
                .with_hint(compile::emails::missing_hint(&name)),
            );
        }
    }
    for (name, variants) in &compiled.variants {
        let vars = variants
            .iter()
            .filter_map(|v| c.templates.emails.get(&*v.template))
            .flatten()
            .cloned()
            .collect();
        c.templates.emails.entry(name.clone()).or_insert(vars);
    }
    if files.emails_broken {
        // emails.toml's own error comes first. Meanwhile a rule naming an A/B
        // pair (`artist_welcome`, for artist_welcome.a and .b) stays quiet.
        for name in &names {
            if let Some((base, _)) = name.rsplit_once('.') {
                let vars = c.templates.emails.get(name).cloned().unwrap_or_default();
                c.templates.emails.entry(base.to_string()).or_insert(vars);
            }
        }
    }
    c.email_variants = compiled.variants;
    compiled.categories
}

fn check_directive(doc: &Document, kind: FileKind, rel: &Path, diags: &mut Vec<Diagnostic>) {
    if doc.text.trim().is_empty() {
        return; // an empty file is one finding ("this file is empty"), not two
    }
    let want = kind.directive_for(rel);
    match doc.schema_directive() {
        Some(d) if d == want => {}
        Some(d) => diags.push(
            doc.diag(
                Severity::Warning,
                "schema-directive",
                "",
                format!("this file points editors at `{d}`, but its schema is `{want}`"),
            )
            .with_hint(format!("change the first line to #:schema {want}")),
        ),
        None => diags.push(
            Diagnostic::whole_file(
                Severity::Warning,
                "schema-directive",
                &doc.path,
                "this file has no #:schema line, so editors can't check it as you type",
            )
            .with_hint(format!("add this as the first line: #:schema {want}")),
        ),
    }
}

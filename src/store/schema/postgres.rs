//! The store's migrations on PostgreSQL, version for version those of
//! `sqlite.rs` (BYTEA for BLOB, an explicit insertion order for the
//! workflow history, one index more at version 5).
//!
//! Never edit a released migration: add the next one, and its SQLite twin.

/// (version, statements). Never edit a released migration: add the next one.
pub(super) const POSTGRES: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE IF NOT EXISTS events (
    id              TEXT PRIMARY KEY,
    source          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    idem_key        TEXT NOT NULL,
    received_at     BIGINT NOT NULL,
    headers         TEXT NOT NULL,
    body            BYTEA NOT NULL,
    fields          TEXT NOT NULL,
    trace           TEXT NOT NULL,
    ruleset_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);

CREATE TABLE IF NOT EXISTS idempotency (
    source     TEXT NOT NULL,
    idem_key   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (source, idem_key)
);

CREATE TABLE IF NOT EXISTS actions (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL,
    action_key      TEXT NOT NULL,
    rule            TEXT NOT NULL,
    flow            TEXT NOT NULL,
    entity          TEXT,
    kind            TEXT NOT NULL,
    contact         TEXT,
    payload         TEXT NOT NULL,
    due_at          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    lease_until     BIGINT,
    ruleset_version TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_due ON actions (status, due_at);
CREATE INDEX IF NOT EXISTS actions_contact ON actions (contact, rule, status);
CREATE INDEX IF NOT EXISTS actions_event ON actions (event_id);

CREATE TABLE IF NOT EXISTS workflow_instances (
    id          TEXT PRIMARY KEY,
    workflow    TEXT NOT NULL,
    contact     TEXT NOT NULL,
    state       TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (workflow, contact)
);

CREATE TABLE IF NOT EXISTS workflow_history (
    seq         BIGSERIAL PRIMARY KEY,
    instance_id TEXT NOT NULL,
    at          BIGINT NOT NULL,
    action      TEXT NOT NULL,
    details     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workflow_history_instance ON workflow_history (instance_id, at);

CREATE TABLE IF NOT EXISTS notion_pages (
    id          TEXT PRIMARY KEY,
    database    TEXT NOT NULL,
    key_property TEXT,
    key_value   TEXT,
    properties  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS notion_pages_key ON notion_pages (database, key_property, key_value);
"#,
    ),
    (
        2,
        r#"
CREATE TABLE IF NOT EXISTS cursors (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
"#,
    ),
    (
        3,
        r#"
CREATE TABLE IF NOT EXISTS applied_increments (
    job_id      TEXT PRIMARY KEY,
    crossings   TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
);
"#,
    ),
    (
        4,
        r#"
ALTER TABLE idempotency ADD COLUMN claimed_at BIGINT NOT NULL DEFAULT 0
"#,
    ),
    // PostgreSQL only: through (status, due_at), a claim sorted every due
    // row before taking its few (under a backlog, most of the database's
    // work: 2,700 accepted/s before, 8,200 after). SQLite's planner already
    // reads the two statuses in due order, and the extra index only slowed
    // its intake, so SQLite has no version 5.
    (
        5,
        r#"
CREATE INDEX IF NOT EXISTS actions_pending ON actions (due_at) WHERE status IN ('queued', 'failed')
"#,
    ),
    // A claim's number fences its outcome: each claim of a job adds one, and
    // an outcome is recorded only by the worker holding the latest claim (a
    // worker whose lease ran out can't overwrite the next one's). A page
    // written with additions remembers its page, so a re-run finds the
    // whole write done.
    (
        6,
        r#"
ALTER TABLE actions ADD COLUMN claims BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applied_increments ADD COLUMN page_id TEXT
"#,
    ),
    // The rule studio: every rule set that went live, content-addressed
    // (a version is its files' hash; each file's text is kept once, by its
    // own hash), when and how each went live, and who changed what.
    (
        7,
        r#"
CREATE TABLE IF NOT EXISTS rule_blobs (
    hash        TEXT PRIMARY KEY,
    text        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_versions (
    version     TEXT PRIMARY KEY,
    manifest    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rule_deploys (
    id            TEXT PRIMARY KEY,
    version       TEXT NOT NULL,
    went_live_at  BIGINT NOT NULL,
    how           TEXT NOT NULL,
    who           TEXT
);
CREATE INDEX IF NOT EXISTS rule_deploys_at ON rule_deploys (went_live_at);
CREATE TABLE IF NOT EXISTS audit (
    id        TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
    who       TEXT NOT NULL,
    what      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at)
"#,
    ),
    // Email's own records: the addresses marketing email no longer goes to
    // (an unsubscribe, a hard bounce, a complaint, or staff), what happened
    // to each email after it was planned (sent, suppressed, opened,
    // clicked...), for the stats that compare templates and variants, and
    // small settings hsflow makes for itself (the key that signs links).
    (
        8,
        r#"
CREATE TABLE IF NOT EXISTS suppressions (
    address     TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    job_id      TEXT,
    created_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS email_activity (
    job_id      TEXT NOT NULL,
    what        TEXT NOT NULL,
    template    TEXT NOT NULL,
    variant     TEXT NOT NULL,
    rule        TEXT NOT NULL,
    flow        TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS email_activity_job ON email_activity (job_id, what);
CREATE TABLE IF NOT EXISTS settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
)
"#,
    ),
    // An event's planned actions and its body, compressed (store::packed):
    // `plan` holds every planned action's payload (its rows keep an empty
    // one), `body_packed` says the body is compressed (zstd).
    (
        9,
        r#"
ALTER TABLE events ADD COLUMN plan BYTEA;
ALTER TABLE events ADD COLUMN body_packed BIGINT NOT NULL DEFAULT 0
"#,
    ),
    // More packed (store::packed), each when that makes it smaller, its
    // text column then empty: an event's explain trace and kept headers, a
    // local Notion page's properties.
    (
        10,
        r#"
ALTER TABLE events ADD COLUMN trace_packed BYTEA;
ALTER TABLE events ADD COLUMN headers_packed BYTEA;
ALTER TABLE notion_pages ADD COLUMN properties_packed BYTEA
"#,
    ),
    // A contact's actions are found by the contact alone. The index held
    // the rule and the status too (about 300 bytes a shipped-pack lead),
    // for lookups that read the contact's few rows anyway (cancelling
    // follow-ups, the emails still to send, the console), and every change
    // of status moved the action's entry. Rebuilt once, at the first start
    // after an upgrade: under a second for a million actions here.
    (
        11,
        r#"
DROP INDEX IF EXISTS actions_contact;
CREATE INDEX IF NOT EXISTS actions_contact ON actions (contact)
"#,
    ),
    // An action's names (its rule, flow, entity, action key and kind) are
    // written once, in `action_names`, and each action row holds the
    // number of its names there: about 900 bytes a shipped-pack lead,
    // whose 12 or so actions share a few dozen combinations with every
    // other lead's. `actions_named` reads an action with its names, as the
    // columns used to (an entity of '' there is none; names that are gone
    // read as '', so the action still shows). Rewritten once, at
    // the first start after an upgrade: about 6 s for a million actions
    // here.
    (
        12,
        r#"
CREATE TABLE IF NOT EXISTS action_names (
    name_id     BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    rule        TEXT NOT NULL,
    flow        TEXT NOT NULL,
    entity      TEXT NOT NULL,
    action_key  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    UNIQUE (rule, flow, entity, action_key, kind)
);
INSERT INTO action_names (rule, flow, entity, action_key, kind)
    SELECT DISTINCT rule, flow, COALESCE(entity, ''), action_key, kind FROM actions;
ALTER TABLE actions ADD COLUMN name_id BIGINT NOT NULL DEFAULT 0;
UPDATE actions SET name_id = (SELECT n.name_id FROM action_names n
    WHERE n.rule = actions.rule AND n.flow = actions.flow AND n.entity = COALESCE(actions.entity, '')
      AND n.action_key = actions.action_key AND n.kind = actions.kind);
ALTER TABLE actions DROP COLUMN action_key;
ALTER TABLE actions DROP COLUMN rule;
ALTER TABLE actions DROP COLUMN flow;
ALTER TABLE actions DROP COLUMN entity;
ALTER TABLE actions DROP COLUMN kind;
CREATE VIEW actions_named AS
    SELECT actions.*, COALESCE(n.action_key, '') AS action_key, COALESCE(n.rule, '') AS rule,
        COALESCE(n.flow, '') AS flow, NULLIF(n.entity, '') AS entity, COALESCE(n.kind, '') AS kind
    FROM actions LEFT JOIN action_names n ON n.name_id = actions.name_id
"#,
    ),
    // The address an action is for is written once, in `contacts`, and
    // each action holds its number (`contact_id`): a lead's dozen actions
    // spelt it out a dozen times, and again in the index of a contact's
    // actions. `actions_named` reads it back as `contact`.
    (
        13,
        r#"
CREATE TABLE IF NOT EXISTS contacts (
    contact_id  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    contact     TEXT NOT NULL UNIQUE
);
INSERT INTO contacts (contact) SELECT DISTINCT contact FROM actions WHERE contact IS NOT NULL;
ALTER TABLE actions ADD COLUMN contact_id BIGINT;
UPDATE actions SET contact_id = (SELECT c.contact_id FROM contacts c WHERE c.contact = actions.contact)
    WHERE contact IS NOT NULL;
DROP VIEW actions_named;
DROP INDEX IF EXISTS actions_contact;
ALTER TABLE actions DROP COLUMN contact;
CREATE INDEX IF NOT EXISTS actions_contact ON actions (contact_id);
CREATE VIEW actions_named AS
    SELECT actions.*, COALESCE(n.action_key, '') AS action_key, COALESCE(n.rule, '') AS rule,
        COALESCE(n.flow, '') AS flow, NULLIF(n.entity, '') AS entity, COALESCE(n.kind, '') AS kind,
        c.contact
    FROM actions LEFT JOIN action_names n ON n.name_id = actions.name_id
    LEFT JOIN contacts c ON c.contact_id = actions.contact_id
"#,
    ),
    // An action's id starts with its event's (store/action_event.rs), so
    // the primary key finds an event's actions: new actions write '' for
    // their event and the index `actions_event` goes (about 800 bytes a
    // shipped-pack lead). Actions stored before keep naming their event in
    // the column, renamed `old_event_id`, and a partial index of only
    // those rows finds them. `actions_named` reads every action's event as
    // `event_id`. Nothing is rewritten: the upgrade is the new index.
    (
        14,
        r#"
DROP VIEW actions_named;
DROP INDEX IF EXISTS actions_event;
ALTER TABLE actions RENAME COLUMN event_id TO old_event_id;
CREATE INDEX IF NOT EXISTS actions_old_event ON actions (old_event_id) WHERE old_event_id <> '';
CREATE VIEW actions_named AS
    SELECT actions.*, COALESCE(NULLIF(actions.old_event_id, ''), substr(actions.id, 1, 26)) AS event_id,
        COALESCE(n.action_key, '') AS action_key, COALESCE(n.rule, '') AS rule,
        COALESCE(n.flow, '') AS flow, NULLIF(n.entity, '') AS entity, COALESCE(n.kind, '') AS kind,
        c.contact
    FROM actions LEFT JOIN action_names n ON n.name_id = actions.name_id
    LEFT JOIN contacts c ON c.contact_id = actions.contact_id
"#,
    ),
    // An event's body, fields, kept headers, trace and plan are packed in
    // one frame (store::event_pack), the `packed` column, and the columns
    // that held them are left empty: about 690 bytes a shipped-pack lead.
    // Events stored before keep their columns. Nothing is rewritten.
    (
        15,
        r#"
ALTER TABLE events ADD COLUMN packed BYTEA;
"#,
    ),
];

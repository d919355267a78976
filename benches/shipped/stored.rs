//! What the shipped-pack bench's leads left on disk, and where: the total
//! over the leads stored, and each table's share with its indexes, largest
//! first, so the next cut knows where to look.

use std::path::Path;

/// (table, bytes with its indexes), largest first.
type ByTable = Vec<(String, u64)>;

/// The local Notion sink's pages: what stands in for Notion on a server
/// without a Notion token. In production Notion keeps them, not hsflow; and
/// how many there are depends on how far the dispatcher got before the
/// count, so the bytes per lead are also given without them.
const LOCAL_SINK_TABLE: &str = "notion_pages";

/// `bytes` without the local Notion sink's pages, per lead.
fn own_per_lead(bytes: u64, by_table: &ByTable, leads: u64) -> f64 {
    let sink: u64 = by_table
        .iter()
        .filter(|(t, _)| t == LOCAL_SINK_TABLE)
        .map(|(_, b)| b)
        .sum();
    bytes.saturating_sub(sink) as f64 / leads.max(1) as f64
}

/// "events 4,110, actions 5,476, ..." per lead, the largest `n`.
fn per_lead(by_table: &ByTable, leads: u64, n: usize) -> String {
    by_table
        .iter()
        .take(n)
        .map(|(t, b)| format!("{t} {:.0}", *b as f64 / leads.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pages SQLite holds for each table and its indexes (the `dbstat` table),
/// WAL frames not yet copied excluded.
async fn sqlite_tables(db: &Path) -> ByTable {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let Ok(pool) = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
    else {
        return Vec::new();
    };
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(s.tbl_name, d.name) AS t, SUM(d.pgsize) AS b FROM dbstat d \
         LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY t ORDER BY b DESC",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    pool.close().await;
    rows.into_iter()
        .map(|(t, b)| (t, b.max(0) as u64))
        .collect()
}

/// Copy what the WAL holds into the database file and empty it, so the
/// database file is everything stored (a server stopped while its
/// dispatcher was busy can leave tens of MB in the WAL: pages the file
/// doesn't have yet, and old versions of pages it has).
async fn checkpoint(db: &Path) -> Result<(), sqlx::Error> {
    let url = format!("sqlite://{}", db.display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// The SQLite files in `data` over the `leads` stored, after a checkpoint,
/// and where they went.
pub async fn sqlite(data: &Path, leads: u64) -> String {
    if let Err(e) = checkpoint(&data.join("hsflow.db")).await {
        return format!("can't checkpoint the database to measure it: {e}");
    }
    let size = |name: &str| std::fs::metadata(data.join(name)).map_or(0, |m| m.len());
    let (db, wal) = (size("hsflow.db"), size("hsflow.db-wal"));
    let bytes = db + wal + size("hsflow.db-shm");
    let tables = sqlite_tables(&data.join("hsflow.db")).await;
    format!(
        "{:.1} MB for {leads} leads = {:.0} bytes per lead, {:.0} without the local Notion sink's pages \
         (after a checkpoint: database {:.1} MB, WAL {:.1} MB); per lead, each table with its indexes: {}",
        bytes as f64 / 1e6,
        bytes as f64 / leads.max(1) as f64,
        own_per_lead(bytes, &tables, leads),
        db as f64 / 1e6,
        wal as f64 / 1e6,
        per_lead(&tables, leads, 8),
    )
}

/// What PostgreSQL keeps for the tables (with their indexes and TOAST) over
/// the `leads` stored, and where it went. The rule studio's versions are
/// left out: they are the rule files', kept once however many leads come.
pub async fn postgres(url: &str, leads: u64) -> String {
    let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
    else {
        return format!("can't connect to {url} to measure it");
    };
    let tables: Vec<(String, i64)> = sqlx::query_as(
        "SELECT tablename::text, pg_total_relation_size(quote_ident(tablename))::bigint AS b \
         FROM pg_tables WHERE schemaname = 'public' \
         AND tablename NOT IN ('rule_blobs', 'rule_versions', 'rule_deploys') ORDER BY b DESC",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    pool.close().await;
    let tables: ByTable = tables
        .into_iter()
        .map(|(t, b)| (t, b.max(0) as u64))
        .collect();
    let bytes: u64 = tables.iter().map(|(_, b)| b).sum();
    format!(
        "{:.1} MB for {leads} leads = {:.0} bytes per lead, {:.0} without the local Notion sink's pages; \
         per lead, each table with its indexes: {}",
        bytes as f64 / 1e6,
        bytes as f64 / leads.max(1) as f64,
        own_per_lead(bytes, &tables, leads),
        per_lead(&tables, leads, 8),
    )
}

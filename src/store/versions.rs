//! Rule versions: every rule set that went live, kept so it can be listed,
//! diffed and rolled back to.
//!
//! Content-addressed twice over: a version is the hash of all its files (the
//! same hash every event and action records), and each file's text is kept
//! once under its own hash, so saving one changed file adds one text, not a
//! copy of the whole pack. `rule_deploys` says when each version went live
//! and how (start, a file change, the API, SIGHUP, the studio, a rollback),
//! and by whom when that is known. Writes are idempotent: several servers
//! on one PostgreSQL database record the same version once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::writer::Bind;
use super::{from_millis, millis, Store, StoreError};
use crate::rules::files::{split, Dir};
use crate::rules::RuleFiles;

/// One time a version went live.
#[derive(Debug, Clone, Serialize)]
pub struct Deploy {
    pub version: String,
    pub went_live_at: DateTime<Utc>,
    /// `start`, `file change`, `api`, `sighup`, `studio` or `rollback`.
    pub how: String,
    pub who: Option<String>,
}

fn blob_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Store {
    /// Keep `files` as version `version` and record that it went live now.
    pub async fn record_live(
        &self,
        version: &str,
        files: &RuleFiles,
        how: &str,
        who: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut manifest = BTreeMap::new();
        for (path, text) in files.all() {
            let hash = blob_hash(text);
            self.execute(
                "INSERT INTO rule_blobs (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
                vec![Bind::Text(hash.clone()), Bind::Text(text.to_string())],
            )
            .await?;
            manifest.insert(path, hash);
        }
        let manifest = serde_json::to_string(&manifest)
            .map_err(|e| StoreError::Other(format!("can't write the manifest: {e}")))?;
        let now = millis(Utc::now());
        self.execute(
            "INSERT INTO rule_versions (version, manifest, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (version) DO NOTHING",
            vec![
                Bind::Text(version.to_string()),
                Bind::Text(manifest),
                Bind::Int(now),
            ],
        )
        .await?;
        self.execute(
            "INSERT INTO rule_deploys (id, version, went_live_at, how, who) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Bind::Text(uuid::Uuid::now_v7().to_string()),
                Bind::Text(version.to_string()),
                Bind::Int(now),
                Bind::Text(how.to_string()),
                Bind::Text(who.unwrap_or("").to_string()),
            ],
        )
        .await?;
        Ok(())
    }

    /// The latest times versions went live, newest first.
    pub async fn deploys(&self, limit: i64) -> Result<Vec<Deploy>, StoreError> {
        let rows = sqlx::query(
            "SELECT version, went_live_at, how, who FROM rule_deploys \
             ORDER BY went_live_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let who: String = r.try_get("who")?;
                Ok(Deploy {
                    version: r.try_get("version")?,
                    went_live_at: from_millis(r.try_get("went_live_at")?),
                    how: r.try_get("how")?,
                    who: (!who.is_empty()).then_some(who),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The full version that `prefix` (at least 6 hex digits) names, if the
    /// store has exactly one.
    pub async fn resolve_version(&self, prefix: &str) -> Result<String, StoreError> {
        let p = prefix.trim().to_ascii_lowercase();
        if p.len() < 6 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound(format!(
                "`{prefix}` is not a version: give at least its first 6 hex digits, as `hsflow versions` lists them"
            )));
        }
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT version FROM rule_versions WHERE version >= $1 AND version < $2 ORDER BY version LIMIT 2",
        )
        .bind(p.clone())
        .bind(format!("{p}g"))
        .fetch_all(&self.pool)
        .await?;
        match rows.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(StoreError::NotFound(format!(
                "no stored version starts with {p}; `hsflow versions` lists those this server has run"
            ))),
            _ => Err(StoreError::NotFound(format!(
                "more than one version starts with {p}: give more digits"
            ))),
        }
    }

    /// The files of a stored version.
    pub async fn version_files(&self, version: &str) -> Result<RuleFiles, StoreError> {
        let manifest: Option<String> =
            sqlx::query_scalar("SELECT manifest FROM rule_versions WHERE version = $1")
                .bind(version)
                .fetch_optional(&self.pool)
                .await?;
        let Some(manifest) = manifest else {
            return Err(StoreError::NotFound(format!(
                "version {version} is not in the store"
            )));
        };
        let manifest: BTreeMap<String, String> = serde_json::from_str(&manifest)
            .map_err(|e| StoreError::Corrupt(format!("version {version}'s manifest: {e}")))?;
        let mut files = RuleFiles::default();
        for (path, hash) in manifest {
            let text: Option<String> =
                sqlx::query_scalar("SELECT text FROM rule_blobs WHERE hash = $1")
                    .bind(&hash)
                    .fetch_optional(&self.pool)
                    .await?;
            let text = text.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "version {version} names {path}, whose text is gone"
                ))
            })?;
            match split(&path) {
                Some((Dir::Rules, rel)) => files.rules.insert(rel.to_string(), text),
                Some((Dir::Templates, rel)) => files.templates.insert(rel.to_string(), text),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "version {version} names `{path}`, which is not a rule or template path"
                    )))
                }
            };
        }
        Ok(files)
    }
}

//! OCR jobs on the team ledger (the statements of ledger/jobs.rs): one row per image tile,
//! claimed by a running instance before anything is spent on it.
//!
//! A claim locks the job's row (`SELECT … FOR UPDATE`), so two machines never both take it.
//! A job left `running` is free again when its owner's instance row is gone (ended, or expired
//! by heartbeat on any machine) or, for an owner on this machine, its process is gone; an
//! owner on another machine that still heartbeats keeps it.

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use super::{Fail, PgLedger, PgResult, count, pg_read, pg_tx};
use crate::clock::from_millis;
use crate::error::{Error, Result};
use crate::ledger::jobs::{JobAnswer, JobKey, JobRow, JobStatus};

const COLUMNS: &str =
    "id, content_hash, tile_index, tiles, chain, file, status, attempts, error_class, error,
    wait_until, result, model, key_id, cached, local, width, height, owner";

fn dim(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn row(r: &tokio_postgres::Row) -> JobRow {
    JobRow {
        id: r.get(0),
        content_hash: r.get(1),
        tile_index: r.get::<_, i64>(2).max(0) as usize,
        tiles: r.get::<_, i64>(3).max(0) as usize,
        chain: r.get(4),
        file: r.get(5),
        status: JobStatus::parse(r.get::<_, &str>(6)),
        attempts: count(r.get(7)),
        error_class: r.get(8),
        error: r.get(9),
        wait_until: r.get::<_, Option<i64>>(10).map(from_millis),
        result: r.get(11),
        model: r.get(12),
        key_id: r.get(13),
        cached: r.get(14),
        local: r.get(15),
        width: dim(r.get(16)),
        height: dim(r.get(17)),
        owner: r.get(18),
    }
}

async fn get(c: &impl GenericClient, id: i64, lock: bool) -> PgResult<Option<JobRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ocr_jobs WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    Ok(c.query_opt(&sql, &[&id]).await?.as_ref().map(row))
}

fn no_job(id: i64) -> Fail {
    Fail::Core(Error::Storage(format!(
        "the OCR job {id} is not in the team ledger"
    )))
}

/// Whether the OS process `pid` of this machine still runs (as ledger/jobs.rs).
fn process_alive(pid: u32) -> bool {
    let proc_dir = std::path::Path::new("/proc");
    if !proc_dir.is_dir() {
        return true;
    }
    match std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

impl PgLedger {
    /// [`crate::ledger::Ledger::job_upsert`] on the team ledger.
    pub(crate) fn job_upsert(
        &self,
        key: &JobKey<'_>,
        file: &str,
        width: u32,
        height: u32,
        now: DateTime<Utc>,
    ) -> Result<JobRow> {
        let now_ms = now.timestamp_millis();
        let (tile, tiles) = (key.tile_index as i64, key.tiles as i64);
        let (w, h) = (i64::from(width), i64::from(height));
        pg_tx!(self, |tx| {
            let id: i64 = tx
                .query_one(
                    "INSERT INTO ocr_jobs (content_hash, tile_index, tiles, chain, file, width,
                                           height, created_ms, updated_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                     ON CONFLICT (content_hash, tile_index, tiles, chain)
                       DO UPDATE SET file = $5, width = COALESCE(ocr_jobs.width, $6),
                                     height = COALESCE(ocr_jobs.height, $7)
                     RETURNING id",
                    &[
                        &key.content_hash,
                        &tile,
                        &tiles,
                        &key.chain,
                        &file,
                        &w,
                        &h,
                        &now_ms,
                    ],
                )
                .await?
                .get(0);
            get(&**tx, id, false).await?.ok_or_else(|| no_job(id))
        })
    }

    /// [`crate::ledger::Ledger::job_find_done`] on the team ledger.
    pub(crate) fn job_find_done(
        &self,
        content_hash: &str,
        tile_index: usize,
        tiles: usize,
    ) -> Result<Option<JobRow>> {
        let (tile, tiles) = (tile_index as i64, tiles as i64);
        pg_read!(self, |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM ocr_jobs WHERE content_hash = $1 AND tile_index = $2
                   AND tiles = $3 AND status = 'done' ORDER BY updated_ms DESC LIMIT 1"
            );
            Ok(c.query_opt(&sql, &[&content_hash, &tile, &tiles])
                .await?
                .as_ref()
                .map(row))
        })
    }

    /// [`crate::ledger::Ledger::job`] on the team ledger.
    pub(crate) fn job(&self, id: i64) -> Result<Option<JobRow>> {
        pg_read!(self, |c| { get(c, id, false).await })
    }

    /// [`crate::ledger::Ledger::job_claim`] on the team ledger.
    pub(crate) fn job_claim(
        &self,
        id: i64,
        instance_id: &str,
        pid: u32,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<JobRow, JobRow>> {
        let here = self.host().to_string();
        let now_ms = now.timestamp_millis();
        pg_tx!(self, |tx| {
            let current = get(&**tx, id, true).await?.ok_or_else(|| no_job(id))?;
            let free = match current.status {
                JobStatus::Done => false,
                JobStatus::Running => {
                    let owner = tx
                        .query_opt(
                            "SELECT i.id, i.pid, i.host FROM ocr_jobs j
                             JOIN instances i ON i.id = j.owner WHERE j.id = $1",
                            &[&id],
                        )
                        .await?;
                    match owner {
                        None => true,
                        Some(o) if o.get::<_, &str>(0) == instance_id => true,
                        Some(o) if o.get::<_, &str>(2) == here => {
                            !process_alive(u32::try_from(o.get::<_, i64>(1)).unwrap_or(0))
                        }
                        // Another machine's live instance: its heartbeat decides.
                        Some(_) => false,
                    }
                }
                _ => true,
            };
            if !free {
                return Ok(Err(current));
            }
            tx.execute(
                "UPDATE ocr_jobs SET status = 'running', owner = $2, owner_pid = $3,
                   attempts = attempts + 1, updated_ms = $4 WHERE id = $1",
                &[&id, &instance_id, &i64::from(pid), &now_ms],
            )
            .await?;
            Ok(Ok(get(&**tx, id, false)
                .await?
                .ok_or_else(|| no_job(id))?))
        })
    }

    /// [`crate::ledger::Ledger::job_done`] on the team ledger.
    pub(crate) fn job_done(&self, id: i64, a: &JobAnswer<'_>, now: DateTime<Utc>) -> Result<()> {
        let now_ms = now.timestamp_millis();
        pg_tx!(self, |tx| {
            tx.execute(
                "UPDATE ocr_jobs SET status = 'done', result = $2, model = $3, key_id = $4,
                   cached = $5, local = $6, error_class = NULL, error = NULL, wait_until = NULL,
                   owner = NULL, owner_pid = NULL, updated_ms = $7
                 WHERE id = $1",
                &[
                    &id, &a.result, &a.model, &a.key_id, &a.cached, &a.local, &now_ms,
                ],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::job_unfinished`] on the team ledger.
    pub(crate) fn job_unfinished(
        &self,
        id: i64,
        status: JobStatus,
        error_class: &str,
        error: &str,
        wait_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let wait = wait_until.map(|t| t.timestamp_millis());
        let now_ms = now.timestamp_millis();
        let status = status.as_str();
        pg_tx!(self, |tx| {
            tx.execute(
                "UPDATE ocr_jobs SET status = $2, error_class = $3, error = $4, wait_until = $5,
                   owner = NULL, owner_pid = NULL, updated_ms = $6
                 WHERE id = $1 AND status != 'done'",
                &[&id, &status, &error_class, &error, &wait, &now_ms],
            )
            .await?;
            Ok(())
        })
    }

    /// [`crate::ledger::Ledger::job_counts`] on the team ledger.
    pub(crate) fn job_counts(&self) -> Result<Vec<(JobStatus, u32)>> {
        pg_read!(self, |c| {
            let rows = c
                .query(
                    "SELECT status, COUNT(*) FROM ocr_jobs GROUP BY status ORDER BY status",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (JobStatus::parse(r.get::<_, &str>(0)), count(r.get(1))))
                .collect())
        })
    }
}

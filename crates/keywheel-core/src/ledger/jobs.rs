//! OCR jobs: one persisted row per image tile, so that a batch survives a crash, a `kill -9`
//! or a UTC reset and never pays twice for a tile it already has.
//!
//! A job is identified by what decides its answer: the source file's content hash, the tile
//! (index and count) and the model chain. The file name is only the one last seen with that
//! content. A run *claims* a job (`running`, owned by its instance) before spending on it; a
//! job left `running` by an instance that is gone (expired, or its process no longer exists)
//! can be claimed again, so a killed batch resumes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::Ledger;
use crate::clock::from_millis;
use crate::error::Result;

crate::vocab::stored_enum! {
    /// Where a job stands.
    #[derive(PartialOrd, Ord)]
    pub enum JobStatus (unknown reads as Queued) {
        /// Answered (by a model, the cache or the local engine).
        Done,
        /// Not started yet, or put back (no usable key, cancelled).
        Queued,
        /// Waiting for quota to free (see [`JobRow::wait_until`]).
        Waiting,
        /// Taken by a running instance.
        Running,
        /// Failed for good in its last run (a later run tries it again).
        Failed,
    }
}

/// What identifies a job.
#[derive(Debug, Clone, Copy)]
pub struct JobKey<'a> {
    /// Lower-case hex SHA-256 of the source file's bytes.
    pub content_hash: &'a str,
    /// Tile index, from 0.
    pub tile_index: usize,
    /// Number of tiles of the image.
    pub tiles: usize,
    /// The model chain, comma-separated.
    pub chain: &'a str,
}

/// One job row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Source content hash.
    pub content_hash: String,
    /// Tile index.
    pub tile_index: usize,
    /// Tile count.
    pub tiles: usize,
    /// Model chain, comma-separated.
    pub chain: String,
    /// File name last seen with this content.
    pub file: String,
    /// Status.
    pub status: JobStatus,
    /// Times a run took the job.
    pub attempts: u32,
    /// Error class of the last failure or wait (`quota`, `no_usable_key`, `upstream`, …).
    pub error_class: Option<String>,
    /// The sentence for it.
    pub error: Option<String>,
    /// For a waiting job: when quota frees.
    pub wait_until: Option<DateTime<Utc>>,
    /// The Markdown.
    pub result: Option<String>,
    /// The model that answered (`tesseract` for the local engine).
    pub model: Option<String>,
    /// The key that paid.
    pub key_id: Option<String>,
    /// Answered from the shared response cache.
    pub cached: bool,
    /// Answered by the local engine.
    pub local: bool,
    /// Width of the image sent.
    pub width: Option<u32>,
    /// Height of the image sent.
    pub height: Option<u32>,
    /// The instance running it.
    pub owner: Option<String>,
}

/// A finished job's answer.
#[derive(Debug, Clone, Default)]
pub struct JobAnswer<'a> {
    /// The Markdown.
    pub result: &'a str,
    /// The model that answered.
    pub model: Option<&'a str>,
    /// The key that paid.
    pub key_id: Option<&'a str>,
    /// From the response cache.
    pub cached: bool,
    /// From the local engine.
    pub local: bool,
}

const COLUMNS: &str =
    "id, content_hash, tile_index, tiles, chain, file, status, attempts, error_class, error,
    wait_until, result, model, key_id, cached, local, width, height, owner";

fn row(r: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        content_hash: r.get(1)?,
        tile_index: r.get::<_, i64>(2)? as usize,
        tiles: r.get::<_, i64>(3)? as usize,
        chain: r.get(4)?,
        file: r.get(5)?,
        status: JobStatus::parse(&r.get::<_, String>(6)?),
        attempts: r.get(7)?,
        error_class: r.get(8)?,
        error: r.get(9)?,
        wait_until: r.get::<_, Option<i64>>(10)?.map(from_millis),
        result: r.get(11)?,
        model: r.get(12)?,
        key_id: r.get(13)?,
        cached: r.get(14)?,
        local: r.get(15)?,
        width: r.get(16)?,
        height: r.get(17)?,
        owner: r.get(18)?,
    })
}

fn get(tx: &Connection, id: i64) -> Result<Option<JobRow>> {
    let sql = format!("SELECT {COLUMNS} FROM ocr_jobs WHERE id = ?1");
    Ok(tx.prepare_cached(&sql)?.query_row([id], row).optional()?)
}

/// Whether the OS process `pid` still runs. Where `/proc` is not there, assume it does (the
/// instance's heartbeat expiry then decides).
fn process_alive(pid: u32) -> bool {
    let proc_dir = std::path::Path::new("/proc");
    if !proc_dir.is_dir() {
        return true;
    }
    match std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")) {
        // The state follows the parenthesised command name; `Z`ombies and `X` (dead) are gone.
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

impl Ledger {
    /// Finds or creates the job for `key`, recording `file` as its name and the size sent.
    pub fn job_upsert(
        &self,
        key: &JobKey<'_>,
        file: &str,
        width: u32,
        height: u32,
        now: DateTime<Utc>,
    ) -> Result<JobRow> {
        if let Some(pg) = self.pg() {
            return pg.job_upsert(key, file, width, height, now);
        }
        let now_ms = now.timestamp_millis();
        self.write(|tx| {
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO ocr_jobs (content_hash, tile_index, tiles, chain, file, width, height, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                     ON CONFLICT(content_hash, tile_index, tiles, chain)
                       DO UPDATE SET file = ?5, width = COALESCE(width, ?6), height = COALESCE(height, ?7)
                     RETURNING id",
                )?
                .query_row(
                    params![key.content_hash, key.tile_index as i64, key.tiles as i64, key.chain, file, width, height, now_ms],
                    |r| r.get(0),
                )?;
            get(tx, id)?.ok_or(crate::Error::Db(rusqlite::Error::QueryReturnedNoRows))
        })
    }

    /// A done job for this tile of this content, whatever chain read it (a resolved chain
    /// changes with the catalogue; what was read is never paid again).
    pub fn job_find_done(
        &self,
        content_hash: &str,
        tile_index: usize,
        tiles: usize,
    ) -> Result<Option<JobRow>> {
        if let Some(pg) = self.pg() {
            return pg.job_find_done(content_hash, tile_index, tiles);
        }
        self.read(|tx| {
            let id: Option<i64> = tx
                .prepare_cached(
                    "SELECT id FROM ocr_jobs WHERE content_hash = ?1 AND tile_index = ?2 AND tiles = ?3
                       AND status = 'done' ORDER BY updated_ms DESC LIMIT 1",
                )?
                .query_row(params![content_hash, tile_index as i64, tiles as i64], |r| r.get(0))
                .optional()?;
            match id {
                Some(id) => get(tx, id),
                None => Ok(None),
            }
        })
    }

    /// One job.
    pub fn job(&self, id: i64) -> Result<Option<JobRow>> {
        if let Some(pg) = self.pg() {
            return pg.job(id);
        }
        self.write(|tx| get(tx, id))
    }

    /// Takes a job for `instance_id` (process `pid`) unless it is done or another live instance
    /// runs it. Returns the claimed row, or `None` with the row as it stands.
    pub fn job_claim(
        &self,
        id: i64,
        instance_id: &str,
        pid: u32,
        now: DateTime<Utc>,
    ) -> Result<Result<JobRow, JobRow>> {
        if let Some(pg) = self.pg() {
            return pg.job_claim(id, instance_id, pid, now);
        }
        self.write(|tx| {
            let current = get(tx, id)?.ok_or(crate::Error::Db(rusqlite::Error::QueryReturnedNoRows))?;
            let free = match current.status {
                JobStatus::Done => false,
                JobStatus::Running => {
                    let owner: Option<(String, u32)> = tx
                        .prepare_cached("SELECT i.id, i.pid FROM ocr_jobs j JOIN instances i ON i.id = j.owner WHERE j.id = ?1")?
                        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    match owner {
                        None => true,
                        Some((owner, _)) if owner == instance_id => true,
                        Some((_, owner_pid)) => !process_alive(owner_pid),
                    }
                }
                _ => true,
            };
            if !free {
                return Ok(Err(current));
            }
            tx.prepare_cached(
                "UPDATE ocr_jobs SET status = 'running', owner = ?2, owner_pid = ?3, attempts = attempts + 1,
                   updated_ms = ?4 WHERE id = ?1",
            )?
            .execute(params![id, instance_id, pid, now.timestamp_millis()])?;
            Ok(Ok(get(tx, id)?.expect("the row was just read")))
        })
    }

    /// Records a job's answer: `done`.
    pub fn job_done(&self, id: i64, a: &JobAnswer<'_>, now: DateTime<Utc>) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.job_done(id, a, now);
        }
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE ocr_jobs SET status = 'done', result = ?2, model = ?3, key_id = ?4, cached = ?5, local = ?6,
                   error_class = NULL, error = NULL, wait_until = NULL, owner = NULL, owner_pid = NULL, updated_ms = ?7
                 WHERE id = ?1",
            )?
            .execute(params![id, a.result, a.model, a.key_id, a.cached, a.local, now.timestamp_millis()])?;
            Ok(())
        })
    }

    /// Leaves a job unanswered: `queued`, `waiting` (with when quota frees) or `failed`, with the
    /// error class and sentence. A `done` job is never changed.
    pub fn job_unfinished(
        &self,
        id: i64,
        status: JobStatus,
        error_class: &str,
        error: &str,
        wait_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(pg) = self.pg() {
            return pg.job_unfinished(id, status, error_class, error, wait_until, now);
        }
        debug_assert!(!matches!(status, JobStatus::Done | JobStatus::Running));
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE ocr_jobs SET status = ?2, error_class = ?3, error = ?4, wait_until = ?5, owner = NULL,
                   owner_pid = NULL, updated_ms = ?6
                 WHERE id = ?1 AND status != 'done'",
            )?
            .execute(params![
                id,
                status.as_str(),
                error_class,
                error,
                wait_until.map(|t| t.timestamp_millis()),
                now.timestamp_millis()
            ])?;
            Ok(())
        })
    }

    /// Counts jobs by status (for status views and tests).
    pub fn job_counts(&self) -> Result<Vec<(JobStatus, u32)>> {
        if let Some(pg) = self.pg() {
            return pg.job_counts();
        }
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT status, COUNT(*) FROM ocr_jobs GROUP BY status ORDER BY status",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((JobStatus::parse(&r.get::<_, String>(0)?), r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::CapDefaults;

    fn ledger() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        (dir, l)
    }

    #[test]
    fn a_job_is_found_again_by_content_and_done_jobs_are_never_claimed() {
        let (_d, l) = ledger();
        let now = crate::clock::from_millis(1_780_000_000_000);
        let key = JobKey {
            content_hash: "abc",
            tile_index: 0,
            tiles: 1,
            chain: "m",
        };
        let a = l.job_upsert(&key, "a.png", 10, 20, now).unwrap();
        let b = l.job_upsert(&key, "copy.png", 10, 20, now).unwrap();
        assert_eq!(a.id, b.id, "same content, same job");
        assert_eq!(b.file, "copy.png");
        assert_eq!(b.status, JobStatus::Queued);
        let other = l
            .job_upsert(&JobKey { chain: "m2", ..key }, "a.png", 10, 20, now)
            .unwrap();
        assert_ne!(other.id, a.id, "another model chain is another job");

        let me = l
            .register_instance("test", std::process::id(), now)
            .unwrap();
        let claimed = l
            .job_claim(a.id, &me, std::process::id(), now)
            .unwrap()
            .unwrap();
        assert_eq!((claimed.status, claimed.attempts), (JobStatus::Running, 1));
        let them = l
            .register_instance("test", std::process::id(), now)
            .unwrap();
        assert!(
            l.job_claim(a.id, &them, std::process::id(), now)
                .unwrap()
                .is_err(),
            "a live owner keeps it"
        );
        l.job_done(
            a.id,
            &JobAnswer {
                result: "# Hi",
                model: Some("m"),
                ..JobAnswer::default()
            },
            now,
        )
        .unwrap();
        l.job_unfinished(a.id, JobStatus::Failed, "upstream", "x", None, now)
            .unwrap();
        let done = l.job(a.id).unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Done, "a done job stays done");
        assert_eq!(done.result.as_deref(), Some("# Hi"));
        assert!(
            l.job_claim(a.id, &them, std::process::id(), now)
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn a_job_held_by_a_dead_instance_is_taken_over() {
        let (_d, l) = ledger();
        let now = crate::clock::from_millis(1_780_000_000_000);
        let key = JobKey {
            content_hash: "abc",
            tile_index: 0,
            tiles: 1,
            chain: "m",
        };
        let job = l.job_upsert(&key, "a.png", 10, 20, now).unwrap();
        // A process id that does not exist (above the kernel's pid_max).
        let dead = l.register_instance("test", 4_194_304 + 7, now).unwrap();
        l.job_claim(job.id, &dead, 4_194_304 + 7, now)
            .unwrap()
            .unwrap();
        let me = l
            .register_instance("test", std::process::id(), now)
            .unwrap();
        let taken = l
            .job_claim(job.id, &me, std::process::id(), now)
            .unwrap()
            .unwrap();
        assert_eq!(taken.owner.as_deref(), Some(me.as_str()));
        assert_eq!(taken.attempts, 2);
    }
}

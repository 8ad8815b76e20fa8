//! Noticing commits to a team ledger made by any machine: the PostgreSQL side of
//! [`crate::ledger::Changes`] (which watches the SQLite file's `PRAGMA data_version`).
//!
//! The stamp is the server's current snapshot bounds, `pg_snapshot_xmin` and
//! `pg_snapshot_xmax` of `pg_current_snapshot()`: xmax moves when any transaction is given a
//! transaction id (only writers are), xmin when the oldest running one ends (commits). Reading
//! it is one tiny query that writes nothing and takes no transaction id itself, so an idle
//! team ledger stays still. It is server-wide, so a write to another database of the same
//! server may wake a watcher for nothing: a spurious wake costs one re-read. A commit made
//! while an older transaction stays open moves neither bound, so it is seen at the next write
//! or when that older one ends (`LISTEN/NOTIFY` would be exact; docs/team.md).
//!
//! Every machine's instances heartbeat, and each beat is a write: when the stamp moved, the
//! watcher also compares the content stamp ([`PgLedger::content_stamp`], what the front ends
//! show, heartbeat times left out) and stays quiet when only heartbeats moved, as on SQLite.

use std::time::Duration;

use super::{PgLedger, pg_read};
use crate::error::Result;
use crate::ledger::changes::{FIRST_BACKOFF, MAX_BACKOFF};

impl PgLedger {
    /// The change stamp: different after any transaction wrote on the server.
    pub fn change_stamp(&self) -> Result<String> {
        pg_read!(self, |c| {
            let r = c
                .query_one(
                    "SELECT pg_snapshot_xmin(s)::text || ':' || pg_snapshot_xmax(s)::text
                     FROM pg_current_snapshot() s",
                    &[],
                )
                .await?;
            Ok(r.get(0))
        })
    }

    /// A digest of what the front ends show — keys, accounts, the pool's state, alerts,
    /// notices, skipped models, the catalogue's age, live instances without their heartbeat
    /// times, the day totals and the recent request rows (the SQLite side:
    /// [`crate::ledger::changes::content_stamp`]). Equal stamps: only heartbeats moved.
    pub fn content_stamp(&self) -> Result<String> {
        pg_read!(self, |c| {
            let r = c
                .query_one(
                    "SELECT md5(concat_ws('|',
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM keys t),
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM accounts t),
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM pool_state t),
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM alerts t),
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM notices t),
                       (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM model_skips t),
                       (SELECT MAX(fetched_ms)::text FROM models_cache),
                       (SELECT string_agg(concat_ws(':', id, pid, kind, key_id, started_ms, host),
                                          ',' ORDER BY id) FROM instances),
                       (SELECT concat_ws(':', COUNT(*), SUM(requests), SUM(successes),
                                         SUM(errors), SUM(cost)) FROM usage_daily),
                       (SELECT string_agg(concat_ws(':', id, state, finished_ms, status_class),
                                          ',' ORDER BY id)
                          FROM (SELECT id, state, finished_ms, status_class FROM requests
                                ORDER BY id DESC LIMIT 256) r)))",
                    &[],
                )
                .await?;
            Ok(r.get(0))
        })
    }

    /// An endless iterator that yields once after commits by any machine, looking every
    /// `tick` (the team ledger's [`crate::ledger::Changes`]). Each `next` blocks.
    pub fn changes(&self, tick: Duration) -> TeamChanges {
        TeamChanges {
            pg: self.clone(),
            tick,
            backoff: FIRST_BACKOFF,
            last: None,
            content: None,
        }
    }
}

/// The watcher behind [`PgLedger::changes`]: the last stamp it saw. When the server cannot be
/// reached it logs why and tries again after 1 s, 2 s, 4 s … up to a minute.
#[derive(Debug)]
pub struct TeamChanges {
    pg: PgLedger,
    tick: Duration,
    backoff: Duration,
    last: Option<String>,
    /// The content stamp at the last reported change (`None`: not read, or unreadable).
    content: Option<String>,
}

impl Iterator for TeamChanges {
    type Item = ();

    /// Blocks until the next change; never ends.
    fn next(&mut self) -> Option<()> {
        loop {
            if self.last.is_some() {
                std::thread::sleep(self.tick);
            }
            match self.pg.change_stamp() {
                Ok(now) => {
                    self.backoff = FIRST_BACKOFF;
                    let first = self.last.is_none();
                    let moved = self.last.as_ref().is_some_and(|l| *l != now);
                    self.last = Some(now);
                    if first || moved {
                        // Only heartbeats moved: stay quiet. Unreadable: report (a re-read
                        // too many, never one too few).
                        let content = self.pg.content_stamp().ok();
                        let changed = content.is_none() || content != self.content;
                        self.content = content;
                        if moved && changed {
                            return Some(());
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "the ledger watcher cannot read the team ledger ({e}); trying again in {} s",
                        self.backoff.as_secs()
                    );
                    std::thread::sleep(self.backoff);
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

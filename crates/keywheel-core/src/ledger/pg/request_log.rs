//! The request log and its aggregates on the team ledger: the statements of
//! ledger/request_log.rs on PostgreSQL, folded into the same rows and aggregates.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use tokio_postgres::types::ToSql;

use super::{Fail, PgLedger, count, pg_read};
use crate::clock::{day_key, from_millis};
use crate::error::{Error, Result};
use crate::ledger::RequestState;
use crate::ledger::request_log::{
    DayAggregate, GroupBy, LogFilter, RequestRow, StatusClass, via_of,
};

const COLUMNS: &str = "id, started_ms, day, instance_id, key_id, account, kind, model_asked, model_answered, state, \
     status_class, http_status, attempts, fallback, rotation, cached, prompt_tokens, completion_tokens, \
     reasoning_tokens, cost, latency_ms, bytes_sent, error, via";

/// A stored word of the vocabulary, or an error naming it.
fn word<T: std::str::FromStr>(s: &str, what: &str) -> std::result::Result<T, Fail> {
    s.parse().map_err(|_| {
        Fail::Core(Error::Storage(format!(
            "unknown {what} `{s}` in the team ledger"
        )))
    })
}

fn wide(v: Option<i64>) -> Option<u64> {
    v.map(|v| u64::try_from(v).unwrap_or(0))
}

fn row(r: &tokio_postgres::Row) -> std::result::Result<RequestRow, Fail> {
    let (via, session) = match r.get::<_, Option<String>>(23) {
        Some(kind) => {
            let (via, session) = via_of(&kind);
            (Some(via.to_string()), session.map(str::to_string))
        }
        None => (None, None),
    };
    Ok(RequestRow {
        id: r.get(0),
        at: from_millis(r.get(1)),
        day: r.get(2),
        instance_id: r.get(3),
        via,
        session,
        key_id: r.get(4),
        account: r.get(5),
        kind: word(r.get::<_, &str>(6), "kind")?,
        model_asked: r.get(7),
        model_answered: r.get(8),
        state: word(r.get::<_, &str>(9), "request state")?,
        status_class: r.get::<_, Option<&str>>(10).map(StatusClass::parse),
        http_status: r
            .get::<_, Option<i64>>(11)
            .and_then(|v| u16::try_from(v).ok()),
        attempts: count(r.get(12)),
        fallback: r.get(13),
        rotation: r.get(14),
        cached: r.get(15),
        prompt_tokens: wide(r.get(16)),
        completion_tokens: wide(r.get(17)),
        reasoning_tokens: wide(r.get(18)),
        cost: r.get(19),
        latency_ms: wide(r.get(20)),
        bytes_sent: wide(r.get(21)),
        error: r.get(22),
    })
}

impl PgLedger {
    /// [`crate::ledger::Ledger::request_log`] on the team ledger.
    pub(crate) fn request_log(&self, f: &LogFilter) -> Result<Vec<RequestRow>> {
        let mut sql = format!("SELECT {COLUMNS} FROM requests WHERE TRUE");
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut n = 0;
        let mut next = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if let Some(k) = &f.key_id {
            next(&mut sql, " AND key_id = ?");
            args.push(Box::new(k.clone()));
        }
        if let Some(k) = &f.kind {
            next(&mut sql, " AND kind = ?");
            args.push(Box::new(k.as_str().to_string()));
        }
        if let Some(c) = &f.status_class {
            next(&mut sql, " AND status_class = ?");
            args.push(Box::new(c.as_str().to_string()));
        }
        if f.only_fallbacks {
            sql.push_str(" AND (fallback OR rotation)");
        }
        if let Some(t) = f.since {
            next(&mut sql, " AND started_ms >= ?");
            args.push(Box::new(t.timestamp_millis()));
        }
        next(&mut sql, " ORDER BY started_ms DESC, id DESC LIMIT ?");
        args.push(Box::new(if f.limit == 0 { 100 } else { f.limit } as i64));
        pg_read!(self, |c| {
            let params: Vec<&(dyn ToSql + Sync)> = args
                .iter()
                .map(|a| a.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = c.query(&sql, &params).await?;
            rows.iter().map(row).collect()
        })
    }

    /// [`crate::ledger::Ledger::aggregates`] on the team ledger.
    pub(crate) fn aggregates(
        &self,
        days: u32,
        by: GroupBy,
        now: DateTime<Utc>,
    ) -> Result<Vec<DayAggregate>> {
        let first = now - Duration::days(i64::from(days.max(1)) - 1);
        let since = day_key(first);
        let since_ms = crate::clock::utc_day(first)
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        let (logged, totals) = pg_read!(self, |c| {
            let logged = c
                .query(
                    "SELECT key_id, account, day, state, status_class, cached, prompt_tokens,
                            completion_tokens, reasoning_tokens, cost, latency_ms
                     FROM requests WHERE started_ms >= $1",
                    &[&since_ms],
                )
                .await?;
            let pruned: Option<String> = c
                .query_opt(
                    "SELECT pruned_before_day FROM pool_state WHERE singleton = 1",
                    &[],
                )
                .await?
                .and_then(|r| r.get(0));
            let totals = match pruned.as_ref().filter(|p| **p > since) {
                Some(p) => {
                    c.query(
                        "SELECT u.key_id, COALESCE(k.account, u.key_id), u.day, u.requests,
                                u.successes, u.errors, u.prompt_tokens, u.completion_tokens,
                                u.reasoning_tokens, u.cost
                         FROM usage_daily u LEFT JOIN keys k ON k.id = u.key_id
                         WHERE u.day >= $1 AND u.day < $2",
                        &[&since, p],
                    )
                    .await?
                }
                None => Vec::new(),
            };
            Ok((logged, totals))
        })?;
        let mut groups: BTreeMap<(String, String), (DayAggregate, Vec<u64>)> = BTreeMap::new();
        let subject_of = |r: &tokio_postgres::Row| -> String {
            if by == GroupBy::Key {
                r.get(0)
            } else {
                r.get(1)
            }
        };
        for r in &logged {
            let subject = subject_of(r);
            let day: String = r.get(2);
            let (agg, latencies) =
                groups
                    .entry((day.clone(), subject.clone()))
                    .or_insert_with(|| {
                        (
                            DayAggregate {
                                subject,
                                day,
                                ..DayAggregate::default()
                            },
                            Vec::new(),
                        )
                    });
            if r.get::<_, bool>(5) {
                agg.cache_hits += 1;
                continue;
            }
            agg.requests += 1;
            let state: RequestState = match word(r.get::<_, &str>(3), "request state") {
                Ok(s) => s,
                Err(Fail::Core(e)) => return Err(e),
                Err(Fail::Pg(e)) => return Err(self.error(e)),
            };
            match state {
                RequestState::Done => {
                    agg.successes += 1;
                    if let Some(l) = wide(r.get(10)) {
                        latencies.push(l);
                    }
                }
                RequestState::Failed => {
                    *agg.errors
                        .entry(r.get::<_, Option<&str>>(4).map_or_else(
                            || StatusClass::Other("unknown".into()),
                            StatusClass::parse,
                        ))
                        .or_default() += 1
                }
                other => {
                    *agg.errors
                        .entry(StatusClass::Other(other.as_str().into()))
                        .or_default() += 1
                }
            }
            agg.prompt_tokens += wide(r.get(6)).unwrap_or(0);
            agg.completion_tokens += wide(r.get(7)).unwrap_or(0);
            agg.reasoning_tokens += wide(r.get(8)).unwrap_or(0);
            agg.cost += r.get::<_, Option<f64>>(9).unwrap_or(0.0);
        }
        // Pruned days: their totals from usage_daily (no latencies, errors not by class).
        for r in &totals {
            let subject = subject_of(r);
            let day: String = r.get(2);
            let (agg, _) = groups
                .entry((day.clone(), subject.clone()))
                .or_insert_with(|| {
                    (
                        DayAggregate {
                            subject,
                            day,
                            ..DayAggregate::default()
                        },
                        Vec::new(),
                    )
                });
            agg.requests += count(r.get(3));
            agg.successes += count(r.get(4));
            let errors = count(r.get(5));
            if errors > 0 {
                *agg.errors
                    .entry(StatusClass::Other("failed".into()))
                    .or_default() += errors;
            }
            agg.prompt_tokens += wide(r.get(6)).unwrap_or(0);
            agg.completion_tokens += wide(r.get(7)).unwrap_or(0);
            agg.reasoning_tokens += wide(r.get(8)).unwrap_or(0);
            agg.cost += r.get::<_, f64>(9);
        }
        Ok(groups
            .into_values()
            .map(|(mut agg, mut lat)| {
                lat.sort_unstable();
                agg.latency_p50_ms = percentile(&lat, 50);
                agg.latency_p95_ms = percentile(&lat, 95);
                agg
            })
            .filter(|a| !a.subject.is_empty() || a.cache_hits > 0)
            .collect())
    }

    /// [`crate::ledger::Ledger::pruned_before_day`] on the team ledger.
    pub(crate) fn pruned_before_day(&self) -> Result<Option<String>> {
        pg_read!(self, |c| {
            Ok(c.query_opt(
                "SELECT pruned_before_day FROM pool_state WHERE singleton = 1",
                &[],
            )
            .await?
            .and_then(|r| r.get(0)))
        })
    }
}

/// Nearest-rank percentile, as ledger/request_log.rs.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    Some(sorted[idx])
}

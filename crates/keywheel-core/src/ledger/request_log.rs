//! The request log and its aggregates: the one source of truth for `keywheel usage`,
//! `keywheel log` and the app's Usage view.
//!
//! Aggregates read a `started_ms` range, not a scan by `day`; the range starts at the id
//! [`since_id`] gives (a range of the primary key: there is no time index, so a reservation
//! maintains none). Days whose rows were pruned (ledger/retention.rs) come from `usage_daily`,
//! which keeps every day's totals.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::Ledger;
use super::reserve::RequestState;
use crate::clock::{day_key, from_millis};
use crate::dispatch::Kind;
use crate::error::Result;
use crate::openrouter::FailureClass;

/// How a logged request ended: answered, served from the cache, or failed with a class of
/// the one failure taxonomy. Stored as the word it always was (`ok`, `cached`,
/// `rate_limited`, …); a word this version does not know (an older taxonomy's) is kept as
/// [`StatusClass::Other`] rather than failing the read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StatusClass {
    /// Answered.
    Ok,
    /// Served from the response cache (no quota).
    Cached,
    /// Failed; the class says how.
    #[serde(untagged)]
    Failure(#[cfg_attr(feature = "ts", ts(type = "string"))] FailureClass),
    /// A stored word this version does not know.
    #[serde(untagged)]
    Other(String),
}

impl StatusClass {
    /// The stored (and shown) word.
    pub fn as_str(&self) -> &str {
        match self {
            StatusClass::Ok => "ok",
            StatusClass::Cached => "cached",
            StatusClass::Failure(c) => c.as_str(),
            StatusClass::Other(s) => s,
        }
    }

    /// Reads a stored word (never fails: unknown words are [`StatusClass::Other`]).
    pub fn parse(s: &str) -> Self {
        use serde::de::IntoDeserializer;
        match s {
            "ok" => StatusClass::Ok,
            "cached" => StatusClass::Cached,
            _ => FailureClass::deserialize(
                IntoDeserializer::<serde::de::value::Error>::into_deserializer(s),
            )
            .map_or_else(|_| StatusClass::Other(s.to_string()), StatusClass::Failure),
        }
    }
}

impl std::fmt::Display for StatusClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FailureClass> for StatusClass {
    fn from(c: FailureClass) -> Self {
        StatusClass::Failure(c)
    }
}

impl From<&str> for StatusClass {
    fn from(s: &str) -> Self {
        StatusClass::parse(s)
    }
}

impl ToSql for StatusClass {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for StatusClass {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(StatusClass::parse(v.as_str()?))
    }
}

/// One request as logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RequestRow {
    /// Row id.
    pub id: i64,
    /// When it started.
    pub at: DateTime<Utc>,
    /// UTC day it counts on.
    pub day: String,
    /// Instance that sent it.
    pub instance_id: String,
    /// The face that sent it: `cli`, `app`, `gateway`, `example`, … (the kind its instance
    /// registered with; `None` for rows logged before the ledger recorded it).
    pub via: Option<String>,
    /// The gateway session (`X-Keywheel-Session`) it came through, if any.
    pub session: Option<String>,
    /// Key id (empty for a cache hit with no key).
    pub key_id: String,
    /// Account of the key.
    pub account: String,
    /// Chat or OCR.
    pub kind: Kind,
    /// Model asked for.
    pub model_asked: Option<String>,
    /// Model that answered.
    pub model_answered: Option<String>,
    /// Reserved, done, failed or abandoned.
    pub state: RequestState,
    /// How it ended (absent while reserved or abandoned).
    pub status_class: Option<StatusClass>,
    /// HTTP status.
    pub http_status: Option<u16>,
    /// Attempt number.
    pub attempts: u32,
    /// Reached through a key fallback.
    pub fallback: bool,
    /// Its instance rotated at start.
    pub rotation: bool,
    /// Served from the cache (no quota).
    pub cached: bool,
    /// Prompt tokens.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens.
    pub completion_tokens: Option<u64>,
    /// Reasoning tokens.
    pub reasoning_tokens: Option<u64>,
    /// Cost (USD).
    pub cost: Option<f64>,
    /// Latency.
    pub latency_ms: Option<u64>,
    /// Request body size.
    pub bytes_sent: Option<u64>,
    /// Short error text.
    pub error: Option<String>,
}

impl RequestRow {
    /// How it ended, in one word: `cached`, its class (`ok`, `rate_limited`, …), or its
    /// state while it has no class (`reserved`, `abandoned`).
    pub fn outcome(&self) -> &str {
        if self.cached {
            StatusClass::Cached.as_str()
        } else {
            self.status_class
                .as_ref()
                .map_or(self.state.as_str(), StatusClass::as_str)
        }
    }
}

/// The instance kind of a gateway session: `gateway-session:<id>`.
pub const SESSION_KIND_PREFIX: &str = "gateway-session:";

/// The face and the gateway session of an instance kind: `gateway-session:s1` is
/// `("gateway", Some("s1"))`, any other kind is itself with no session.
pub fn via_of(kind: &str) -> (&str, Option<&str>) {
    match kind.strip_prefix(SESSION_KIND_PREFIX) {
        Some(session) => ("gateway", Some(session)),
        None => (kind, None),
    }
}

/// The length of a `request_hours` bucket (migration 10): `hour = started_ms / HOUR_MS`.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// SQL for the lowest request id that can have started at or after the time (ms) bound to
/// `param`: a scalar subquery over `request_hours` (migration 10). Request ids grow as rows are
/// appended and each hour keeps the lowest id started in it, so every request started at or
/// after that time has an id at or above this one, and `id >= {since_id}` turns a time range
/// into a range of the primary key. NULL (so `id >=` it matches nothing) when no request started
/// in that hour or later.
pub(crate) fn since_id(param: &str) -> String {
    format!("(SELECT MIN(first_id) FROM request_hours WHERE hour >= {param} / {HOUR_MS})")
}

/// Filters for [`Ledger::request_log`].
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only this key id.
    pub key_id: Option<String>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this outcome class.
    pub status_class: Option<StatusClass>,
    /// Only fallbacks or rotations.
    pub only_fallbacks: bool,
    /// Only since then.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (newest first); 0 = 100.
    pub limit: usize,
}

const COLUMNS: &str = "id, started_ms, day, instance_id, key_id, account, kind, model_asked, model_answered, state, \
     status_class, http_status, attempts, fallback, rotation, cached, prompt_tokens, completion_tokens, \
     reasoning_tokens, cost, latency_ms, bytes_sent, error, via";

fn row(r: &Row<'_>) -> rusqlite::Result<RequestRow> {
    let (via, session) = match r.get::<_, Option<String>>(23)? {
        Some(kind) => {
            let (via, session) = via_of(&kind);
            (Some(via.to_string()), session.map(str::to_string))
        }
        None => (None, None),
    };
    Ok(RequestRow {
        id: r.get(0)?,
        at: from_millis(r.get(1)?),
        day: r.get(2)?,
        instance_id: r.get(3)?,
        via,
        session,
        key_id: r.get(4)?,
        account: r.get(5)?,
        kind: r.get(6)?,
        model_asked: r.get(7)?,
        model_answered: r.get(8)?,
        state: r.get(9)?,
        status_class: r.get(10)?,
        http_status: r.get(11)?,
        attempts: r.get(12)?,
        fallback: r.get(13)?,
        rotation: r.get(14)?,
        cached: r.get(15)?,
        prompt_tokens: r.get(16)?,
        completion_tokens: r.get(17)?,
        reasoning_tokens: r.get(18)?,
        cost: r.get(19)?,
        latency_ms: r.get(20)?,
        bytes_sent: r.get(21)?,
        error: r.get(22)?,
    })
}

/// One key (or account) on one UTC day, aggregated from the request log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DayAggregate {
    /// Key id or account name.
    pub subject: String,
    /// UTC day.
    pub day: String,
    /// Requests counted against quota (uncached).
    pub requests: u32,
    /// Answered.
    pub successes: u32,
    /// Failed, by class: a failure's [`StatusClass`]; `unknown` (failed with no class), a
    /// state word (`reserved`, `abandoned`) or `failed` (a pruned day) are
    /// [`StatusClass::Other`]. On the wire the same words as before, as map keys.
    pub errors: BTreeMap<StatusClass, u32>,
    /// Served from the cache.
    pub cache_hits: u32,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Cost (USD).
    pub cost: f64,
    /// Median latency of answered requests.
    pub latency_p50_ms: Option<u64>,
    /// 95th percentile latency of answered requests.
    pub latency_p95_ms: Option<u64>,
}

/// Per key or per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// Per key id.
    Key,
    /// Per account.
    Account,
}

impl Ledger {
    /// The request log, newest first.
    pub fn request_log(&self, f: &LogFilter) -> Result<Vec<RequestRow>> {
        if let Some(pg) = self.pg() {
            return pg.request_log(f);
        }
        let mut filters = String::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        for (sql, v) in [
            (" AND key_id = ?", f.key_id.clone()),
            (
                " AND kind = ?",
                f.kind.as_ref().map(|k| k.as_str().to_string()),
            ),
            (
                " AND status_class = ?",
                f.status_class.as_ref().map(|c| c.as_str().to_string()),
            ),
        ] {
            if let Some(v) = v {
                args.push(v.into());
                filters.push_str(&sql.replace('?', &format!("?{}", args.len())));
            }
        }
        if f.only_fallbacks {
            filters.push_str(" AND (fallback = 1 OR rotation = 1)");
        }
        let limit = if f.limit == 0 { 100 } else { f.limit };
        // The rows started at or after a time (a range of the primary key), or all of them.
        let (from, lim) = (args.len() + 1, args.len() + 2);
        let clause = |bounded: bool| {
            if bounded {
                format!(
                    "id >= {} AND started_ms >= ?{from}{filters} ORDER BY {{}} LIMIT ?{lim}",
                    since_id(&format!("?{from}"))
                )
            } else {
                format!("1 = 1{filters} ORDER BY {{}} LIMIT ?{from}")
            }
        };
        let since = f.since.map(|t| t.timestamp_millis());
        self.read(|tx| {
            let params = |from_ms: Option<i64>| {
                let mut a = args.clone();
                a.extend(from_ms.map(rusqlite::types::Value::from));
                a.push((limit as i64).into());
                rusqlite::params_from_iter(a)
            };
            // The newest `limit` matching rows in the order they were appended (a backward walk
            // of the primary key): the `limit` newest by time all started at or after the
            // oldest of them, so the page is read exactly from there, a short range of ids.
            let probe = format!(
                "SELECT COUNT(*), MIN(started_ms) FROM (SELECT started_ms FROM requests WHERE {})",
                clause(since.is_some()).replace("{}", "id DESC")
            );
            let (found, oldest): (usize, Option<i64>) = tx
                .prepare_cached(&probe)?
                .query_row(params(since), |r| Ok((r.get(0)?, r.get(1)?)))?;
            let from_ms = match oldest {
                Some(m) if found >= limit => Some(m),
                _ => since,
            };
            let page = format!(
                "SELECT {COLUMNS} FROM requests WHERE {}",
                clause(from_ms.is_some()).replace("{}", "started_ms DESC, id DESC")
            );
            let mut stmt = tx.prepare_cached(&page)?;
            let rows = stmt
                .query_map(params(from_ms), row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Aggregates of the last `days` UTC days, per key or per account, oldest day first.
    pub fn aggregates(
        &self,
        days: u32,
        by: GroupBy,
        now: DateTime<Utc>,
    ) -> Result<Vec<DayAggregate>> {
        if let Some(pg) = self.pg() {
            return pg.aggregates(days, by, now);
        }
        let first = now - Duration::days(i64::from(days.max(1)) - 1);
        let since = day_key(first);
        let since_ms = crate::clock::utc_day(first)
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis();
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT key_id, account, day, state, status_class, cached, prompt_tokens,
                        completion_tokens, reasoning_tokens, cost, latency_ms
                 FROM requests WHERE id >= {} AND started_ms >= ?1",
            since_id("?1")
        ))?;
        let mut groups: BTreeMap<(String, String), (DayAggregate, Vec<u64>)> = BTreeMap::new();
        let mut rows = stmt.query([since_ms])?;
        while let Some(r) = rows.next()? {
            let subject: String = if by == GroupBy::Key {
                r.get(0)?
            } else {
                r.get(1)?
            };
            let day: String = r.get(2)?;
            let state: RequestState = r.get(3)?;
            let class: Option<StatusClass> = r.get(4)?;
            let cached: bool = r.get(5)?;
            let entry = groups
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
            let (agg, latencies) = entry;
            if cached {
                agg.cache_hits += 1;
                continue;
            }
            agg.requests += 1;
            match state {
                RequestState::Done => {
                    agg.successes += 1;
                    if let Some(l) = r.get::<_, Option<u64>>(10)? {
                        latencies.push(l);
                    }
                }
                RequestState::Failed => {
                    *agg.errors
                        .entry(class.unwrap_or_else(|| StatusClass::Other("unknown".into())))
                        .or_default() += 1
                }
                other => {
                    *agg.errors
                        .entry(StatusClass::Other(other.as_str().into()))
                        .or_default() += 1
                }
            }
            agg.prompt_tokens += r.get::<_, Option<u64>>(6)?.unwrap_or(0);
            agg.completion_tokens += r.get::<_, Option<u64>>(7)?.unwrap_or(0);
            agg.reasoning_tokens += r.get::<_, Option<u64>>(8)?.unwrap_or(0);
            agg.cost += r.get::<_, Option<f64>>(9)?.unwrap_or(0.0);
        }
        drop(rows);
        // Pruned days: their totals from usage_daily (no latencies, errors not by class).
        let pruned: Option<String> = conn
            .query_row("SELECT pruned_before_day FROM pool_state", [], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(pruned) = pruned.filter(|p| *p > since) {
            let mut stmt = conn.prepare_cached(
                "SELECT u.key_id, COALESCE(k.account, u.key_id), u.day, u.requests, u.successes,
                        u.errors, u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, u.cost
                 FROM usage_daily u LEFT JOIN keys k ON k.id = u.key_id
                 WHERE u.day >= ?1 AND u.day < ?2",
            )?;
            let mut rows = stmt.query([&since, &pruned])?;
            while let Some(r) = rows.next()? {
                let subject: String = if by == GroupBy::Key {
                    r.get(0)?
                } else {
                    r.get(1)?
                };
                let day: String = r.get(2)?;
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
                agg.requests += r.get::<_, u32>(3)?;
                agg.successes += r.get::<_, u32>(4)?;
                let errors: u32 = r.get(5)?;
                if errors > 0 {
                    *agg.errors
                        .entry(StatusClass::Other("failed".into()))
                        .or_default() += errors;
                }
                agg.prompt_tokens += r.get::<_, u64>(6)?;
                agg.completion_tokens += r.get::<_, u64>(7)?;
                agg.reasoning_tokens += r.get::<_, u64>(8)?;
                agg.cost += r.get::<_, f64>(9)?;
            }
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
}

fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() * p).div_ceil(100)).clamp(1, sorted.len()) - 1;
    Some(sorted[idx])
}

#[cfg(test)]
mod tests {
    use super::{LogFilter, percentile, via_of};
    use crate::clock::from_millis;
    use crate::keys::{ApiKey, KeySource};
    use crate::ledger::{CapDefaults, Ledger, ReserveOutcome, ReserveRequest};

    const T0: i64 = 1_800_000_000_000;

    /// Errors are counted by typed class and reach the wire as the words they always were.
    #[test]
    fn error_classes_are_map_keys_with_their_stored_words() {
        use super::{DayAggregate, StatusClass};
        use crate::openrouter::FailureClass;
        let mut agg = DayAggregate::default();
        agg.errors
            .insert(StatusClass::Failure(FailureClass::RateLimited), 2);
        agg.errors.insert(StatusClass::Other("unknown".into()), 1);
        assert_eq!(
            serde_json::to_value(&agg).unwrap()["errors"],
            serde_json::json!({"rate_limited": 2, "unknown": 1})
        );
    }

    #[test]
    fn instance_kinds_name_their_face_and_session() {
        assert_eq!(
            via_of("gateway-session:nightly-3"),
            ("gateway", Some("nightly-3"))
        );
        assert_eq!(via_of("gateway"), ("gateway", None));
        assert_eq!(via_of("cli"), ("cli", None));
    }

    /// Reserves one request for `inst`, then logs a cache hit for it.
    fn reserve_and_hit(l: &Ledger, k: &ApiKey, inst: &str, at: i64) {
        let granted = l
            .reserve(&ReserveRequest {
                instance_id: inst,
                key_id: &k.id(),
                kind: crate::dispatch::Kind::Chat,
                model: None,
                now: from_millis(at),
            })
            .unwrap();
        assert!(matches!(granted, ReserveOutcome::Granted(_)));
        l.log_cached(inst, None, "chat", None, from_millis(at + 1))
            .unwrap();
    }

    #[test]
    fn every_row_records_the_face_of_its_instance_after_the_instance_ends() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        let k = ApiKey::parse(&format!("sk-or-v1-{}", "07".repeat(32))).unwrap(); // fake test key
        l.upsert_key(&k, KeySource::Env, None, None, from_millis(T0))
            .unwrap();
        let session = l
            .register_instance("gateway-session:s1", 1, from_millis(T0))
            .unwrap();
        let cli = l.register_instance("cli", 2, from_millis(T0)).unwrap();
        reserve_and_hit(&l, &k, &session, T0);
        reserve_and_hit(&l, &k, &cli, T0 + 10);
        // The instances end; their rows keep saying who sent them.
        l.deregister_instance(&session).unwrap();
        l.deregister_instance(&cli).unwrap();
        reserve_and_hit(&l, &k, "gone", T0 + 20);
        let rows = l.request_log(&LogFilter::default()).unwrap();
        let seen: Vec<(Option<&str>, Option<&str>, bool)> = rows
            .iter()
            .rev()
            .map(|r| (r.via.as_deref(), r.session.as_deref(), r.cached))
            .collect();
        assert_eq!(
            seen,
            [
                (Some("gateway"), Some("s1"), false),
                (Some("gateway"), Some("s1"), true),
                (Some("cli"), None, false),
                (Some("cli"), None, true),
                (None, None, false),
                (None, None, true),
            ]
        );
        assert_eq!(l.inconsistencies().unwrap(), vec![]);
    }

    #[test]
    fn the_upgrade_labels_the_rows_of_instances_still_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite3");
        {
            // A ledger of the previous schema: one row of a live app, one of an ended CLI run.
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            super::super::db::migrations()
                .to_version(&mut conn, 8)
                .unwrap();
            conn.execute_batch(
                "INSERT INTO instances (id, pid, kind, started_ms, heartbeat_ms) VALUES ('live', 1, 'app', 0, 0);
                 INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind)
                   VALUES ('live', 'k', 'k', '2027-01-15', 1, 'chat'), ('ended', 'k', 'k', '2027-01-15', 2, 'chat');",
            )
            .unwrap();
        }
        let l = Ledger::open(&path, CapDefaults::default()).unwrap();
        let rows = l.request_log(&LogFilter::default()).unwrap();
        let via: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|r| (r.instance_id.as_str(), r.via.as_deref()))
            .collect();
        assert_eq!(via, [("ended", None), ("live", Some("app"))]);
    }

    /// Time ranges are ranges of the primary key from `request_hours`: rows written out of
    /// time order (a clock that stepped back), across hours and days, and after the newest row
    /// was released, are all found, newest first.
    #[test]
    fn reads_by_time_find_rows_written_out_of_time_order() {
        use crate::ledger::{Completion, RequestState};
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("l.sqlite3"), CapDefaults::default()).unwrap();
        let k = ApiKey::parse(&format!("sk-or-v1-{}", "08".repeat(32))).unwrap(); // fake test key
        l.upsert_key(&k, KeySource::Env, None, None, from_millis(T0))
            .unwrap();
        let inst = l.register_instance("cli", 1, from_millis(T0)).unwrap();
        let hour = 3_600_000;
        let reserve = |at: i64| match l
            .reserve(&ReserveRequest {
                instance_id: &inst,
                key_id: &k.id(),
                kind: crate::dispatch::Kind::Chat,
                model: None,
                now: from_millis(at),
            })
            .unwrap()
        {
            ReserveOutcome::Granted(r) => r,
            other => panic!("granted, not {other:?}"),
        };
        // T0 is 08:00 UTC. Written in this order: 08:00, 10:00, 14:00 the next day, then
        // 09:00 (the clock stepped back), then 15:00 the next day, released.
        let times = [T0, T0 + 2 * hour, T0 + 30 * hour, T0 + hour];
        for (i, at) in times.into_iter().enumerate() {
            let r = reserve(at);
            let c = if i == 1 {
                Completion::failed("rate_limited", Some(429), None)
            } else {
                Completion::ok()
            };
            l.complete(&r, &c, from_millis(at + 10)).unwrap();
        }
        l.release(&reserve(T0 + 31 * hour)).unwrap();
        let started = |rows: Vec<super::RequestRow>| -> Vec<i64> {
            rows.iter().map(|r| r.at.timestamp_millis()).collect()
        };
        assert_eq!(
            started(l.request_log(&LogFilter::default()).unwrap()),
            [T0 + 30 * hour, T0 + 2 * hour, T0 + hour, T0]
        );
        let newest = |limit, since: Option<i64>| {
            started(
                l.request_log(&LogFilter {
                    limit,
                    since: since.map(from_millis),
                    ..LogFilter::default()
                })
                .unwrap(),
            )
        };
        assert_eq!(newest(2, None), [T0 + 30 * hour, T0 + 2 * hour]);
        assert_eq!(
            newest(0, Some(T0 + hour)),
            [T0 + 30 * hour, T0 + 2 * hour, T0 + hour]
        );
        // Day one, at 11:00: the first request of the day is the 08:00 one, and of the last
        // three completed, one failed.
        let day_one = from_millis(T0 + 3 * hour);
        let firsts = l.first_requests_today(day_one).unwrap();
        assert_eq!(firsts.len(), 1);
        assert_eq!(firsts[0].2, from_millis(T0));
        assert_eq!(l.recent_failures(&k.id(), 3, day_one).unwrap(), (3, 1));
        assert_eq!(l.recent_failures(&k.id(), 1, day_one).unwrap(), (1, 1));
        // (Rows from the day's midnight on: day one's three, and the next day's.)
        let aggs = l.aggregates(1, super::GroupBy::Key, day_one).unwrap();
        assert_eq!((aggs.len(), aggs[0].requests, aggs[0].successes), (2, 3, 2));
        let rows = l.request_log(&LogFilter::default()).unwrap();
        assert!(rows.iter().all(|r| r.state != RequestState::Reserved));
        assert_eq!(l.inconsistencies().unwrap(), vec![]);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}

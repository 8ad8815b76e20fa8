//! The ledger's reservation rules on both backends (SQLite and the PostgreSQL team ledger),
//! one suite: each test runs for [`BOTH`]. Also what only the team ledger has: its schema
//! version and migrations, and exit 7 when it cannot be reached.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::pg::{Options, SCHEMA_VERSION, Target};
use keywheel_core::ledger::{
    CapDefaults, Completion, KeyUpdate, Ledger, ReserveOutcome, ReserveRequest,
};

use crate::pg_support::{BOTH, Backend, TestDb};
use crate::{api_key, t0};

fn ms(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::milliseconds(n)
}

fn caps(daily: u32, minute: u32) -> CapDefaults {
    CapDefaults {
        daily,
        minute,
        ..CapDefaults::default()
    }
}

/// One chat reservation for key `k` at `at`; what the ledger answered.
pub(crate) fn reserve(l: &Ledger, inst: &str, k: &KeyId, at: DateTime<Utc>) -> ReserveOutcome {
    l.reserve(&ReserveRequest {
        instance_id: inst,
        key_id: k,
        kind: keywheel_core::dispatch::Kind::Chat,
        model: None,
        now: at,
    })
    .unwrap()
}

fn granted(o: &ReserveOutcome) -> bool {
    matches!(o, ReserveOutcome::Granted(_))
}

#[test]
fn the_daily_cap_of_a_key_is_exact_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(3, 100));
        let l = &o.ledger;
        let k = api_key(1);
        l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
        let inst = l.register_instance("cli", 1, t0()).unwrap();
        for i in 0..3 {
            let got = reserve(l, &inst, &k.id(), ms(i * 1000));
            let ReserveOutcome::Granted(r) = got else {
                panic!("{b:?}: request {i} is granted, got {got:?}");
            };
            l.complete(&r, &Completion::ok(), ms(i * 1000 + 10))
                .unwrap();
        }
        assert!(
            matches!(
                reserve(l, &inst, &k.id(), ms(5000)),
                ReserveOutcome::KeySpent { .. }
            ),
            "{b:?}: the 4th is refused"
        );
        assert_eq!(l.requests_today(&k.id(), ms(6000)).unwrap(), 3, "{b:?}");
        assert_eq!(l.inconsistencies().unwrap(), vec![], "{b:?}");
        let usage = l.daily_usage(1, ms(6000)).unwrap();
        assert_eq!((usage[0].requests, usage[0].successes), (3, 3), "{b:?}");
        // The next UTC day starts from zero.
        assert!(
            granted(&reserve(
                l,
                &inst,
                &k.id(),
                t0() + chrono::Duration::days(1)
            )),
            "{b:?}"
        );
    }
}

#[test]
fn a_released_request_leaves_the_window_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(100, 1));
        let l = &o.ledger;
        let k = api_key(2);
        l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
        let inst = l.register_instance("cli", 1, t0()).unwrap();
        let ReserveOutcome::Granted(r) = reserve(l, &inst, &k.id(), ms(0)) else {
            panic!("{b:?}: the first request is granted");
        };
        assert_eq!(
            reserve(l, &inst, &k.id(), ms(1)),
            ReserveOutcome::Wait { until: ms(60_000) },
            "{b:?}"
        );
        l.release(&r).unwrap();
        assert!(granted(&reserve(l, &inst, &k.id(), ms(2))), "{b:?}");
        assert_eq!(l.inconsistencies().unwrap(), vec![], "{b:?}");
    }
}

#[test]
fn an_account_shares_its_caps_across_its_keys_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(100, 5));
        let l = &o.ledger;
        let (a, c) = (api_key(3), api_key(4));
        for k in [&a, &c] {
            l.upsert_key(k, KeySource::Env, None, Some("acct"), t0())
                .unwrap();
        }
        l.set_account_caps("acct", Some(4), Some(3)).unwrap();
        let inst = l.register_instance("cli", 1, t0()).unwrap();
        for (i, k) in [&a, &c, &a].into_iter().enumerate() {
            assert!(granted(&reserve(l, &inst, &k.id(), ms(i as i64))), "{b:?}");
        }
        // Three in the account's minute window: c waits for a's first request to leave it.
        assert_eq!(
            reserve(l, &inst, &c.id(), ms(10)),
            ReserveOutcome::Wait { until: ms(60_000) },
            "{b:?}"
        );
        assert!(granted(&reserve(l, &inst, &c.id(), ms(60_000))), "{b:?}");
        // Four today: the account's daily cap.
        assert!(
            matches!(reserve(l, &inst, &a.id(), ms(200_000)), ReserveOutcome::AccountSpent { ref account, .. } if account == "acct"),
            "{b:?}"
        );
    }
}

#[test]
fn disabled_and_unknown_keys_are_refused_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(10, 10));
        let l = &o.ledger;
        let k = api_key(5);
        l.upsert_key(&k, KeySource::Keychain, Some("work"), None, t0())
            .unwrap();
        l.update_key(
            &k.id(),
            &KeyUpdate {
                enabled: Some(false),
                ..KeyUpdate::default()
            },
        )
        .unwrap();
        assert!(
            matches!(reserve(l, "i", &k.id(), t0()), ReserveOutcome::Unusable(_)),
            "{b:?}"
        );
        let keys = l.keys().unwrap();
        assert_eq!(
            (keys.len(), keys[0].label.as_str(), keys[0].enabled),
            (1, "work", false),
            "{b:?}"
        );
        let unknown = l.reserve(&ReserveRequest {
            instance_id: "i",
            key_id: &api_key(6).id(),
            kind: keywheel_core::dispatch::Kind::Chat,
            model: None,
            now: t0(),
        });
        assert!(
            unknown.unwrap_err().to_string().contains("not registered"),
            "{b:?}"
        );
    }
}

#[test]
fn instances_register_beat_and_expire_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(10, 10));
        let l = &o.ledger;
        let ttl = chrono::Duration::seconds(20);
        let dead = l.register_instance("cli", 1, t0()).unwrap();
        let live = l.register_instance("cli", 2, t0()).unwrap();
        assert!(l.heartbeat(&live, ms(15_000)).unwrap(), "{b:?}");
        assert_eq!(l.expire_instances(ms(25_000), ttl).unwrap(), 1, "{b:?}");
        let alive: Vec<String> = l
            .live_instances(ms(25_000), ttl)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(alive, [live], "{b:?}");
        assert!(
            !l.heartbeat(&dead, ms(26_000)).unwrap(),
            "{b:?}: an expired instance must re-register"
        );
    }
}

#[test]
fn the_team_ledger_is_at_the_same_schema_version_as_the_file() {
    let db = TestDb::new();
    let l = db.open(CapDefaults::default());
    let file = Backend::Sqlite.open(CapDefaults::default());
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(file.ledger.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(l.backend_name(), "postgresql");
    // Migrating again does nothing.
    let again = l.pg().unwrap().migrate().unwrap();
    assert_eq!((again.from, again.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    assert_eq!(
        db.query("SELECT count(*) FROM keywheel_schema"),
        [SCHEMA_VERSION.to_string()]
    );
}

/// Migration 11 on both backends: `keywheel_imports` is part of the schema. A SQLite file at
/// version 10 gains the table when it opens; a team ledger from before 11 whose first import
/// created the table (the old way) keeps it and its rows, and its `via` trigger now runs only
/// for rows that do not name their `via`.
#[test]
fn migration_11_makes_keywheel_imports_part_of_the_schema_on_both_backends() {
    const { assert!(SCHEMA_VERSION >= 11) };
    // SQLite: a file at version 10.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        keywheel_core::ledger::db::migrations()
            .to_version(&mut conn, 10)
            .unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'keywheel_imports'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "version 10 has no keywheel_imports");
    }
    let file = Ledger::open(&path, CapDefaults::default()).unwrap();
    assert_eq!(file.schema_version().unwrap(), SCHEMA_VERSION);
    let cols: Vec<String> = {
        let conn = file.conn().unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('keywheel_imports') ORDER BY cid")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let expected = [
        "source",
        "key_id",
        "day",
        "requests",
        "successes",
        "errors",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "cost",
    ];
    assert_eq!(cols, expected);

    // PostgreSQL: a ledger at 10 on which an import created the table and a row (what
    // migration 12 adds undone too).
    let db = TestDb::new();
    let l = db.open(CapDefaults::default());
    let pg_cols = db.query(
        "SELECT column_name FROM information_schema.columns
         WHERE table_name = 'keywheel_imports' ORDER BY ordinal_position",
    );
    assert_eq!(pg_cols, expected, "the same table on both backends");
    drop(l);
    db.query(
        "DROP TABLE keywheel_imports;
         DELETE FROM keywheel_schema WHERE version >= 11;
         DROP FUNCTION keywheel_reserve;
         ALTER TABLE requests DROP COLUMN token;
         DROP TRIGGER requests_via ON requests;
         CREATE TRIGGER requests_via BEFORE INSERT ON requests
           FOR EACH ROW EXECUTE FUNCTION keywheel_request_via();
         CREATE TABLE keywheel_imports (
           source TEXT NOT NULL, key_id TEXT NOT NULL, day TEXT NOT NULL,
           requests BIGINT NOT NULL, successes BIGINT NOT NULL, errors BIGINT NOT NULL,
           prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
           reasoning_tokens BIGINT NOT NULL, cost DOUBLE PRECISION NOT NULL,
           PRIMARY KEY (source, key_id, day));
         INSERT INTO keywheel_imports VALUES ('laptop', 'k', '2026-11-26', 3, 3, 0, 0, 0, 0, 0);",
    );
    let l = db.open(CapDefaults::default());
    assert_eq!(l.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        db.query("SELECT source || ' ' || requests FROM keywheel_imports"),
        ["laptop 3"],
        "the rows an earlier import remembered stay"
    );
    let when =
        db.query("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'requests_via'");
    assert!(when[0].contains("WHEN ((new.via IS NULL))"), "{when:?}");
    // Rows that name no via still get their instance's kind; a reservation names it itself.
    let k = api_key(1);
    l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
    let inst = l.register_instance("gateway", 1, t0()).unwrap();
    assert!(matches!(
        reserve(&l, &inst, &k.id(), t0()),
        ReserveOutcome::Granted(_)
    ));
    db.query(&format!(
        "INSERT INTO requests (instance_id, key_id, account, day, started_ms, kind)
         VALUES ('{inst}', 'k', 'k', '2026-11-26', 1, 'chat')"
    ));
    assert_eq!(
        db.query("SELECT via FROM requests ORDER BY id"),
        ["gateway", "gateway"]
    );
}

#[test]
fn an_unreachable_team_ledger_is_exit_7_naming_host_and_port_without_the_password() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = Target::parse(&format!(
        "postgres://kw:hunter2secret@127.0.0.1:{port}/team"
    ))
    .unwrap();
    let opts = Options {
        connect_timeout: StdDuration::from_secs(2),
        ..crate::pg_support::test_options()
    };
    let started = Instant::now();
    let err = Ledger::open_postgres(&target, &opts, CapDefaults::default()).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.exit_code(), 7, "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2secret"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2secret"));
    // Not a performance bound: it gives up instead of hanging.
    assert!(started.elapsed() < StdDuration::from_secs(60));
}

#[test]
fn rotation_moves_past_a_busy_current_key_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(50, 1000));
        let l = &o.ledger;
        let keys: Vec<KeyId> = (10..13).map(|n| api_key(n).id()).collect();
        for n in 10..13 {
            l.upsert_key(&api_key(n), KeySource::Env, None, None, t0())
                .unwrap();
        }
        let first = l.register_instance("cli", 1, t0()).unwrap();
        let a = l.adopt_at_start(&first, &keys, 2, t0()).unwrap();
        let current = a.key.clone().expect("a key");
        for i in 0..3 {
            assert!(granted(&reserve(l, &first, &current, ms(i))), "{b:?}");
        }
        // Three today, more than the threshold of 2: the next instance moves the pool on.
        let second = l.register_instance("cli", 2, ms(10)).unwrap();
        let moved = l.adopt_at_start(&second, &keys, 2, ms(10)).unwrap();
        assert!(moved.rotated, "{b:?}: {moved:?}");
        assert_ne!(moved.key.as_ref(), Some(&current), "{b:?}");
        assert_eq!(l.current_key().unwrap(), moved.key, "{b:?}");
    }
}

#[test]
fn a_machine_without_the_current_key_uses_its_own_and_leaves_the_team_key() {
    let db = TestDb::new();
    let l = db.open(caps(50, 1000));
    for n in 20..23 {
        l.upsert_key(&api_key(n), KeySource::Env, None, None, t0())
            .unwrap();
    }
    let all: Vec<KeyId> = (20..23).map(|n| api_key(n).id()).collect();
    let a = l.register_instance("cli", 1, t0()).unwrap();
    let team_key = l.adopt_at_start(&a, &all, 40, t0()).unwrap().key.unwrap();
    // Machine B holds every key but the team's current one.
    let own: Vec<KeyId> = all.iter().filter(|k| **k != team_key).cloned().collect();
    let b = l.register_instance("cli", 2, ms(5)).unwrap();
    let got = l.adopt_at_start(&b, &own, 40, ms(5)).unwrap();
    let picked = got.key.expect("one of its own keys");
    assert!(own.contains(&picked), "{picked}");
    assert!(
        !got.rotated,
        "the team's key still serves the machines that hold it"
    );
    assert_eq!(l.current_key().unwrap(), Some(team_key.clone()));
    // Once the team's key cannot serve, the next start on B moves the pool to B's pick.
    l.update_key(
        &team_key,
        &KeyUpdate {
            enabled: Some(false),
            ..KeyUpdate::default()
        },
    )
    .unwrap();
    let c = l.register_instance("cli", 3, ms(10)).unwrap();
    let moved = l.adopt_at_start(&c, &own, 40, ms(10)).unwrap();
    assert!(moved.rotated);
    assert_eq!(l.current_key().unwrap(), moved.key);
}

#[test]
fn old_rows_are_pruned_once_an_hour_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(50, 1000));
        let l = &o.ledger;
        let k = api_key(30);
        let long_ago = t0() - chrono::Duration::days(100);
        l.upsert_key(&k, KeySource::Env, None, None, long_ago)
            .unwrap();
        let inst = l.register_instance("cli", 1, long_ago).unwrap();
        assert!(granted(&reserve(l, &inst, &k.id(), long_ago)), "{b:?}");
        assert!(granted(&reserve(l, &inst, &k.id(), t0())), "{b:?}");
        let pruned = l
            .prune_at_start(t0(), 30)
            .unwrap()
            .expect("the first start prunes");
        assert_eq!(pruned.requests, 1, "{b:?}: {pruned:?}");
        assert!(
            l.prune_at_start(ms(60_000), 30).unwrap().is_none(),
            "{b:?}: once an hour"
        );
        // The day totals stay; the consistency check starts after the cut.
        assert_eq!(l.inconsistencies().unwrap(), vec![], "{b:?}");
    }
}

#[test]
fn the_request_log_and_its_aggregates_read_the_same_on_both_backends() {
    use keywheel_core::ledger::request_log::{GroupBy, LogFilter, StatusClass};
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = &o.ledger;
        let k = api_key(1);
        l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
        let inst = l.register_instance("cli", 1, t0()).unwrap();
        let ReserveOutcome::Granted(r) = reserve(l, &inst, &k.id(), ms(0)) else {
            panic!("{b:?}: granted");
        };
        l.complete(&r, &Completion::ok(), ms(40)).unwrap();
        let ReserveOutcome::Granted(r) = reserve(l, &inst, &k.id(), ms(100)) else {
            panic!("{b:?}: granted");
        };
        l.release(&r).unwrap();
        l.log_cached(&inst, Some(&k.id()), "chat", Some("m"), ms(200))
            .unwrap();
        let rows = l.request_log(&LogFilter::default()).unwrap();
        let seen: Vec<(&str, Option<&str>, bool)> = rows
            .iter()
            .map(|r| (r.outcome(), r.via.as_deref(), r.cached))
            .collect();
        assert_eq!(
            seen,
            [("cached", Some("cli"), true), ("ok", Some("cli"), false)],
            "{b:?}: newest first, the released row gone"
        );
        let only_ok = l
            .request_log(&LogFilter {
                status_class: Some(StatusClass::Ok),
                limit: 1,
                ..LogFilter::default()
            })
            .unwrap();
        assert_eq!(only_ok.len(), 1, "{b:?}");
        let aggs = l.aggregates(1, GroupBy::Key, ms(1000)).unwrap();
        assert_eq!(aggs.len(), 1, "{b:?}: {aggs:?}");
        assert_eq!(
            (aggs[0].requests, aggs[0].successes, aggs[0].cache_hits),
            (1, 1, 1),
            "{b:?}"
        );
        assert_eq!(l.pruned_before_day().unwrap(), None, "{b:?}");
    }
}

#[test]
fn alerts_and_notices_fire_once_per_day_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = &o.ledger;
        assert!(
            l.fire_alert("near_cap", "k1", "80 %", ms(0)).unwrap(),
            "{b:?}"
        );
        assert!(
            !l.fire_alert("near_cap", "k1", "80 %", ms(10)).unwrap(),
            "{b:?}"
        );
        assert!(
            l.fire_alert("near_cap", "k2", "80 %", ms(20)).unwrap(),
            "{b:?}"
        );
        let next_day = t0() + chrono::Duration::days(1);
        assert!(
            l.fire_alert("near_cap", "k1", "80 %", next_day).unwrap(),
            "{b:?}"
        );
        let subjects: Vec<String> = l
            .alerts(2, next_day)
            .unwrap()
            .into_iter()
            .map(|a| a.subject)
            .collect();
        assert_eq!(subjects, ["k1", "k2", "k1"], "{b:?}: newest first");
        assert!(l.notice_once("grouped", "said", ms(0)).unwrap(), "{b:?}");
        assert!(!l.notice_once("grouped", "said", ms(1)).unwrap(), "{b:?}");
    }
}

#[test]
fn an_account_observation_raises_the_count_and_caps_on_both_backends() {
    use keywheel_core::ledger::{AccountObservation, Credits};
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = &o.ledger;
        let k = api_key(1);
        l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
        let inst = l.register_instance("cli", 1, t0()).unwrap();
        for i in 0..3 {
            assert!(granted(&reserve(l, &inst, &k.id(), ms(i))), "{b:?}");
        }
        let seen = l
            .observe_account(
                &k.id(),
                &AccountObservation {
                    tier_cap: Some(12),
                    used: Some(10),
                    credits: Some(Credits::Paid),
                },
                ms(10),
            )
            .unwrap();
        assert_eq!(seen.extra, 7, "{b:?}: OpenRouter counted 10, the ledger 3");
        assert_eq!(l.account_credits(&k.id(), ms(11)).unwrap(), Credits::Paid);
        // 10 of the tier's 12 are spent: two more, then the account is full.
        assert!(granted(&reserve(l, &inst, &k.id(), ms(20))), "{b:?}");
        assert!(granted(&reserve(l, &inst, &k.id(), ms(21))), "{b:?}");
        assert!(!granted(&reserve(l, &inst, &k.id(), ms(22))), "{b:?}");
        let (_, news) = l.refuse_paid_today(&k.id(), ms(30)).unwrap();
        assert!(news, "{b:?}");
        assert!(!l.refuse_paid_today(&k.id(), ms(31)).unwrap().1, "{b:?}");
        assert_eq!(
            l.account_credits(&k.id(), ms(32)).unwrap(),
            Credits::FreeOnly,
            "{b:?}"
        );
        let every = chrono::Duration::minutes(10);
        assert!(l.claim_reconcile(ms(0), every, false).unwrap(), "{b:?}");
        assert!(!l.claim_reconcile(ms(1000), every, false).unwrap(), "{b:?}");
        assert!(l.claim_reconcile(ms(1000), every, true).unwrap(), "{b:?}");
        // Two keys of one owner are grouped into one account.
        let k2 = api_key(2);
        l.upsert_key(&k2, KeySource::Env, None, None, t0()).unwrap();
        assert_eq!(l.observe_owner(&k.id(), "user-1").unwrap(), None, "{b:?}");
        let g = l
            .observe_owner(&k2.id(), "user-1")
            .unwrap()
            .expect("grouped");
        assert_eq!(g.keys.len(), 2, "{b:?}");
    }
}

#[test]
fn the_catalogue_and_model_skips_are_shared_and_the_response_cache_is_not_by_default() {
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = &o.ledger;
        assert_eq!(l.models_fetched().unwrap(), None, "{b:?}");
        l.models_store("{\"data\":[]}", ms(0)).unwrap();
        assert_eq!(l.models_fetched().unwrap(), Some(ms(0)), "{b:?}");
        assert_eq!(
            l.models_cached(chrono::Duration::hours(1), ms(10))
                .unwrap()
                .as_deref(),
            Some("{\"data\":[]}"),
            "{b:?}"
        );
        l.skip_model_today("m:free", "404", ms(0)).unwrap();
        l.skip_model_today("m:free", "404 again", ms(1)).unwrap();
        assert_eq!(l.skipped_models(ms(2)).unwrap(), ["m:free"], "{b:?}");
        l.cache_put(
            "h",
            "chat",
            Some("m"),
            "body",
            chrono::Duration::hours(1),
            ms(0),
        )
        .unwrap();
        let hit = l.cache_get("h", ms(1)).unwrap();
        match b {
            Backend::Sqlite => assert_eq!(hit, Some(("body".into(), Some("m".into())))),
            // team_cache is off by default: a team ledger caches no responses.
            Backend::Postgres => assert_eq!(hit, None),
        }
    }
}

#[test]
fn ocr_jobs_are_claimed_once_and_found_done_on_both_backends() {
    use keywheel_core::ledger::jobs::{JobAnswer, JobKey, JobStatus};
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = &o.ledger;
        let key = JobKey {
            content_hash: "abc",
            tile_index: 0,
            tiles: 2,
            chain: "m",
        };
        let a = l.job_upsert(&key, "a.png", 10, 20, ms(0)).unwrap();
        let again = l.job_upsert(&key, "b.png", 30, 40, ms(1)).unwrap();
        assert_eq!(a.id, again.id, "{b:?}");
        assert_eq!(
            (again.file.as_str(), again.width),
            ("b.png", Some(10)),
            "{b:?}"
        );
        let me = l
            .register_instance("cli", std::process::id(), ms(0))
            .unwrap();
        let other = l
            .register_instance("cli", std::process::id(), ms(0))
            .unwrap();
        let mine = l.job_claim(a.id, &me, std::process::id(), ms(2)).unwrap();
        assert!(mine.is_ok(), "{b:?}");
        let theirs = l
            .job_claim(a.id, &other, std::process::id(), ms(3))
            .unwrap();
        assert!(theirs.is_err(), "{b:?}: a live owner keeps it");
        l.job_unfinished(
            a.id,
            JobStatus::Waiting,
            "quota",
            "wait",
            Some(ms(9)),
            ms(4),
        )
        .unwrap();
        assert!(
            l.job_claim(a.id, &other, 1, ms(5)).unwrap().is_ok(),
            "{b:?}"
        );
        l.job_done(
            a.id,
            &JobAnswer {
                result: "text",
                model: Some("m"),
                ..JobAnswer::default()
            },
            ms(6),
        )
        .unwrap();
        let done = l.job_find_done("abc", 0, 2).unwrap().expect("done");
        assert_eq!(
            (done.status, done.result.as_deref(), done.attempts),
            (JobStatus::Done, Some("text"), 2),
            "{b:?}"
        );
        assert!(l.job_claim(a.id, &me, 1, ms(7)).unwrap().is_err(), "{b:?}");
        assert_eq!(l.job(a.id).unwrap().map(|j| j.id), Some(a.id), "{b:?}");
        assert_eq!(l.job_counts().unwrap(), [(JobStatus::Done, 1)], "{b:?}");
    }
}

#[test]
fn the_team_ledgers_change_stamp_moves_after_a_write_and_its_watcher_wakes() {
    let db = TestDb::new();
    let l = db.open(caps(100, 100));
    let pg = l.pg().expect("a team ledger");
    let before = pg.change_stamp().unwrap();
    l.fire_alert("near_cap", "k1", "80 %", ms(0)).unwrap();
    assert_ne!(
        pg.change_stamp().unwrap(),
        before,
        "a commit moves the stamp"
    );
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let mut watcher = pg.changes(StdDuration::from_millis(5));
    std::thread::spawn(move || {
        for () in watcher.by_ref() {
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + StdDuration::from_secs(60);
    let mut n = 0;
    loop {
        n += 1;
        l.fire_alert("near_cap", &format!("k{n}"), "80 %", ms(n))
            .unwrap();
        if rx.recv_timeout(StdDuration::from_millis(20)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the watcher never woke");
    }
}

#[test]
fn ledger_changes_wake_after_a_commit_on_both_backends() {
    for b in BOTH {
        let o = b.open(caps(100, 100));
        let l = o.ledger.clone();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let mut changes = l.changes(StdDuration::from_millis(5));
        std::thread::spawn(move || {
            for () in changes.by_ref() {
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + StdDuration::from_secs(60);
        let mut n = 0;
        loop {
            n += 1;
            l.fire_alert("near_cap", &format!("k{n}"), "80 %", ms(n))
                .unwrap();
            if rx.recv_timeout(StdDuration::from_millis(20)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "{b:?}: no change seen");
        }
    }
}

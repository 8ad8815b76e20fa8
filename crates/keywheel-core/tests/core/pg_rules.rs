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

fn reserve(l: &Ledger, inst: &str, k: &KeyId, at: DateTime<Utc>) -> ReserveOutcome {
    l.reserve(&ReserveRequest {
        instance_id: inst,
        key_id: k,
        kind: "chat",
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
            kind: "chat",
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

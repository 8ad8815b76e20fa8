//! The team ledger's fast path (ledger/pg/reserve.rs, migration 12): a reservation in one
//! statement, granted only when every rule certainly allows it; everything else falls back to
//! the locked transaction. A fast-path row carries a token (`requests.token`), a locked one
//! none, so the tests see which path granted.
//!
//! - the first request of a key's day (no day row yet) goes through the locked transaction,
//!   the next ones through the fast path; a refusal is the locked transaction's, with its words;
//! - many reservers at once on the keys of one account: with the account's daily cap binding,
//!   exactly it is granted and no key passes its own cap; with it lifted, every key gets
//!   exactly its own daily cap; counters == rows;
//! - the same for the account's per-minute window (20 a minute);
//! - in the first minute of a day the fast path counts yesterday's ring.
//! - a ring that reached 64 times loses those that left the window; the window stays exact.
//!
//! A lost answer of the fast path is `pg_faults::a_fast_reservation_…`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::{CapDefaults, Completion, KeyUpdate, Ledger, ReserveOutcome};

use crate::pg_rules::reserve;
use crate::pg_support::TestDb;
use crate::{api_key, t0};

fn caps(daily: u32, minute: u32) -> CapDefaults {
    CapDefaults {
        daily,
        minute,
        tier_applies: false,
    }
}

fn granted(o: ReserveOutcome) -> keywheel_core::ledger::Reservation {
    match o {
        ReserveOutcome::Granted(r) => r,
        other => panic!("expected a grant, got {other:?}"),
    }
}

/// Whether the request row `id` was granted by the fast path (it carries a token).
fn fast(db: &TestDb, id: i64) -> bool {
    db.query(&format!(
        "SELECT token IS NOT NULL FROM requests WHERE id = {id}"
    )) == ["t"]
}

fn one(db: &TestDb, sql: &str) -> i64 {
    db.query(sql).concat().parse().unwrap()
}

#[test]
fn the_first_request_of_a_keys_day_is_locked_the_next_are_fast_and_refusals_are_locked() {
    let db = TestDb::new();
    let l = db.open(caps(3, 100));
    let k = api_key(1);
    l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
    let inst = l.register_instance("cli", 1, t0()).unwrap();
    let first = granted(reserve(&l, &inst, &k.id(), t0()));
    assert!(
        !fast(&db, first.id),
        "no day row yet: the locked transaction grants"
    );
    let second = granted(reserve(&l, &inst, &k.id(), t0()));
    assert!(
        fast(&db, second.id),
        "the day row exists: the fast path grants"
    );
    assert_eq!(
        (second.account.as_str(), second.day.as_str()),
        (first.account.as_str(), first.day.as_str())
    );
    l.complete(&second, &Completion::ok(), t0()).unwrap();
    // The day row removed (as a prune or an import could leave a key): locked again.
    db.query("DELETE FROM requests; DELETE FROM usage_daily; SELECT 1");
    let again = granted(reserve(&l, &inst, &k.id(), t0()));
    assert!(
        !fast(&db, again.id),
        "the day row is missing: the locked transaction grants"
    );
    granted(reserve(&l, &inst, &k.id(), t0()));
    granted(reserve(&l, &inst, &k.id(), t0()));
    // The cap: the locked transaction refuses, in its words.
    assert!(matches!(
        reserve(&l, &inst, &k.id(), t0()),
        ReserveOutcome::KeySpent { .. }
    ));
    // A disabled key: the fast path does not grant, the locked transaction says why.
    let k2 = api_key(2);
    l.upsert_key(&k2, KeySource::Env, None, None, t0()).unwrap();
    granted(reserve(&l, &inst, &k2.id(), t0()));
    l.update_key(
        &k2.id(),
        &KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        reserve(&l, &inst, &k2.id(), t0()),
        ReserveOutcome::Unusable(_)
    ));
    assert_eq!(one(&db, "SELECT count(*) FROM requests"), 4);
    assert_eq!(one(&db, "SELECT SUM(requests) FROM usage_daily"), 4);
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

/// `threads` reservers, each on its own ledger handle (its own connections), on `keys` in
/// turn, at `at` until each is refused; the grants per key.
fn race(
    db: &TestDb,
    c: CapDefaults,
    keys: &[KeyId],
    threads: usize,
    at: DateTime<Utc>,
) -> Vec<u64> {
    let counts: Arc<Vec<AtomicU64>> = Arc::new(keys.iter().map(|_| AtomicU64::new(0)).collect());
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    std::thread::scope(|s| {
        for t in 0..threads {
            let (counts, barrier) = (counts.clone(), barrier.clone());
            let keys = keys.to_vec();
            s.spawn(move || {
                let l = db.open(c);
                let inst = l.register_instance("cli", t as u32 + 10, at).unwrap();
                let i = t % keys.len();
                barrier.wait();
                loop {
                    match reserve(&l, &inst, &keys[i], at) {
                        ReserveOutcome::Granted(_) => {
                            counts[i].fetch_add(1, Ordering::SeqCst);
                        }
                        ReserveOutcome::KeySpent { .. }
                        | ReserveOutcome::AccountSpent { .. }
                        | ReserveOutcome::Wait { .. } => break,
                        other => panic!("unexpected answer: {other:?}"),
                    }
                }
            });
        }
    });
    counts.iter().map(|c| c.load(Ordering::SeqCst)).collect()
}

/// Registers keys 1..=n in account "team" and reserves once on each (their day rows exist,
/// so the race runs on the fast path).
fn team(db: &TestDb, c: CapDefaults, n: u64, at: DateTime<Utc>) -> (Ledger, Vec<KeyId>) {
    let l = db.open(c);
    let ids: Vec<KeyId> = (1..=n)
        .map(|i| {
            let k = api_key(i);
            l.upsert_key(&k, KeySource::Env, None, Some("team"), at)
                .unwrap();
            k.id()
        })
        .collect();
    (l, ids)
}

fn warm(l: &Ledger, ids: &[KeyId], at: DateTime<Utc>) {
    let inst = l.register_instance("cli", 1, at).unwrap();
    for id in ids {
        granted(reserve(l, &inst, id, at));
    }
}

/// The rows `key` holds today.
fn rows(db: &TestDb, key: &KeyId) -> u64 {
    one(
        db,
        &format!("SELECT requests FROM usage_daily WHERE key_id = '{key}'"),
    ) as u64
}

#[test]
fn many_reservers_on_the_fast_path_never_over_allocate_with_key_and_account_caps_binding() {
    let db = TestDb::new();
    let c = caps(1_000_000, 1_000_000);
    let (l, ids) = team(&db, c, 4, t0());
    // Key 1 may take 10 a day, the others 40: 130 in all.
    let key_caps = [10u64, 40, 40, 40];
    for (id, cap) in ids.iter().zip(key_caps) {
        l.update_key(
            id,
            &KeyUpdate {
                daily_cap: Some(Some(cap as u32)),
                ..Default::default()
            },
        )
        .unwrap();
    }
    warm(&l, &ids, t0());
    // First the account's cap binds: it takes 60. Which keys reach their own cap before the
    // account is full depends on the scheduling, so only "never above it" is certain here.
    l.set_account_caps("team", Some(60), None).unwrap();
    let won = race(&db, c, &ids, 8, t0());
    assert_eq!(
        won.iter().sum::<u64>() + 4,
        60,
        "the account's cap, exactly: {won:?}"
    );
    for (id, cap) in ids.iter().zip(key_caps) {
        assert!(
            rows(&db, id) <= cap,
            "{id} stays within its cap of {cap}: {won:?}"
        );
    }
    assert_eq!(one(&db, "SELECT count(*) FROM requests"), 60);
    // Then, the account's cap lifted, every key's own cap binds: each gets exactly its cap.
    l.set_account_caps("team", Some(1_000), None).unwrap();
    let more = race(&db, c, &ids, 8, t0());
    for (id, cap) in ids.iter().zip(key_caps) {
        assert_eq!(
            rows(&db, id),
            cap,
            "{id}'s own cap, exactly: {won:?} then {more:?}"
        );
    }
    assert_eq!(one(&db, "SELECT count(*) FROM requests"), 130);
    assert_eq!(one(&db, "SELECT SUM(requests) FROM usage_daily"), 130);
    let fast = one(&db, "SELECT count(*) FROM requests WHERE token IS NOT NULL");
    assert!(fast >= 90, "the races ran on the fast path ({fast} of 130)");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn many_reservers_on_the_fast_path_keep_the_accounts_minute_window_exact() {
    let db = TestDb::new();
    let c = caps(1_000_000, 1_000_000);
    let (l, ids) = team(&db, c, 4, t0());
    l.set_account_caps("team", None, Some(20)).unwrap();
    // Warmed a minute before: the day rows exist, their rings' times have left the window.
    warm(&l, &ids, t0() - chrono::Duration::seconds(61));
    let won = race(&db, c, &ids, 8, t0());
    assert_eq!(won.iter().sum::<u64>(), 20, "20 a minute, exactly: {won:?}");
    let fast = one(&db, "SELECT count(*) FROM requests WHERE token IS NOT NULL");
    assert!(fast >= 10, "the race ran on the fast path ({fast} of 20)");
    assert_eq!(one(&db, "SELECT SUM(requests) FROM usage_daily"), 24);
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn in_the_first_minute_of_a_day_the_fast_path_counts_yesterdays_ring() {
    let db = TestDb::new();
    let l = db.open(caps(1000, 2));
    let k = api_key(1);
    let midnight = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    let at = |ms: i64| midnight + chrono::Duration::milliseconds(ms);
    l.upsert_key(&k, KeySource::Env, None, None, at(-20_000))
        .unwrap();
    let inst = l.register_instance("cli", 1, at(-20_000)).unwrap();
    granted(reserve(&l, &inst, &k.id(), at(-10_000)));
    let today = granted(reserve(&l, &inst, &k.id(), at(1_000)));
    assert!(!fast(&db, today.id), "today's first: locked");
    // Yesterday's request and today's fill the window of 2: wait for yesterday's to leave it.
    assert_eq!(
        reserve(&l, &inst, &k.id(), at(2_000)),
        ReserveOutcome::Wait { until: at(50_000) }
    );
    let later = granted(reserve(&l, &inst, &k.id(), at(50_000)));
    assert!(fast(&db, later.id), "the window has room: fast");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

#[test]
fn a_ring_of_64_times_loses_those_that_left_the_window_and_the_window_stays_exact() {
    let db = TestDb::new();
    let l = db.open(caps(1000, 1000));
    let k = api_key(1);
    l.upsert_key(&k, KeySource::Env, None, None, t0()).unwrap();
    let inst = l.register_instance("cli", 1, t0()).unwrap();
    let at = |s: i64| t0() + chrono::Duration::seconds(s);
    // One a second for 100 s: the ring reaches 64 times, then keeps those of the last minute.
    for s in 0..100 {
        granted(reserve(&l, &inst, &k.id(), at(s)));
    }
    let times = one(&db, "SELECT length(win) / 8 FROM usage_daily");
    assert!(times <= 65, "the ring was pruned ({times} times)");
    // In (t+40 s, t+100 s]: the 59 grants from t+41 s to t+99 s, exactly.
    l.update_key(
        &k.id(),
        &KeyUpdate {
            minute_cap: Some(Some(59)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        reserve(&l, &inst, &k.id(), at(100)),
        ReserveOutcome::Wait { until: at(101) }
    );
    l.update_key(
        &k.id(),
        &KeyUpdate {
            minute_cap: Some(Some(60)),
            ..Default::default()
        },
    )
    .unwrap();
    let r = granted(reserve(&l, &inst, &k.id(), at(100)));
    assert!(fast(&db, r.id), "granted on the fast path");
    assert_eq!(l.inconsistencies().unwrap(), vec![]);
}

//! An explicit `Ledger::prune` (retention) on both backends (one suite, `pg_support::BOTH`):
//! it runs whoever pruned last (unlike `prune_at_start`, at most once an hour), deletes the
//! request rows before the cut in batches, keeps the day totals, and moves
//! `pruned_before_day`, so the consistency check starts after the cut.

use chrono::{DateTime, Duration, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::{CapDefaults, Completion, Ledger, ReserveOutcome};

use crate::pg_support::{BOTH, table};
use crate::{api_key, t0};

/// One request, reserved and completed at `at`.
fn reserve(l: &Ledger, inst: &str, k: &KeyId, at: DateTime<Utc>) {
    match crate::pg_rules::reserve(l, inst, k, at) {
        ReserveOutcome::Granted(r) => l.complete(&r, &Completion::ok(), at).unwrap(),
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn one(l: &Ledger, sql: &str) -> String {
    table(l, sql)
        .first()
        .and_then(|r| r.first())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn an_explicit_prune_deletes_old_rows_and_keeps_day_totals_on_both_backends() {
    let caps = CapDefaults {
        daily: 1000,
        minute: 1000,
        ..CapDefaults::default()
    };
    for b in BOTH {
        let o = b.open(caps);
        let l = &o.ledger;
        let k = api_key(40);
        let long_ago = t0() - Duration::days(100);
        l.upsert_key(&k, KeySource::Env, None, None, long_ago)
            .unwrap();
        let inst = l.register_instance("cli", 1, long_ago).unwrap();
        for i in 0..3 {
            reserve(l, &inst, &k.id(), long_ago + Duration::seconds(i));
        }
        reserve(l, &inst, &k.id(), t0());
        // A start prunes once; an explicit prune right after still runs.
        assert!(l.prune_at_start(t0(), 120).unwrap().is_some(), "{b:?}");
        assert!(
            l.prune_at_start(t0(), 30).unwrap().is_none(),
            "{b:?}: once an hour"
        );
        let pruned = l.prune(t0(), 30).unwrap();
        assert_eq!(pruned.requests, 3, "{b:?}: {pruned:?}");
        assert!(pruned.batches >= 5, "{b:?}: one batch per table at least");
        assert_eq!(one(l, "SELECT count(*) FROM requests"), "1", "{b:?}");
        // The old day's total stays; the check starts after the cut.
        let day = keywheel_core::clock::day_key(long_ago);
        assert_eq!(
            one(
                l,
                &format!("SELECT requests FROM usage_daily WHERE day = '{day}'")
            ),
            "3",
            "{b:?}: the day total is kept"
        );
        assert_eq!(
            one(l, "SELECT pruned_before_day FROM pool_state"),
            keywheel_core::clock::day_key(keywheel_core::ledger::retention::cutoff(t0(), 30)),
            "{b:?}"
        );
        assert_eq!(l.inconsistencies().unwrap(), vec![], "{b:?}");
        // Nothing left to prune: a second explicit run deletes nothing.
        assert_eq!(l.prune(t0(), 30).unwrap().total(), 0, "{b:?}");
    }
}

//! Property test of the ledger's cap rules (docs/pool.md §1, §2, §5).
//!
//! Random interleavings of reservations on 2–4 keys in 1–2 accounts (plus ungrouped keys, which
//! are their own account) by 1–3 simulated instances, completions, heartbeats, instance expiry,
//! cap changes and enabling/disabling, with a clock that advances by random steps and often
//! crosses a UTC midnight. Each reservation's outcome is compared with a small reference model,
//! and after every step the SQLite file itself is checked: counters equal the request rows, no
//! key or account ever went past the daily cap in force when a request was granted, and no 60 s
//! window ever held more than the minute cap in force.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use keywheel_core::keys::{KeyId, KeySource};
use keywheel_core::ledger::reserve::Availability;
use keywheel_core::ledger::{
    CapDefaults, Completion, KeyUpdate, Ledger, Reservation, ReserveOutcome, ReserveRequest,
};
use proptest::prelude::*;

use crate::pg_support::{Backend, table};

use crate::api_key;
use proptest::test_runner::{TestCaseError, TestRunner};

const TTL_MS: i64 = 30_000;
const WINDOW_MS: i64 = 60_000;
const GROUPS: [&str; 2] = ["acct-0", "acct-1"];

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .expect("valid instant")
}

fn day_of(ms: i64) -> String {
    at_ms(ms).format("%Y-%m-%d").to_string()
}

fn midnight_after(ms: i64) -> DateTime<Utc> {
    let next = at_ms(ms).date_naive().succ_opt().expect("a next day");
    Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight"))
}

// ---------------------------------------------------------------------------------------------
// What is generated.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct KeySpec {
    /// Index into the named groups, or `None`: the key is its own account.
    group: Option<usize>,
    daily: Option<u32>,
    minute: Option<u32>,
}

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        key: usize,
        inst: usize,
        dt_ms: i64,
    },
    Complete {
        pick: usize,
        ok: bool,
        dt_ms: i64,
    },
    Release {
        pick: usize,
    },
    Heartbeat {
        inst: usize,
        dt_ms: i64,
    },
    Expire {
        dt_ms: i64,
    },
    KeyCaps {
        key: usize,
        daily: Option<u32>,
        minute: Option<u32>,
    },
    AccountCaps {
        account: usize,
        daily: Option<u32>,
        minute: Option<u32>,
    },
    Enable {
        key: usize,
        on: bool,
    },
}

#[derive(Debug, Clone)]
struct Scenario {
    defaults: CapDefaults,
    groups: usize,
    group_caps: Vec<(Option<u32>, Option<u32>)>,
    keys: Vec<KeySpec>,
    instances: usize,
    start_offset_s: i64,
    ops: Vec<Op>,
}

fn daily_cap() -> impl Strategy<Value = u32> {
    1..=8u32
}

fn minute_cap() -> impl Strategy<Value = u32> {
    1..=4u32
}

fn step_ms() -> impl Strategy<Value = i64> {
    // Mostly small steps, so the per-minute window fills; sometimes large ones, so it drains.
    prop_oneof![3 => 0..3_000i64, 1 => 0..45_000i64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..4usize, 0..3usize, step_ms()).prop_map(|(key, inst, dt_ms)| Op::Reserve { key, inst, dt_ms }),
        3 => (any::<usize>(), prop::bool::weighted(0.7), 0..5_000i64)
            .prop_map(|(pick, ok, dt_ms)| Op::Complete { pick, ok, dt_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        1 => (0..3usize, 0..20_000i64).prop_map(|(inst, dt_ms)| Op::Heartbeat { inst, dt_ms }),
        1 => (0..90_000i64).prop_map(|dt_ms| Op::Expire { dt_ms }),
        1 => (0..4usize, prop::option::of(daily_cap()), prop::option::of(minute_cap()))
            .prop_map(|(key, daily, minute)| Op::KeyCaps { key, daily, minute }),
        1 => (0..6usize, prop::option::of(daily_cap()), prop::option::of(minute_cap()))
            .prop_map(|(account, daily, minute)| Op::AccountCaps { account, daily, minute }),
        1 => (0..4usize, prop::bool::weighted(0.6)).prop_map(|(key, on)| Op::Enable { key, on }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let key = (
        prop::option::weighted(0.75, 0..2usize),
        prop::option::weighted(0.3, daily_cap()),
        prop::option::weighted(0.3, minute_cap()),
    )
        .prop_map(|(group, daily, minute)| KeySpec {
            group,
            daily,
            minute,
        });
    let group_cap = (
        prop::option::weighted(0.5, daily_cap()),
        prop::option::weighted(0.5, minute_cap()),
    );
    (
        daily_cap(),
        minute_cap(),
        1..=2usize,
        prop::collection::vec(group_cap, 2),
        prop::collection::vec(key, 2..=4),
        1..=3usize,
        0..1_200i64,
        prop::collection::vec(op(), 1..70),
    )
        .prop_map(
            |(daily, minute, groups, group_caps, keys, instances, start_offset_s, ops)| Scenario {
                defaults: CapDefaults {
                    tier_applies: true,
                    daily,
                    minute,
                },
                groups,
                group_caps,
                keys,
                instances,
                start_offset_s,
                ops,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct MKey {
    id: KeyId,
    account: String,
    daily: Option<u32>,
    minute: Option<u32>,
    enabled: bool,
}

/// Caps in force when a request was granted.
#[derive(Debug, Clone, Copy)]
struct CapsAtGrant {
    key_daily: u32,
    key_minute: u32,
    account_daily: u32,
    account_minute: u32,
}

#[derive(Debug)]
struct MReq {
    res: Reservation,
    instance: String,
    started_ms: i64,
    state: &'static str,
    caps: CapsAtGrant,
}

#[derive(Debug)]
struct MInst {
    id: String,
    heartbeat_ms: i64,
    alive: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Unusable,
    KeySpent(DateTime<Utc>),
    AccountSpent(String, DateTime<Utc>),
    Wait(DateTime<Utc>),
    Granted,
}

#[derive(Debug)]
struct Model {
    defaults: CapDefaults,
    keys: Vec<MKey>,
    account_caps: HashMap<String, (Option<u32>, Option<u32>)>,
    reqs: Vec<MReq>,
    /// (key, day) -> (requests, successes, errors)
    usage: BTreeMap<(String, String), (u32, u32, u32)>,
    instances: Vec<Option<MInst>>,
    now_ms: i64,
}

impl Model {
    fn caps(&self, k: usize) -> CapsAtGrant {
        let key = &self.keys[k];
        let (ad, am) = self
            .account_caps
            .get(&key.account)
            .copied()
            .unwrap_or((None, None));
        let key_daily = key.daily.unwrap_or(self.defaults.daily);
        let key_minute = key.minute.unwrap_or(self.defaults.minute);
        // A key in its own (implicit) account: the account's caps are the key's caps.
        let own = key.account == key.id.as_str();
        CapsAtGrant {
            key_daily,
            key_minute,
            account_daily: ad.unwrap_or(if own { key_daily } else { self.defaults.daily }),
            account_minute: am.unwrap_or(if own {
                key_minute
            } else {
                self.defaults.minute
            }),
        }
    }

    fn today(&self, k: usize, day: &str) -> u32 {
        self.usage
            .get(&(self.keys[k].id.as_str().to_string(), day.to_string()))
            .map_or(0, |u| u.0)
    }

    /// When the sliding window of the `cap` most recent requests matching `pred` frees a slot.
    fn window_wait(&self, cap: u32, pred: impl Fn(&MReq) -> bool) -> Option<i64> {
        let since = self.now_ms - WINDOW_MS;
        let mut times: Vec<i64> = self
            .reqs
            .iter()
            .filter(|r| pred(r) && r.started_ms > since)
            .map(|r| r.started_ms)
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        times.get(cap as usize - 1).map(|t| t + WINDOW_MS)
    }

    fn predict(&self, k: usize) -> Expect {
        let key = &self.keys[k];
        if !key.enabled {
            return Expect::Unusable;
        }
        let day = day_of(self.now_ms);
        let caps = self.caps(k);
        let today = self.today(k, &day);
        let account_today: u32 = (0..self.keys.len())
            .filter(|j| self.keys[*j].account == key.account)
            .map(|j| self.today(j, &day))
            .sum();
        if today >= caps.key_daily {
            return Expect::KeySpent(midnight_after(self.now_ms));
        }
        if account_today >= caps.account_daily {
            return Expect::AccountSpent(key.account.clone(), midnight_after(self.now_ms));
        }
        let key_wait = self.window_wait(caps.key_minute, |r| r.res.key_id == key.id);
        let account_wait = self.window_wait(caps.account_minute, |r| r.res.account == key.account);
        match key_wait.max(account_wait) {
            Some(until) => Expect::Wait(at_ms(until)),
            None => Expect::Granted,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running a scenario.
// ---------------------------------------------------------------------------------------------

fn outcome_matches(expect: &Expect, got: &ReserveOutcome) -> bool {
    match (expect, got) {
        (Expect::Granted, ReserveOutcome::Granted(_)) => true,
        (Expect::Unusable, ReserveOutcome::Unusable(Availability::Disabled)) => true,
        (Expect::KeySpent(a), ReserveOutcome::KeySpent { until }) => a == until,
        (Expect::AccountSpent(acct, a), ReserveOutcome::AccountSpent { account, until }) => {
            acct == account && a == until
        }
        (Expect::Wait(a), ReserveOutcome::Wait { until }) => a == until,
        _ => false,
    }
}

/// How many of each outcome a run saw.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    granted: u32,
    wait: u32,
    key_spent: u32,
    account_spent: u32,
    unusable: u32,
    expired: usize,
    released: u32,
}

fn run(s: &Scenario) -> Result<Stats, TestCaseError> {
    run_on(s, Backend::Sqlite)
}

/// Runs a scenario on a fresh ledger of `backend` (pg_support: one suite for both).
fn run_on(s: &Scenario, backend: Backend) -> Result<Stats, TestCaseError> {
    let mut stats = Stats::default();
    let opened = backend.open(s.defaults);
    let ledger = &opened.ledger;
    // 23:40–24:00 UTC: many runs cross midnight, where daily counts reset but the window does not.
    let start = Utc.with_ymd_and_hms(2026, 11, 26, 23, 40, 0).unwrap()
        + Duration::seconds(s.start_offset_s);
    let mut m = Model {
        defaults: s.defaults,
        keys: Vec::new(),
        account_caps: HashMap::new(),
        reqs: Vec::new(),
        usage: BTreeMap::new(),
        instances: (0..s.instances).map(|_| None).collect(),
        now_ms: start.timestamp_millis(),
    };

    for (n, spec) in s.keys.iter().enumerate() {
        let key = api_key(n as u64 + 1);
        let group = spec.group.map(|g| GROUPS[g % s.groups]);
        ledger
            .upsert_key(&key, KeySource::Env, None, group, start)
            .unwrap();
        ledger
            .update_key(
                &key.id(),
                &KeyUpdate {
                    daily_cap: Some(spec.daily),
                    minute_cap: Some(spec.minute),
                    ..KeyUpdate::default()
                },
            )
            .unwrap();
        let account = group.map_or_else(|| key.id().as_str().to_string(), str::to_string);
        m.keys.push(MKey {
            id: key.id(),
            account,
            daily: spec.daily,
            minute: spec.minute,
            enabled: true,
        });
    }
    for (g, (daily, minute)) in s.group_caps.iter().enumerate().take(s.groups) {
        ledger.set_account_caps(GROUPS[g], *daily, *minute).unwrap();
        m.account_caps
            .insert(GROUPS[g].to_string(), (*daily, *minute));
    }
    check(ledger, &m, "setup")?;

    for (step, op) in s.ops.iter().enumerate() {
        let ctx = format!("step {step}: {op:?}");
        match *op {
            Op::Reserve { key, inst, dt_ms } => {
                m.now_ms += dt_ms;
                let now = at_ms(m.now_ms);
                let k = key % m.keys.len();
                let slot = inst % m.instances.len();
                if !m.instances[slot].as_ref().is_some_and(|i| i.alive) {
                    let id = ledger.register_instance("prop", 4242, now).unwrap();
                    m.instances[slot] = Some(MInst {
                        id,
                        heartbeat_ms: m.now_ms,
                        alive: true,
                    });
                }
                let instance = m.instances[slot].as_ref().unwrap().id.clone();
                let expect = m.predict(k);
                let got = ledger
                    .reserve(&ReserveRequest {
                        instance_id: &instance,
                        key_id: &m.keys[k].id,
                        kind: keywheel_core::dispatch::Kind::Chat,
                        model: None,
                        now,
                    })
                    .unwrap();
                prop_assert!(
                    outcome_matches(&expect, &got),
                    "{ctx}: expected {expect:?}, the ledger said {got:?}"
                );
                match &got {
                    ReserveOutcome::Granted(_) => stats.granted += 1,
                    ReserveOutcome::Wait { .. } => stats.wait += 1,
                    ReserveOutcome::KeySpent { .. } => stats.key_spent += 1,
                    ReserveOutcome::AccountSpent { .. } => stats.account_spent += 1,
                    ReserveOutcome::Unusable(_) => stats.unusable += 1,
                }
                if let ReserveOutcome::Granted(res) = got {
                    let day = day_of(m.now_ms);
                    prop_assert_eq!(&res.key_id, &m.keys[k].id, "{}", ctx);
                    prop_assert_eq!(&res.account, &m.keys[k].account, "{}", ctx);
                    prop_assert_eq!(&res.day, &day, "{}", ctx);
                    prop_assert!(
                        m.reqs.last().is_none_or(|r| r.res.id < res.id),
                        "{}: ids increase",
                        ctx
                    );
                    m.usage
                        .entry((m.keys[k].id.as_str().to_string(), day))
                        .or_default()
                        .0 += 1;
                    let caps = m.caps(k);
                    m.reqs.push(MReq {
                        res,
                        instance,
                        started_ms: m.now_ms,
                        state: "reserved",
                        caps,
                    });
                }
            }
            Op::Complete { pick, ok, dt_ms } => {
                m.now_ms += dt_ms;
                if m.reqs.is_empty() {
                    continue;
                }
                let i = pick % m.reqs.len();
                let c = if ok {
                    Completion::ok()
                } else {
                    Completion::failed("upstream", Some(502), Some("bad gateway".into()))
                };
                ledger
                    .complete(&m.reqs[i].res, &c, at_ms(m.now_ms))
                    .unwrap();
                let r = &mut m.reqs[i];
                if matches!(r.state, "reserved" | "abandoned") {
                    r.state = if ok { "done" } else { "failed" };
                    let u = m
                        .usage
                        .get_mut(&(r.res.key_id.as_str().to_string(), r.res.day.clone()))
                        .unwrap();
                    if ok {
                        u.1 += 1;
                    } else {
                        u.2 += 1;
                    }
                }
            }
            Op::Release { pick } => {
                if m.reqs.is_empty() {
                    continue;
                }
                let i = pick % m.reqs.len();
                ledger.release(&m.reqs[i].res).unwrap();
                // Only a still-open reservation is taken back: its row goes, its count too.
                if m.reqs[i].state == "reserved" {
                    let r = m.reqs.remove(i);
                    let key = (r.res.key_id.as_str().to_string(), r.res.day.clone());
                    m.usage.get_mut(&key).unwrap().0 -= 1;
                    stats.released += 1;
                }
            }
            Op::Heartbeat { inst, dt_ms } => {
                m.now_ms += dt_ms;
                let now_ms = m.now_ms;
                let Some(i) = m.instances[inst % s.instances].as_mut() else {
                    continue;
                };
                let known = ledger.heartbeat(&i.id, at_ms(now_ms)).unwrap();
                prop_assert_eq!(
                    known,
                    i.alive,
                    "{}: heartbeat reports whether the instance is registered",
                    ctx
                );
                if i.alive {
                    i.heartbeat_ms = i.heartbeat_ms.max(now_ms);
                }
            }
            Op::Expire { dt_ms } => {
                m.now_ms += dt_ms;
                let cutoff = m.now_ms - TTL_MS;
                let now = at_ms(m.now_ms);
                let expired = ledger
                    .expire_instances(now, Duration::milliseconds(TTL_MS))
                    .unwrap();
                let mut dead = Vec::new();
                for i in m.instances.iter_mut().flatten() {
                    if i.alive && i.heartbeat_ms < cutoff {
                        i.alive = false;
                        dead.push(i.id.clone());
                    }
                }
                prop_assert_eq!(expired, dead.len(), "{}", ctx);
                stats.expired += expired;
                for r in m
                    .reqs
                    .iter_mut()
                    .filter(|r| r.state == "reserved" && dead.contains(&r.instance))
                {
                    r.state = "abandoned";
                }
                let mut live: Vec<String> = ledger
                    .live_instances(now, Duration::milliseconds(TTL_MS))
                    .unwrap()
                    .into_iter()
                    .map(|i| i.id)
                    .collect();
                live.sort();
                let mut want: Vec<String> = m
                    .instances
                    .iter()
                    .flatten()
                    .filter(|i| i.alive)
                    .map(|i| i.id.clone())
                    .collect();
                want.sort();
                prop_assert_eq!(live, want, "{}: live instances", ctx);
            }
            Op::KeyCaps { key, daily, minute } => {
                let k = key % m.keys.len();
                ledger
                    .update_key(
                        &m.keys[k].id,
                        &KeyUpdate {
                            daily_cap: Some(daily),
                            minute_cap: Some(minute),
                            ..KeyUpdate::default()
                        },
                    )
                    .unwrap();
                m.keys[k].daily = daily;
                m.keys[k].minute = minute;
            }
            Op::AccountCaps {
                account,
                daily,
                minute,
            } => {
                // The named groups and every key's own account.
                let mut names: Vec<String> =
                    GROUPS[..s.groups].iter().map(|g| g.to_string()).collect();
                names.extend(m.keys.iter().map(|k| k.id.as_str().to_string()));
                let name = names[account % names.len()].clone();
                ledger.set_account_caps(&name, daily, minute).unwrap();
                m.account_caps.insert(name, (daily, minute));
            }
            Op::Enable { key, on } => {
                let k = key % m.keys.len();
                ledger
                    .update_key(
                        &m.keys[k].id,
                        &KeyUpdate {
                            enabled: Some(on),
                            ..KeyUpdate::default()
                        },
                    )
                    .unwrap();
                m.keys[k].enabled = on;
            }
        }
        check(ledger, &m, &ctx)?;
    }
    Ok(stats)
}

/// One request row as stored.
#[derive(Debug, PartialEq)]
struct Row {
    id: i64,
    key_id: String,
    account: String,
    day: String,
    started_ms: i64,
    state: String,
    instance: String,
}

/// Checks the ledger (either backend) against the model and the cap invariants.
fn check(ledger: &Ledger, m: &Model, ctx: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        ledger.inconsistencies().unwrap(),
        vec![],
        "{}: counters equal request rows",
        ctx
    );

    let rows: Vec<Row> = table(
        ledger,
        "SELECT id, key_id, account, day, started_ms, state, instance_id FROM requests ORDER BY id",
    )
    .into_iter()
    .map(|r| Row {
        id: r[0].parse().unwrap(),
        key_id: r[1].clone(),
        account: r[2].clone(),
        day: r[3].clone(),
        started_ms: r[4].parse().unwrap(),
        state: r[5].clone(),
        instance: r[6].clone(),
    })
    .collect();
    let want: Vec<Row> = m
        .reqs
        .iter()
        .map(|r| Row {
            id: r.res.id,
            key_id: r.res.key_id.as_str().to_string(),
            account: r.res.account.clone(),
            day: r.res.day.clone(),
            started_ms: r.started_ms,
            state: r.state.to_string(),
            instance: r.instance.clone(),
        })
        .collect();
    prop_assert_eq!(&rows, &want, "{}: request rows", ctx);

    let usage: BTreeMap<(String, String), (u32, u32, u32)> = table(
        ledger,
        "SELECT key_id, day, requests, successes, errors FROM usage_daily",
    )
    .into_iter()
    .map(|r| {
        let n = |i: usize| r[i].parse::<u32>().unwrap();
        ((r[0].clone(), r[1].clone()), (n(2), n(3), n(4)))
    })
    .collect();
    prop_assert_eq!(&usage, &m.usage, "{}: day counters", ctx);
    let counted: u32 = usage.values().map(|u| u.0).sum();
    prop_assert_eq!(
        counted as usize,
        m.reqs.len(),
        "{}: granted == sum of counters",
        ctx
    );
    for k in &m.keys {
        let want = m
            .usage
            .get(&(k.id.as_str().to_string(), day_of(m.now_ms)))
            .map_or(0, |u| u.0);
        prop_assert_eq!(
            ledger.requests_today(&k.id, at_ms(m.now_ms)).unwrap(),
            want,
            "{}: requests_today({})",
            ctx,
            k.id
        );
    }

    let mut instances: Vec<String> = table(ledger, "SELECT id FROM instances")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    instances.sort();
    let mut alive: Vec<String> = m
        .instances
        .iter()
        .flatten()
        .filter(|i| i.alive)
        .map(|i| i.id.clone())
        .collect();
    alive.sort();
    prop_assert_eq!(instances, alive, "{}: registered instances", ctx);

    // The caps, from the stored rows alone. Time never goes back, so the rows up to a request
    // are exactly what the ledger saw when it granted it.
    for (i, r) in rows.iter().enumerate() {
        let caps = m.reqs[i].caps;
        let before = &rows[..=i];
        let key_day = before
            .iter()
            .filter(|o| o.key_id == r.key_id && o.day == r.day)
            .count();
        let account_day = before
            .iter()
            .filter(|o| o.account == r.account && o.day == r.day)
            .count();
        let key_window = before
            .iter()
            .filter(|o| o.key_id == r.key_id && o.started_ms > r.started_ms - WINDOW_MS)
            .count();
        let account_window = before
            .iter()
            .filter(|o| o.account == r.account && o.started_ms > r.started_ms - WINDOW_MS)
            .count();
        prop_assert!(
            key_day <= caps.key_daily as usize,
            "{}: request {} is #{} of key {} on {} (cap {})",
            ctx,
            r.id,
            key_day,
            r.key_id,
            r.day,
            caps.key_daily
        );
        prop_assert!(
            account_day <= caps.account_daily as usize,
            "{}: request {} is #{} of account {} (cap {})",
            ctx,
            r.id,
            account_day,
            r.account,
            caps.account_daily
        );
        prop_assert!(
            key_window <= caps.key_minute as usize,
            "{}: {} requests of key {} within 60 s (cap {})",
            ctx,
            key_window,
            r.key_id,
            caps.key_minute
        );
        prop_assert!(
            account_window <= caps.account_minute as usize,
            "{}: {} requests of account {} within 60 s (cap {})",
            ctx,
            account_window,
            r.account,
            caps.account_minute
        );
    }
    Ok(())
}

#[test]
fn ledger_never_exceeds_a_cap_and_stays_consistent() {
    property(Backend::Sqlite);
}

/// The same property on the team ledger (PostgreSQL).
#[test]
fn the_team_ledger_never_exceeds_a_cap_and_stays_consistent() {
    property(Backend::Postgres);
}

fn property(backend: Backend) {
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let total = std::cell::RefCell::new(Stats::default());
    let result = TestRunner::new(config).run(&scenario(), |s| {
        let st = run_on(&s, backend)?;
        let mut t = total.borrow_mut();
        t.granted += st.granted;
        t.wait += st.wait;
        t.key_spent += st.key_spent;
        t.account_spent += st.account_spent;
        t.unusable += st.unusable;
        t.expired += st.expired;
        t.released += st.released;
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generated runs must actually reach every kind of answer, or the checks prove little.
    let t = total.into_inner();
    println!("outcomes over all cases: {t:?}");
    assert!(
        t.granted > 0
            && t.wait > 0
            && t.key_spent > 0
            && t.account_spent > 0
            && t.unusable > 0
            && t.expired > 0
            && t.released > 0,
        "some outcome never happened: {t:?}"
    );
}

/// A fixed scenario that reaches every refusal, so the comparison above is not vacuous.
#[test]
fn every_refusal_is_reached() {
    let s = Scenario {
        defaults: CapDefaults {
            tier_applies: true,
            daily: 3,
            minute: 2,
        },
        groups: 1,
        group_caps: vec![(Some(4), None), (None, None)],
        keys: vec![
            KeySpec {
                group: Some(0),
                daily: None,
                minute: None,
            },
            KeySpec {
                group: Some(0),
                daily: None,
                minute: None,
            },
            KeySpec {
                group: None,
                daily: Some(1),
                minute: None,
            },
        ],
        instances: 1,
        start_offset_s: 0,
        ops: vec![
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 0,
            },
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 1,
            },
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 1,
            }, // Wait: minute cap 2
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 60_000,
            },
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 60_000,
            }, // KeySpent: daily cap 3
            Op::Reserve {
                key: 1,
                inst: 0,
                dt_ms: 60_000,
            },
            Op::Reserve {
                key: 1,
                inst: 0,
                dt_ms: 60_000,
            }, // AccountSpent: account cap 4
            Op::Reserve {
                key: 2,
                inst: 0,
                dt_ms: 0,
            },
            Op::Enable { key: 2, on: false },
            Op::Reserve {
                key: 2,
                inst: 0,
                dt_ms: 0,
            }, // Unusable: disabled
            Op::Release { pick: 4 }, // takes back key 2's open reservation
            Op::Complete {
                pick: 3,
                ok: false,
                dt_ms: 0,
            },
            Op::Release { pick: 3 }, // a completed request cannot be taken back
            Op::Expire { dt_ms: 31_000 },
            Op::Complete {
                pick: 0,
                ok: true,
                dt_ms: 0,
            },
            Op::Complete {
                pick: 0,
                ok: true,
                dt_ms: 0,
            },
            Op::Release { pick: 0 }, // nor a late-completed abandoned one
        ],
    };
    let stats = run(&s).unwrap();
    assert_eq!(
        stats,
        Stats {
            granted: 5,
            wait: 1,
            key_spent: 1,
            account_spent: 1,
            unusable: 1,
            expired: 1,
            released: 1
        }
    );
}

/// At 00:00 UTC the day counts reset, but the 60 s window still holds the requests of 23:59.
#[test]
fn midnight_resets_the_day_not_the_window() {
    let s = Scenario {
        defaults: CapDefaults {
            tier_applies: true,
            daily: 1,
            minute: 1,
        },
        groups: 1,
        group_caps: vec![(None, None), (None, None)],
        keys: vec![
            KeySpec {
                group: None,
                daily: None,
                minute: None,
            },
            KeySpec {
                group: None,
                daily: None,
                minute: None,
            },
        ],
        instances: 1,
        start_offset_s: 1_199, // 23:59:59
        ops: vec![
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 0,
            },
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 0,
            }, // KeySpent
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 1_000,
            }, // 00:00:00, a new day: Wait (window)
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 59_000,
            }, // 00:00:59: granted
            Op::Reserve {
                key: 0,
                inst: 0,
                dt_ms: 60_000,
            }, // KeySpent again (new day's cap)
        ],
    };
    let stats = run(&s).unwrap();
    assert_eq!(
        stats,
        Stats {
            granted: 2,
            wait: 1,
            key_spent: 2,
            ..Stats::default()
        }
    );
}

//! What the CLI and the app show: key list, status and usage — built here once so both
//! front ends agree. Keys appear only masked.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::Pool;
use crate::clock::{day_key, human_duration, next_utc_midnight};
use crate::error::Result;
use crate::keys::{KeyId, KeySource, KeychainStatus};
use crate::ledger::KeyStatus;
use crate::ledger::instances::InstanceInfo;
use crate::ledger::reserve::Availability;

/// One key as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyView {
    /// Fingerprint id.
    pub id: KeyId,
    /// Label.
    pub label: String,
    /// The account it shares with other keys; absent when it is its own account.
    pub account: Option<String>,
    /// `sk-or-v1-…a1b2`.
    pub masked: String,
    /// `keychain` or `env`.
    pub source: KeySource,
    /// Whether this process holds the key's material.
    pub available: bool,
    /// Enabled by the person.
    pub enabled: bool,
    /// Last observed health.
    pub status: KeyStatus,
    /// Requests today.
    pub today: u32,
    /// Requests today on the key's whole account, OpenRouter's own count included when `/key`
    /// reported more (a key also used elsewhere).
    pub account_today: u32,
    /// The account's daily cap (the tier OpenRouter reports, unless the person set one).
    pub account_daily_cap: u32,
    /// Effective daily cap.
    pub daily_cap: u32,
    /// Effective per-minute cap.
    pub minute_cap: u32,
    /// Whether it can take a request now, and if not why.
    pub availability: Availability,
    /// [`Availability::label`] now: `ready`, `spent until 00:00 UTC`, …
    pub availability_label: String,
    /// [`Availability::sentence`] now: what the state means and what to do.
    pub availability_sentence: String,
}

/// `keywheel status`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatusView {
    /// Now.
    pub now: DateTime<Utc>,
    /// The UTC day.
    pub day: String,
    /// Next reset (00:00 UTC).
    pub resets_at: DateTime<Utc>,
    /// Time until then, e.g. `3 h 12 min`.
    pub resets_in: String,
    /// The pool's current key.
    pub current_key: Option<KeyId>,
    /// The rotation threshold.
    pub rotate_after: u32,
    /// Live instances.
    pub instances: Vec<InstanceInfo>,
    /// Keys.
    pub keys: Vec<KeyView>,
    /// Whether the keychain can be used, and the sentence saying so.
    pub keychain: KeychainView,
    /// The ledger file.
    pub ledger: String,
}

/// Which ledger this process uses: the embedded SQLite file or a team's PostgreSQL, and on a
/// team ledger who is live on it per machine in the core's words
/// ([`crate::ledger::pg::summary::TeamSummary`], as `keywheel status` prints it). The app's
/// Usage and Settings views show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LedgerView {
    /// `sqlite` or `postgresql`.
    pub backend: String,
    /// The file path, or `host:port/db` for a team ledger (never a password).
    pub location: String,
    /// On a team ledger: "team ledger: host:port/db — N machines, M instances live" and one
    /// line per machine.
    pub team: Option<crate::ledger::pg::summary::TeamSummary>,
    /// Whether the response cache is shared with the team (only ever on a team ledger).
    pub team_cache: bool,
}

/// The keychain's state with the core's sentence for it (the front ends show the sentence).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeychainView {
    /// Available, disabled, or unavailable with the reason.
    pub status: KeychainStatus,
    /// [`KeychainStatus::sentence`].
    pub sentence: String,
}

pub use crate::ledger::usage::DayUsage as UsageDay;

/// `keywheel usage`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageView {
    /// Days covered.
    pub days: u32,
    /// The UTC days, oldest first.
    pub day_list: Vec<String>,
    /// Keys known to the ledger (masked).
    pub keys: Vec<KeyView>,
    /// Per key per day rows (days without requests omitted).
    pub usage: Vec<UsageDay>,
    /// Per key per day, from the request log: errors by class, cache hits, latency p50/p95.
    pub aggregates: Vec<crate::ledger::request_log::DayAggregate>,
    /// Per account per day, from the request log.
    pub accounts: Vec<crate::ledger::request_log::DayAggregate>,
    /// Per key and per account: when it hits its cap at today's pace.
    pub forecasts: Vec<crate::forecast::Forecast>,
    /// Next reset (00:00 UTC).
    pub resets_at: DateTime<Utc>,
    /// Time until then.
    pub resets_in: String,
}

impl Pool {
    /// The key list with today's counts.
    pub fn key_views(&self) -> Result<Vec<KeyView>> {
        let now = self.now();
        let records = self.ledger().keys()?;
        let ids: Vec<KeyId> = records.iter().map(|r| r.id.clone()).collect();
        let states = self.ledger().key_states(&ids, now)?;
        let ring = self.ring();
        let views = records
            .into_iter()
            .filter(|r| r.source == KeySource::Keychain || ring.get(&r.id).is_some())
            .filter_map(|r| {
                let st = states.iter().find(|s| s.id == r.id)?.clone();
                Some(KeyView {
                    available: ring.get(&r.id).is_some(),
                    account: (st.account != r.id.as_str()).then_some(st.account),
                    availability_label: st.availability.label(now),
                    availability_sentence: st.availability.sentence(now),
                    id: r.id,
                    label: r.label,
                    masked: r.masked,
                    source: r.source,
                    enabled: r.enabled,
                    status: r.status,
                    today: st.today,
                    account_today: st.account_today,
                    account_daily_cap: st.account_daily_cap,
                    daily_cap: st.daily_cap,
                    minute_cap: st.minute_cap,
                    availability: st.availability,
                })
            })
            .collect();
        Ok(views)
    }

    /// The keychain's state with its sentence, as `status` and the app's settings show it.
    pub fn keychain_view(&self) -> KeychainView {
        let status = self.keychain_status();
        KeychainView {
            sentence: status.sentence(),
            status,
        }
    }

    /// Which ledger is in use and, on a team ledger, who is live on it ([`LedgerView`]).
    pub fn ledger_view(&self) -> Result<LedgerView> {
        let ledger = self.ledger();
        let team =
            crate::ledger::pg::summary::TeamSummary::read(ledger, self.now(), self.instance_ttl())?;
        Ok(LedgerView {
            backend: ledger.backend_name().into(),
            location: match ledger.pg() {
                Some(pg) => pg.target().display(),
                None => ledger.path().display().to_string(),
            },
            team_cache: ledger.pg().is_some_and(|pg| pg.team_cache()),
            team,
        })
    }

    /// Everything `keywheel status` shows.
    pub fn status(&self) -> Result<StatusView> {
        self.expire_instances()?;
        let now = self.now();
        let resets_at = next_utc_midnight(now);
        Ok(StatusView {
            now,
            day: day_key(now),
            resets_at,
            resets_in: human_duration(resets_at - now),
            current_key: self.ledger().current_key()?,
            rotate_after: self.settings().rotate_after,
            instances: self.ledger().live_instances(now, self.instance_ttl())?,
            keys: self.key_views()?,
            keychain: self.keychain_view(),
            ledger: self.ledger().describe(),
        })
    }

    /// Requests per key per UTC day for the last `days` days.
    pub fn usage(&self, days: u32) -> Result<UsageView> {
        let now = self.now();
        let days = days.clamp(1, 366);
        let day_list = (0..days)
            .rev()
            .map(|i| day_key(now - Duration::days(i64::from(i))))
            .collect::<Vec<_>>();
        let usage = self.ledger().daily_usage(days, now)?;
        let keys = self.key_views()?;
        let ledger = self.ledger();
        let firsts = ledger.first_requests_today(now)?;
        let mut forecasts: Vec<crate::forecast::Forecast> = keys
            .iter()
            .map(|k| {
                let first = firsts.iter().find(|f| f.0 == k.id.as_str()).map(|f| f.2);
                crate::forecast::forecast(
                    k.id.as_str(),
                    crate::forecast::SubjectKind::Key,
                    k.today,
                    k.daily_cap,
                    first,
                    now,
                )
            })
            .collect();
        let ids: Vec<KeyId> = keys.iter().map(|k| k.id.clone()).collect();
        let mut seen = Vec::new();
        for st in ledger.key_states(&ids, now)? {
            if st.account == st.id.as_str() || seen.contains(&st.account) {
                continue;
            }
            seen.push(st.account.clone());
            let first = firsts
                .iter()
                .filter(|f| f.1 == st.account)
                .map(|f| f.2)
                .min();
            forecasts.push(crate::forecast::forecast(
                &st.account,
                crate::forecast::SubjectKind::Account,
                st.account_today,
                st.account_daily_cap,
                first,
                now,
            ));
        }
        let resets_at = next_utc_midnight(now);
        Ok(UsageView {
            days,
            day_list,
            keys,
            usage,
            aggregates: ledger.aggregates(days, crate::ledger::request_log::GroupBy::Key, now)?,
            accounts: ledger.aggregates(days, crate::ledger::request_log::GroupBy::Account, now)?,
            forecasts,
            resets_at,
            resets_in: human_duration(resets_at - now),
        })
    }
}

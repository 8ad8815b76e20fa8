//! Alerts: rules evaluated by the core, delivered by the caller (the CLI prints them on
//! stderr; the app turns them into notifications). Each fires once per subject per UTC day,
//! deduplicated across processes by the ledger's `alerts` table; a new UTC day re-arms them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::describe_reset;
use crate::error::Result;
use crate::keys::KeyId;
use crate::ledger::reserve::Availability;
use crate::ledger::{AfterCompletion, SpikeCheck};
use crate::pool::Pool;

crate::vocab::stored_enum! {
    /// Which rule fired.
    pub enum Rule {
        /// A key passed the rotation threshold: new instances will move on.
        RotationThreshold,
        /// A key reached its daily cap.
        KeyCap,
        /// OpenRouter said the key is invalid (401).
        KeyInvalid,
        /// The key's account has no credit (402).
        NoCredit,
        /// The key hit its spend limit (403 "Key limit exceeded").
        SpendLimited,
        /// A paid model answered 402 "insufficient credits": the account's chains use free
        /// models for the day; its keys stay in use.
        PaidRefused,
        /// An account is spent for the UTC day.
        AccountSpent,
        /// Every key is spent or capped.
        AllSpent,
        /// Many recent requests on a key failed.
        ErrorSpike,
    }
}

/// A freshly fired alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Alert {
    /// The rule.
    pub rule: Rule,
    /// Key id, account or `pool`.
    pub subject: String,
    /// The sentence to show.
    pub message: String,
}

/// Fires `rule` for `subject` unless it already fired today; returns it only to the one
/// caller that fired it.
pub fn fire(
    pool: &Pool,
    rule: Rule,
    subject: &str,
    message: String,
    now: DateTime<Utc>,
) -> Result<Option<Alert>> {
    if pool
        .ledger()
        .fire_alert(rule.as_str(), subject, &message, now)?
    {
        tracing::warn!(rule = rule.as_str(), subject, "alert: {message}");
        return Ok(Some(Alert {
            rule,
            subject: subject.to_string(),
            message,
        }));
    }
    Ok(None)
}

/// How many of a key's last completed requests the error-spike rule looks at.
pub const SPIKE_LAST: u32 = 10;

/// The rules to check after a request on `key` completed.
pub fn after_request(pool: &Pool, key: &KeyId) -> Result<Vec<Alert>> {
    let now = pool.now();
    let Some(st) = pool
        .ledger()
        .key_states(std::slice::from_ref(key), now)?
        .pop()
    else {
        return Ok(Vec::new());
    };
    let recent = pool.ledger().recent_failures(key, SPIKE_LAST, now)?;
    after_completion(
        pool,
        key,
        &AfterCompletion {
            state: Some(st),
            recent: Some(recent),
        },
        now,
    )
}

/// What [`crate::ledger::Ledger::complete_and_check`] needs to read for these rules.
pub fn spike_check(pool: &Pool) -> SpikeCheck<'static> {
    SpikeCheck {
        last: SPIKE_LAST,
        failed: pool.settings().alert_error_spike.max(1),
        rule: Rule::ErrorSpike.as_str(),
    }
}

/// [`after_request`]'s rules on what the completion's transaction read
/// ([`crate::ledger::Ledger::complete_and_check`]).
pub fn after_completion(
    pool: &Pool,
    key: &KeyId,
    seen: &AfterCompletion,
    now: DateTime<Utc>,
) -> Result<Vec<Alert>> {
    let mut out = Vec::new();
    let Some(st) = &seen.state else {
        return Ok(out);
    };
    let rotate_after = pool.settings().rotate_after;
    if st.today > rotate_after {
        let msg = format!(
            "key {key} passed {rotate_after} requests today ({}/{}); new instances will move to another key",
            st.today, st.daily_cap
        );
        out.extend(fire(pool, Rule::RotationThreshold, key.as_str(), msg, now)?);
    }
    if let Availability::KeySpent { until } = st.availability {
        let msg = format!(
            "key {key} reached its daily cap of {}; it frees at {}",
            st.daily_cap,
            describe_reset(until, now)
        );
        out.extend(fire(pool, Rule::KeyCap, key.as_str(), msg, now)?);
    }
    if let Availability::AccountSpent { until } = st.availability {
        let msg = format!(
            "account {} is spent for today; it frees at {}",
            st.account,
            describe_reset(until, now)
        );
        out.extend(fire(pool, Rule::AccountSpent, &st.account, msg, now)?);
    }
    if let Some((total, failed)) = seen.recent
        && failed >= pool.settings().alert_error_spike.max(1)
    {
        let msg = format!(
            "{failed} of the last {total} requests on key {key} failed; see `keywheel log --key {key}`"
        );
        out.extend(fire(pool, Rule::ErrorSpike, key.as_str(), msg, now)?);
    }
    Ok(out)
}

/// The alert for a key that OpenRouter just refused (invalid, no credit, spend limit).
pub fn key_refused(pool: &Pool, key: &KeyId, rule: Rule, detail: &str) -> Result<Option<Alert>> {
    let what = match rule {
        Rule::KeyInvalid => "is invalid or revoked (401); replace it",
        Rule::NoCredit => "has no credit left (402); add credit or use another key",
        Rule::SpendLimited => "reached its spend limit (403); it is skipped until the limit resets",
        Rule::AccountSpent => "'s account is spent for today (429)",
        _ => "cannot be used",
    };
    fire(
        pool,
        rule,
        key.as_str(),
        format!("key {key} {what} — {detail}"),
        pool.now(),
    )
}

/// The alert for "every key is spent".
pub fn all_spent(pool: &Pool, sentence: &str) -> Result<Option<Alert>> {
    fire(
        pool,
        Rule::AllSpent,
        "pool",
        sentence.to_string(),
        pool.now(),
    )
}

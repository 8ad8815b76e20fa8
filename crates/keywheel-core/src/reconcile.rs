//! Reconciling the ledger with what OpenRouter itself counts: `GET /key` (no quota spent) for
//! each key this process holds gives the account's free-model ceiling (50 or 1000), today's
//! count (raising the local one for a key also used elsewhere) and whether credits were
//! bought (paid models in its chains). See docs/models.md.
//!
//! It runs at instance start at most once every [`EVERY`] across all processes (the ledger
//! remembers when), after every 429 for that key, and on `keys check`.

use chrono::Duration;
use futures_util::future::join_all;

use crate::error::Result;
use crate::keys::ApiKey;
use crate::ledger::{AccountObservation, Credits, Grouping, KeyStatus, Observed};
use crate::openrouter::{FailureClass, KeyInfo, OpenRouter};
use crate::pool::Pool;

/// Least time between two reconciliations of the whole pool.
pub fn every() -> Duration {
    Duration::minutes(10)
}

/// What `/key` says about the key's account.
pub fn observation(info: &KeyInfo) -> AccountObservation {
    let daily = info.free_model_daily_requests.as_ref();
    let to_u32 = |n: Option<u64>| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    AccountObservation {
        tier_cap: to_u32(daily.and_then(|d| d.limit)).filter(|&n| n > 0),
        used: to_u32(daily.and_then(|d| d.used)),
        credits: match info.is_free_tier {
            Some(true) => Some(Credits::FreeOnly),
            Some(false) => Some(Credits::Paid),
            None => None,
        },
    }
}

/// Records one `/key` answer for `key` and says what changed in the log. When the answer
/// names the account (`creator_user_id`) and shows keys sharing it, they are grouped and
/// [`Observed::note`] says so.
pub fn record(pool: &Pool, key: &ApiKey, info: &KeyInfo) -> Result<Observed> {
    if let Some(owner) = &info.creator_user_id
        && let Some(g) = pool.ledger().observe_owner(&key.id(), owner)?
    {
        let mut o = pool
            .ledger()
            .observe_account(&key.id(), &observation(info), pool.now())?;
        o.note = Some(grouping_sentence(&g));
        tracing::info!("{}", o.note.as_deref().unwrap_or(""));
        return Ok(o);
    }
    let o = pool
        .ledger()
        .observe_account(&key.id(), &observation(info), pool.now())?;
    if o.extra > 0 {
        tracing::info!(
            key = %key.id(),
            account = %o.account,
            extra = o.extra,
            "OpenRouter counted more requests today than this ledger (the key is used elsewhere too); counting them"
        );
    }
    Ok(o)
}

/// The sentence for keys found to share one account.
pub fn grouping_sentence(g: &Grouping) -> String {
    let ids: Vec<String> = g.keys.iter().map(ToString::to_string).collect();
    format!(
        "keys {} belong to one OpenRouter account, so they now share the daily quota of account {} (change it with `keywheel keys set ID --account NAME`)",
        ids.join(", "),
        g.account
    )
}

/// Reads `/key` for one key and records it. A 401 marks the key invalid; other failures
/// change nothing (`None`).
pub async fn key(pool: &Pool, client: &OpenRouter, key: &ApiKey) -> Result<Option<Observed>> {
    match client.key_info(key).await {
        Ok(info) => record(pool, key, &info).map(Some),
        Err(f) if f.class == FailureClass::KeyInvalid => {
            pool.ledger()
                .set_key_status(&key.id(), KeyStatus::Invalid, None, Some(&f.message))?;
            Ok(None)
        }
        Err(f) => {
            tracing::debug!(key = %key.id(), error = %f, "could not reconcile the key");
            Ok(None)
        }
    }
}

/// Reconciles every key this process holds, unless another process did within [`every`]
/// (`force` skips that check). Returns the sentences for the person (keys found to share an
/// account).
pub async fn pool(pool: &Pool, client: &OpenRouter, force: bool) -> Result<Vec<String>> {
    let ring = pool.ring();
    if ring.is_empty() || !pool.ledger().claim_reconcile(pool.now(), every(), force)? {
        return Ok(Vec::new());
    }
    let keys: Vec<&ApiKey> = ring.iter().map(|(k, _)| k).collect();
    let results = join_all(keys.iter().map(|k| key(pool, client, k))).await;
    let mut notes = Vec::new();
    for r in results {
        if let Some(note) = r?.and_then(|o| o.note) {
            notes.push(note);
        }
    }
    Ok(notes)
}

//! The model catalogue (`GET /models`), cached for a day in the shared ledger, the chains
//! resolved from it for people to see (views.rs: the app's Models panel and pin picker), and
//! key checks (`GET /key`, zero quota cost).

use chrono::Duration;
use serde::Serialize;

use crate::chains::{self, Catalogue, ChainInputs, ModelChoice, ResolvedChain};
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::keys::{ApiKey, KeyId};
use crate::ledger::{KeyRecord, KeyStatus};
use crate::openrouter::failure::failure_sentence;
use crate::openrouter::types::{KeyInfo, ModelInfo};
use crate::openrouter::{FailureClass, OpenRouter};
use crate::pool::Pool;

mod views;
pub use views::{
    CatalogueModel, ChainView, KeyAdded, ModelChains, NO_CATALOGUE, add_key, check_pin,
    checked_edit, model_chains, picker,
};

/// The catalogue: from the ledger's cache when younger than a day, else fetched and stored.
pub async fn models(pool: &Pool, client: &OpenRouter, refresh: bool) -> Result<Vec<ModelInfo>> {
    let ledger = pool.ledger();
    if !refresh
        && let Some(body) = ledger.models_cached(Duration::days(1), pool.now())?
        && let Ok(list) = serde_json::from_str::<Vec<ModelInfo>>(&body)
    {
        return Ok(list);
    }
    let list = client
        .models()
        .await
        .map_err(|f| Error::Upstream(failure_sentence(&f)))?;
    ledger.models_store(
        &serde_json::to_string(&list).unwrap_or_default(),
        pool.now(),
    )?;
    Ok(list)
}

/// The chain a job of `kind` would use now, for the account of the pool's current key
/// (reconciled with `/key` first, at most every 10 minutes): what `keywheel models --vision`
/// / `--chat` and the app's settings show. Spends no quota.
pub async fn resolve_chain(
    pool: &Pool,
    client: &OpenRouter,
    kind: Kind,
    choice: &ModelChoice,
) -> Result<ResolvedChain> {
    let _notes = crate::reconcile::pool(pool, client, false).await?;
    let catalogue = models(pool, client, false).await.ok().map(Catalogue::new);
    let ledger = pool.ledger();
    let now = pool.now();
    let key = match ledger.current_key()? {
        Some(k) if pool.ring().get(&k).is_some() => Some(k),
        _ => pool.ring().ids().first().cloned(),
    };
    let seen = ledger.pre_send(key.as_ref(), now)?;
    let s = pool.settings();
    let (preferences, pin) = match kind {
        Kind::Chat => (&s.chat_models, &s.chat_pin),
        Kind::Ocr => (&s.vision_models, &s.vision_pin),
    };
    let (preferences, pinned): (&[String], Option<Vec<String>>) = match choice {
        ModelChoice::Pinned(list) => (preferences, Some(list.clone())),
        ModelChoice::Prefer(list) => (list, None),
        ModelChoice::Default => (preferences, pin.clone().map(|p| vec![p])),
    };
    let today = crate::clock::day_key(now);
    chains::resolve(&ChainInputs {
        kind,
        preferences,
        pinned: pinned.as_deref(),
        catalogue: catalogue.as_ref(),
        credits: seen.credits,
        skipped: &seen.skipped,
        today: &today,
    })
}

/// One key's check.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyCheck {
    /// Key id.
    pub id: KeyId,
    /// Masked key.
    pub masked: String,
    /// Whether OpenRouter accepted it.
    pub ok: bool,
    /// What `/key` said.
    pub info: Option<KeyInfo>,
    /// The failure, as a sentence.
    pub error: Option<String>,
    /// A sentence about what the check found (keys sharing an account).
    pub note: Option<String>,
    /// What the check found, in one sentence ([`KeyCheck::summary`]).
    pub summary: String,
}

impl KeyCheck {
    /// A key OpenRouter accepted.
    fn accepted(id: KeyId, masked: String, info: KeyInfo, note: Option<String>) -> Self {
        Self::with_summary(KeyCheck {
            id,
            masked,
            ok: true,
            info: Some(info),
            error: None,
            note,
            summary: String::new(),
        })
    }

    /// A key that failed the check (`error` is the sentence).
    fn refused(id: KeyId, masked: String, error: String) -> Self {
        Self::with_summary(KeyCheck {
            id,
            masked,
            ok: false,
            info: None,
            error: Some(error),
            note: None,
            summary: String::new(),
        })
    }

    fn with_summary(mut self) -> Self {
        self.summary = self.summary();
        self
    }
}

/// Adds a key after checking it with `GET /key` (no quota spent). A key OpenRouter rejects
/// (401) is not stored; a key that could not be checked (network down, OpenRouter failing)
/// is stored with a warning saying so. Returns the stored record, the check, the warning.
pub async fn add_checked_key(
    pool: &Pool,
    client: &OpenRouter,
    raw: &zeroize::Zeroizing<String>,
    label: Option<&str>,
    account: Option<&str>,
) -> Result<(KeyRecord, Option<KeyCheck>, Option<String>)> {
    let key = ApiKey::parse(raw)?;
    match client.key_info(&key).await {
        Ok(info) => {
            let rec = pool.add_key(raw, label, account)?;
            pool.ledger()
                .set_key_status(&rec.id, KeyStatus::Ok, None, None)?;
            let note = crate::reconcile::record(pool, &key, &info)?.note;
            let check = KeyCheck::accepted(rec.id.clone(), rec.masked.clone(), info, note);
            Ok((rec, Some(check), None))
        }
        Err(f) if f.class == FailureClass::KeyInvalid => Err(Error::BadInput(format!(
            "OpenRouter does not accept the key {} ({}); nothing was stored — copy the key again from openrouter.ai/keys",
            key.masked(),
            f.message.trim_end_matches('.')
        ))),
        Err(f) => {
            let rec = pool.add_key(raw, label, account)?;
            let warning = format!(
                "the key was stored, but it could not be checked now: {} Check it later from the key list.",
                failure_sentence(&f)
            );
            Ok((rec, None, Some(warning)))
        }
    }
}

/// Checks keys with `GET /key` (no quota spent) and records what was learned: a 401 marks the
/// key invalid, a good answer clears an earlier invalid / no-credit mark.
pub async fn check_keys(
    pool: &Pool,
    client: &OpenRouter,
    only: Option<&KeyId>,
) -> Result<Vec<KeyCheck>> {
    let mut out = Vec::new();
    for (key, _) in pool.ring().iter() {
        if only.is_some_and(|id| *id != key.id()) {
            continue;
        }
        let check = match client.key_info(key).await {
            Ok(info) => {
                pool.ledger()
                    .set_key_status(&key.id(), KeyStatus::Ok, None, None)?;
                let note = crate::reconcile::record(pool, key, &info)?.note;
                KeyCheck::accepted(key.id(), key.masked().into(), info, note)
            }
            Err(f) => {
                match f.class {
                    FailureClass::KeyInvalid => pool.ledger().set_key_status(
                        &key.id(),
                        KeyStatus::Invalid,
                        None,
                        Some(&f.message),
                    )?,
                    FailureClass::NoCredit => pool.ledger().set_key_status(
                        &key.id(),
                        KeyStatus::NoCredit,
                        None,
                        Some(&f.message),
                    )?,
                    _ => {}
                }
                KeyCheck::refused(key.id(), key.masked().into(), failure_sentence(&f))
            }
        };
        out.push(check);
    }
    if let Some(id) = only
        && out.is_empty()
    {
        return Err(Error::Usage(format!(
            "the key {id} is not available to this process (keychain or OPENROUTER_API_KEYS)"
        )));
    }
    Ok(out)
}

//! The model catalogue (`GET /models`), cached for a day in the shared ledger, and key checks
//! (`GET /key`, zero quota cost).

use chrono::Duration;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::ledger::KeyStatus;
use crate::openrouter::classify::failure_sentence;
use crate::openrouter::types::{KeyInfo, ModelInfo};
use crate::openrouter::{FailureClass, OpenRouter};
use crate::pool::Pool;

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

/// One key's check.
#[derive(Debug, Clone, Serialize)]
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
                KeyCheck {
                    id: key.id(),
                    masked: key.masked().into(),
                    ok: true,
                    info: Some(info),
                    error: None,
                }
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
                KeyCheck {
                    id: key.id(),
                    masked: key.masked().into(),
                    ok: false,
                    info: None,
                    error: Some(failure_sentence(&f)),
                }
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

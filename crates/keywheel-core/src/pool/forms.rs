//! What a window sends as a form: a key edit and a request-log query, in the web view's JSON
//! (`null` = unchanged or no filter), turned into the ledger's own types; a key edit answers
//! with the key as listed.

use serde::Deserialize;

use super::{KeyView, Pool};
use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::keys::KeyId;
use crate::ledger::KeyUpdate;
use crate::ledger::request_log::{LogFilter, StatusClass};

/// Most request-log rows one query returns.
pub const MAX_LOG_ROWS: usize = 1000;

/// A change to one key (`null` = unchanged).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyPatch {
    /// New label.
    pub label: Option<String>,
    /// New account (`""` = its own account).
    pub account: Option<String>,
    /// New daily cap.
    pub daily_cap: Option<u32>,
    /// New per-minute cap.
    pub minute_cap: Option<u32>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Return both caps to the defaults.
    #[serde(default)]
    pub reset_caps: bool,
}

impl From<KeyPatch> for KeyUpdate {
    fn from(p: KeyPatch) -> Self {
        let cap = |c: Option<u32>| {
            if p.reset_caps {
                Some(None)
            } else {
                c.map(Some)
            }
        };
        KeyUpdate {
            daily_cap: cap(p.daily_cap),
            minute_cap: cap(p.minute_cap),
            label: p.label,
            account: p.account,
            enabled: p.enabled,
        }
    }
}

impl Pool {
    /// One key as the key list shows it.
    pub fn key_view(&self, id: &KeyId) -> Result<KeyView> {
        self.key_views()?
            .into_iter()
            .find(|k| k.id == *id)
            .ok_or_else(|| Error::Usage(format!("the key {id} is no longer listed; reload")))
    }

    /// Applies a window's key edit to the key `typed_id` names; answers with it as listed.
    pub fn patch_key(&self, typed_id: &str, patch: KeyPatch) -> Result<KeyView> {
        let rec = self.update_key(typed_id, &patch.into())?;
        self.key_view(&rec.id)
    }
}

/// Filters for the request log.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogQuery {
    /// Only this key id.
    pub key_id: Option<String>,
    /// Chat or OCR.
    pub kind: Option<Kind>,
    /// Only this outcome class (`ok`, `rate_limited`, …).
    pub status_class: Option<StatusClass>,
    /// Only requests that fell back or rotated.
    #[serde(default)]
    pub only_fallbacks: bool,
    /// At most this many rows, newest first (0 = 100).
    #[serde(default)]
    pub limit: u32,
}

impl From<LogQuery> for LogFilter {
    /// An empty key id is no filter; at most [`MAX_LOG_ROWS`] rows.
    fn from(q: LogQuery) -> Self {
        LogFilter {
            key_id: q.key_id.filter(|s| !s.is_empty()),
            kind: q.kind,
            status_class: q.status_class.filter(|s| !s.as_str().is_empty()),
            only_fallbacks: q.only_fallbacks,
            since: None,
            limit: (q.limit as usize).min(MAX_LOG_ROWS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_patch_changes_what_it_names_and_resets_both_caps() {
        let u = KeyUpdate::from(KeyPatch {
            daily_cap: Some(30),
            enabled: Some(false),
            ..KeyPatch::default()
        });
        assert_eq!((u.daily_cap, u.minute_cap), (Some(Some(30)), None));
        assert_eq!((u.enabled, u.label, u.account), (Some(false), None, None));
        let u = KeyUpdate::from(KeyPatch {
            daily_cap: Some(30),
            reset_caps: true,
            ..KeyPatch::default()
        });
        assert_eq!((u.daily_cap, u.minute_cap), (Some(None), Some(None)));
        let p: KeyPatch = serde_json::from_str(
            r#"{"label":"work","account":null,"daily_cap":null,"minute_cap":null,"enabled":null}"#,
        )
        .unwrap();
        assert_eq!((p.label.as_deref(), p.reset_caps), (Some("work"), false));
    }

    #[test]
    fn a_log_query_drops_empty_filters_and_is_bounded() {
        let f = LogFilter::from(LogQuery {
            key_id: Some(String::new()),
            limit: 50_000,
            only_fallbacks: true,
            ..LogQuery::default()
        });
        assert_eq!(
            (f.key_id, f.limit, f.only_fallbacks),
            (None, MAX_LOG_ROWS, true)
        );
        let f = LogFilter::from(LogQuery {
            key_id: Some("0123456789ab".into()),
            kind: Some(Kind::Ocr),
            ..LogQuery::default()
        });
        assert_eq!(f.key_id.as_deref(), Some("0123456789ab"));
        assert_eq!((f.kind, f.limit), (Some(Kind::Ocr), 0));
    }
}

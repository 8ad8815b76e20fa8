//! What OpenRouter says about a key and its past requests: `GET /key` ([`KeyInfo`], with the
//! account's [`FreeModelDailyRequests`]) and `GET /generation` ([`Generation`]). Both cost no
//! quota.

use serde::{Deserialize, Serialize};

use super::lenient::{lenient, opt_bool, opt_f64, opt_string, opt_u64};

/// `GET /key`: what OpenRouter knows about the key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct KeyInfo {
    /// Display label (often OpenRouter's own masked key, e.g. `sk-or-v1-4f2...9ab`).
    #[serde(deserialize_with = "opt_string")]
    pub label: Option<String>,
    /// The key's spend cap in USD; `None` = no cap.
    #[serde(deserialize_with = "opt_f64")]
    pub limit: Option<f64>,
    /// Cap left; `None` = no cap.
    #[serde(deserialize_with = "opt_f64")]
    pub limit_remaining: Option<f64>,
    /// `daily`, `weekly`, `monthly` or `None`.
    #[serde(deserialize_with = "opt_string")]
    pub limit_reset: Option<String>,
    /// All-time spend, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub usage: Option<f64>,
    /// Spend this UTC day, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub usage_daily: Option<f64>,
    /// True if the account never bought credits.
    #[serde(deserialize_with = "opt_bool")]
    pub is_free_tier: Option<bool>,
    /// Management key (cannot chat).
    #[serde(deserialize_with = "opt_bool")]
    pub is_management_key: Option<bool>,
    /// The account that created the key (`user_…`), when OpenRouter says: keys of one
    /// account share it.
    #[serde(deserialize_with = "opt_string")]
    pub creator_user_id: Option<String>,
    /// Expiry (ISO-8601), if any.
    #[serde(deserialize_with = "opt_string")]
    pub expires_at: Option<String>,
    /// The account's free-model request counter for the UTC day (newest servers only).
    #[serde(deserialize_with = "lenient")]
    pub free_model_daily_requests: Option<FreeModelDailyRequests>,
}

/// `free_model_daily_requests`: the account-wide `:free` counter, reset at UTC midnight.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct FreeModelDailyRequests {
    /// 50 or 1000.
    #[serde(deserialize_with = "opt_u64")]
    pub limit: Option<u64>,
    /// Used today.
    #[serde(deserialize_with = "opt_u64")]
    pub used: Option<u64>,
    /// Left today.
    #[serde(deserialize_with = "opt_u64")]
    pub remaining: Option<u64>,
}

/// `GET /generation?id=…`: the essentials of one past request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Generation {
    /// Generation id.
    #[serde(deserialize_with = "opt_string")]
    pub id: Option<String>,
    /// The model that answered.
    #[serde(deserialize_with = "opt_string")]
    pub model: Option<String>,
    /// The provider that served it.
    #[serde(deserialize_with = "opt_string")]
    pub provider_name: Option<String>,
    /// Normalised prompt tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub tokens_prompt: Option<u64>,
    /// Normalised completion tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub tokens_completion: Option<u64>,
    /// Native prompt tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_prompt: Option<u64>,
    /// Native completion tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_completion: Option<u64>,
    /// Native reasoning tokens.
    #[serde(deserialize_with = "opt_u64")]
    pub native_tokens_reasoning: Option<u64>,
    /// Total cost, USD.
    #[serde(deserialize_with = "opt_f64")]
    pub total_cost: Option<f64>,
    /// Latency, milliseconds.
    #[serde(deserialize_with = "opt_u64")]
    pub latency: Option<u64>,
    /// Normalised finish reason.
    #[serde(deserialize_with = "opt_string")]
    pub finish_reason: Option<String>,
    /// Whether it was streamed.
    #[serde(deserialize_with = "opt_bool")]
    pub streamed: Option<bool>,
    /// Whether it was cancelled.
    #[serde(deserialize_with = "opt_bool")]
    pub cancelled: Option<bool>,
    /// Creation time (ISO-8601).
    #[serde(deserialize_with = "opt_string")]
    pub created_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrouter::types::lenient::DataEnvelope;

    #[test]
    fn key_info_parses_both_reference_bodies() {
        let full = r#"{"data":{"label":"sk-or-v1-4f2...9ab","limit":5,"limit_remaining":4.87,"limit_reset":"daily","include_byok_in_limit":false,
 "usage":12.34,"usage_daily":0.13,"usage_weekly":1.02,"usage_monthly":3.5,
 "byok_usage":0,"byok_usage_daily":0,"byok_usage_weekly":0,"byok_usage_monthly":0,
 "is_free_tier":false,"is_management_key":false,"is_provisioning_key":false,
 "expires_at":null,"creator_user_id":"user_2yOPcMpKoQhcd4bVgSMlELRaIah",
 "rate_limit":{"requests":-1,"interval":"10s","note":"This field is deprecated and safe to ignore."},
 "free_model_daily_requests":{"limit":1000,"used":12,"remaining":988}}}"#;
        let k: DataEnvelope<KeyInfo> = serde_json::from_str(full).unwrap();
        let k = k.data;
        assert_eq!(k.limit, Some(5.0));
        assert_eq!(k.limit_remaining, Some(4.87));
        assert_eq!(k.limit_reset.as_deref(), Some("daily"));
        assert_eq!(k.usage_daily, Some(0.13));
        assert_eq!(k.is_free_tier, Some(false));
        let f = k.free_model_daily_requests.unwrap();
        assert_eq!(
            (f.limit, f.used, f.remaining),
            (Some(1000), Some(12), Some(988))
        );

        let minimal = r#"{"data":{"label":"sk-or-v1-a1b...c3d","usage":0,"limit":null,"is_free_tier":true,"rate_limit":{"requests":20,"interval":"10s"}}}"#;
        let k: DataEnvelope<KeyInfo> = serde_json::from_str(minimal).unwrap();
        assert_eq!(k.data.limit, None);
        assert_eq!(k.data.is_free_tier, Some(true));
        assert_eq!(k.data.free_model_daily_requests, None);
    }

    #[test]
    fn generation_parses_reference_body() {
        let body = r#"{"data":{"id":"gen-1748781300-R1strEamExample000001","upstream_id":"chatcmpl-9f1c…","model":"deepseek/deepseek-r1","provider_name":"DeepInfra","streamed":true,"cancelled":false,
 "finish_reason":"stop","latency":2410,"generation_time":2120,"tokens_prompt":14,"tokens_completion":61,"native_tokens_prompt":14,"native_tokens_completion":61,"native_tokens_reasoning":48,
 "total_cost":0.0001623,"usage":0.0001623,"provider_responses":[{"provider_name":"DeepInfra","status":200}]}}"#;
        let g: DataEnvelope<Generation> = serde_json::from_str(body).unwrap();
        let g = g.data;
        assert_eq!(
            g.id.as_deref(),
            Some("gen-1748781300-R1strEamExample000001")
        );
        assert_eq!(g.native_tokens_reasoning, Some(48));
        assert_eq!(g.total_cost, Some(0.0001623));
        assert_eq!(g.latency, Some(2410));
        assert_eq!(g.streamed, Some(true));
    }
}

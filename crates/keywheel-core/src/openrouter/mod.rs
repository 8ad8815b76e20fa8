//! The OpenRouter HTTP client: typed requests and responses, the SSE stream reader, and the
//! one classification of failures (DESIGN §3) every caller uses.
//!
//! Layout:
//! - [`types`]: [`ChatRequest`] / [`Message`] (text, or text then images) and the lenient
//!   response types [`ChatResponse`], [`Usage`], [`KeyInfo`], [`ModelInfo`], [`Generation`].
//! - [`stream`]: the sans-IO SSE decoder [`SseDecoder`] → [`StreamEvent`]s, folded by
//!   [`StreamAccumulator`] into a [`ChatOutcome`].
//! - [`mod@classify`]: [`classify()`], [`classify_error_object`], [`classify_transport`] →
//!   [`ApiFailure`] with a [`FailureClass`]; [`failure_sentence`] for people.
//! - [`retry`]: [`Backoff`] with full jitter that honours server hints within a budget.
//! - [`client`]: [`OpenRouter`] (`chat`, `chat_stream`, `key_info`, `models`, `generation`),
//!   [`ClientConfig`], [`ChatReply`], [`CancelToken`].
//!
//! What each failure class asks the caller to do:
//!
//! | class | seen | action |
//! |---|---|---|
//! | `bad_request` | 400, 413, 422, image errors | no retry, no key penalty; name the input |
//! | `key_invalid` | 401 | mark the key invalid, alert, next key |
//! | `no_credit` | 402 | mark the account out of credit, alert, key of another account |
//! | `key_spend_limit` | 403 "Key limit exceeded" | key unusable until `limit_reset`, next key |
//! | `moderation` | 403 moderation / guardrail | no retry, no key penalty; show the reason |
//! | `model_unavailable` | 404 "No endpoints found…", availability errors | next model, remember for the day |
//! | `account_daily_exhausted` | 429 `free-models-per-day*` | account spent until `reset_at` (UTC midnight); key of another account |
//! | `rate_limited` | 429 per-minute, upstream 429, `capacity_exhausted` | wait (`retry_after` / `reset_at`) and retry the same key, bounded |
//! | `transient` | 408, 5xx, 524, 529, timeouts, resets, cut streams, HTML, empty 200, 5xx errors inside 200 | retry with backoff, then next model; no key penalty |
//! | `cancelled` | the caller cancelled | stop |
//!
//! The methods on [`FailureClass`] ([`is_retryable`](FailureClass::is_retryable),
//! [`penalizes_key`](FailureClass::penalizes_key), [`is_account_wide`](FailureClass::is_account_wide),
//! [`next_model`](FailureClass::next_model), [`is_final`](FailureClass::is_final)) encode this table.
//!
//! Keys travel only in the `Authorization` header; failures, logs and `Debug` output never
//! carry one (upstream messages are scrubbed of anything key-shaped as well).

pub mod classify;
pub mod client;
pub mod retry;
pub mod stream;
pub mod types;

pub use classify::{
    ApiFailure, FailureClass, KeyPenalty, RateLimitInfo, classify, classify_error_object,
    classify_transport, failure_sentence, failure_sentence_at,
};
pub use client::{
    CancelToken, ChatReply, ClientConfig, DEFAULT_BASE_URL, OpenRouter, check_base_url,
};
pub use retry::{Backoff, RetrySchedule};
pub use stream::{ChatOutcome, SseDecoder, StreamAccumulator, StreamEvent};
pub use types::{
    AssistantMessage, ChatRequest, ChatResponse, Choice, Content, ContentPart,
    FreeModelDailyRequests, Generation, ImageUrl, KeyInfo, Message, ModelInfo, Pricing,
    ReasoningConfig, Role, Usage, UsageRequest,
};

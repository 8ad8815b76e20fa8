//! The OpenRouter HTTP client: typed requests and responses, the SSE stream reader, and the
//! one classification of failures (docs/errors.md) every caller uses.
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
//! What each failure class asks the caller to do is one table, in docs/errors.md and in
//! [`crate::dispatch::policy::next_step`] (the code); [`mod@classify`] only says which class a
//! failure is.
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

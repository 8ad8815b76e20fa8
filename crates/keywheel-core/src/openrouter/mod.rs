//! The OpenRouter HTTP client: typed requests and responses, the SSE stream reader, and the
//! one classification of failures (docs/errors.md) every caller uses.
//!
//! Layout:
//! - [`types`]: by domain — [`ChatRequest`] / [`Message`] (text, or text then images), the
//!   lenient answers [`ChatResponse`] / [`Usage`], the account's [`KeyInfo`] / [`Generation`],
//!   the catalogue's [`ModelInfo`].
//! - [`stream`]: the sans-IO SSE decoder [`SseDecoder`] → [`StreamEvent`]s, folded by
//!   [`StreamAccumulator`] into a [`ChatOutcome`].
//! - [`failure`]: [`ApiFailure`], its [`FailureClass`], the [`KeyPenalty`]s, the one failure →
//!   action table ([`FailureClass::remedy`] → [`Remedy`]) and [`failure_sentence`] for people.
//! - [`mod@classify`]: wire bodies → failures ([`classify()`], [`classify_error_object`]);
//!   [`classify_transport`] (in [`client`]) for requests that got no usable response.
//! - [`headers`]: `X-RateLimit-*`, `Retry-After` and reset hints, with "now" passed in.
//! - [`retry`]: [`Backoff`] with full jitter that honours server hints within a budget.
//! - [`client`]: [`OpenRouter`] (`chat`, `chat_stream`, `key_info`, `models`, `generation`),
//!   [`ClientConfig`], [`ChatReply`]. Its cancellation signal is [`crate::cancel::CancelToken`].
//!
//! The table lives in [`failure`]; [`crate::dispatch::policy::next_step`] adds the counting of
//! attempts and waits, and [`mod@classify`] only says which class a failure is.
//!
//! Keys travel only in the `Authorization` header; failures, logs and `Debug` output never
//! carry one (upstream messages are scrubbed of anything key-shaped as well).

pub mod classify;
pub mod client;
pub mod failure;
pub mod headers;
pub mod retry;
pub mod stream;
pub mod types;

pub use crate::cancel::CancelToken;
pub use classify::{classify, classify_at, classify_error_object};
pub use client::{
    ChatReply, ClientConfig, DEFAULT_BASE_URL, OpenRouter, check_base_url, classify_transport,
};
pub use failure::{
    ApiFailure, FailureClass, KeyPenalty, Remedy, failure_sentence, failure_sentence_at,
};
pub use headers::RateLimitInfo;
pub use retry::{Backoff, RetrySchedule};
pub use stream::{ChatOutcome, SseDecoder, StreamAccumulator, StreamEvent};
pub use types::{
    AssistantMessage, ChatRequest, ChatResponse, Choice, Content, ContentPart,
    FreeModelDailyRequests, Generation, ImageUrl, KeyInfo, Message, ModelInfo, Pricing,
    ReasoningConfig, Role, Usage, UsageRequest,
};

//! Request and response types of the OpenRouter API (docs/openrouter.md), one file per domain:
//!
//! - [`request`]: [`ChatRequest`], [`Message`], [`Content`], [`ReasoningConfig`], …
//! - [`response`]: [`ChatResponse`], [`Choice`], [`AssistantMessage`], [`Usage`].
//! - [`account`]: `GET /key` ([`KeyInfo`]) and `GET /generation` ([`Generation`]).
//! - [`models`]: `GET /models` ([`ModelInfo`], [`Pricing`]).
//! - `lenient`: the parsing helpers the response types share.
//!
//! Requests serialize exactly to OpenRouter's shapes. Responses are lenient: every field has a
//! default, `null` is accepted everywhere, unknown fields are ignored, numbers may come as
//! strings and one malformed field never fails the whole parse.

pub mod account;
pub(crate) mod lenient;
pub mod models;
pub mod request;
pub mod response;

pub use account::{FreeModelDailyRequests, Generation, KeyInfo};
pub(crate) use lenient::{DataEnvelope, value_u64};
pub use models::{ModelInfo, Pricing};
pub use request::{
    ChatRequest, Content, ContentPart, ImageUrl, Message, ReasoningConfig, Role, UsageRequest,
};
pub(crate) use response::details_text;
pub use response::{AssistantMessage, ChatResponse, Choice, Usage};

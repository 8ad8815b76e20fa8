//! The gateway end to end, against keywheel-mock on 127.0.0.1: in-process (`Gateway::start`)
//! for the pool rules, and as the real `keywheel serve` process for signals, exit codes and
//! the official OpenAI SDKs (Python `openai` in `.tools/venv`, npm `openai` in
//! `tests/js/node_modules`), plus the four Python examples. `team` needs a PostgreSQL: run the
//! binary under `bash scripts/with-postgres.sh`.
//!
//! The process tests run `target/<profile>/keywheel`; `make test-gateway` (and `cargo test
//! --workspace`) build it first.

mod access;
mod common;
mod embedded;
mod examples;
mod requests;
mod sdk;
mod sessions;
mod streams;
mod team;

//! keywheel-testkit: the helpers Keywheel's test binaries and examples share, so that none is
//! written twice. Dev-only: it is never published and no shipped crate depends on it (only
//! `[dev-dependencies]`).
//!
//! - [`keys`]: fake keys of the real shape (`sk-or-v1-` + 64 hex, never valid anywhere), key
//!   ids, searching outputs for key material;
//! - [`output`]: a child process's stdout/stderr as text, one JSON document or JSON lines;
//! - [`files`]: every file under a directory (for the "no key on disk" checks);
//! - [`http`]: a raw HTTP/1.1 exchange over a socket, and (feature `http`) a reqwest client;
//! - [`world`] (feature `world`): a temp data dir, keywheel-mock on 127.0.0.1 and a clean
//!   environment for the `keywheel` binary;
//! - [`images`] (feature `images`): images made in code;
//! - [`backend`] (feature `core`): the examples' choice between OpenRouter and the mock;
//! - [`pg`]: a fresh database on the team-ledger tests' PostgreSQL.
//!
//! See ARCHITECTURE.md "Tests".

pub mod files;
pub mod http;
pub mod keys;
pub mod output;
pub mod pg;

#[cfg(feature = "core")]
pub mod backend;
#[cfg(feature = "images")]
pub mod images;
#[cfg(feature = "world")]
pub mod world;

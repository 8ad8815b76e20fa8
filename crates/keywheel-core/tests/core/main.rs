//! keywheel-core integration tests, one binary (linking is the slow part on 2 cores).
//! Each module is one area; see ARCHITECTURE.md "Tests".
mod dispatch_actions;
#[cfg(unix)]
mod ledger_kill9;
mod ledger_multiprocess;
mod ledger_proptest;
mod openrouter_client;
mod pool_rules;

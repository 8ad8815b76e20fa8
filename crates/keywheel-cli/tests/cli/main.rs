//! The `keywheel` CLI end to end, one binary: each module runs the real binary against
//! keywheel-mock on 127.0.0.1 with its own data dir.
mod ask;
mod capture;
mod foundation;
mod ledger;
mod ledger_move;
mod ledger_secure;
mod monitoring;
mod ocr;
mod team;

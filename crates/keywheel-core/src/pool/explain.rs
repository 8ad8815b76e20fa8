//! The sentence shown when no key can serve (docs/pool.md §7), and whether it is a quota problem
//! (exit 3: wait for a reset) or a key problem (exit 4: fix or add keys).

use chrono::{DateTime, Utc};

use crate::clock::describe_reset;
use crate::error::Error;
use crate::ledger::KeyStatus;
use crate::ledger::reserve::{Availability, KeyState};

/// Builds the error for "nothing can serve" from the candidate keys' states.
pub fn explain_unavailable(states: &[KeyState], ring_len: usize, now: DateTime<Utc>) -> Error {
    if ring_len == 0 {
        return Error::NoUsableKey(
            "no OpenRouter key is configured; add one with `keywheel keys add` (it reads the key from standard input) or set OPENROUTER_API_KEYS".into(),
        );
    }
    let n = states.len();
    let keys = if n == 1 {
        "key".to_string()
    } else {
        format!("{n} keys")
    };
    let frees: Option<DateTime<Utc>> = states
        .iter()
        .filter_map(|s| s.availability.frees_at())
        .min();
    let all_daily = states.iter().all(|s| {
        matches!(
            s.availability,
            Availability::KeySpent { .. } | Availability::AccountSpent { .. }
        )
    });
    if let Some(at) = frees {
        let when = describe_reset(at, now);
        let message = if all_daily {
            let all = if n == 1 {
                "the only key is".to_string()
            } else {
                format!("all {keys} are")
            };
            format!("{all} spent for today; the next one frees at {when}")
        } else {
            format!(
                "no key can be used right now ({}); the next one frees at {when}",
                tally(states)
            )
        };
        return Error::QuotaExhausted {
            message,
            reset_at: at,
        };
    }
    Error::NoUsableKey(format!(
        "none of the {} can be used ({}); check them with `keywheel keys list`, enable one, or add a working key with `keywheel keys add`",
        if n == 1 { "1 key".to_string() } else { keys },
        tally(states)
    ))
}

fn tally(states: &[KeyState]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for s in states {
        let label = match &s.availability {
            Availability::Usable => "usable",
            Availability::Disabled => "disabled",
            Availability::Broken {
                status: KeyStatus::Invalid,
            } => "invalid (OpenRouter answered 401)",
            Availability::Broken {
                status: KeyStatus::NoCredit,
            } => "out of credit (402)",
            Availability::Broken { .. } => "unusable",
            Availability::Until { .. } => "at its spend limit",
            Availability::KeySpent { .. } => "spent for today",
            Availability::AccountSpent { .. } => "account spent for today",
        };
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, c)) => *c += 1,
            None => counts.push((label, 1)),
        }
    }
    counts
        .iter()
        .map(|(l, c)| format!("{c} {l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

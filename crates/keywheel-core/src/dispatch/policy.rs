//! What to do after a failed request, as one pure function ([`next_step`]) tested row by row
//! without HTTP (docs/errors.md). What each failure class asks for is the one table,
//! [`FailureClass::remedy`](crate::openrouter::FailureClass::remedy) (module docs of [`crate::openrouter::failure`]); this module adds
//! the counting:
//!
//! | remedy | step |
//! |---|---|
//! | [`Remedy::Stop`] | [`Step::Stop`] |
//! | [`Remedy::OtherKey`] | [`Step::FallBack`] to another key (of another account when account-wide) |
//! | [`Remedy::DropPaidModels`] | [`Step::NextModel`] ([`ModelMove::PaidRefused`]) |
//! | [`Remedy::SkipModel`] | [`Step::NextModel`] ([`ModelMove::Gone`]) |
//! | [`Remedy::WaitInFlight`] | [`Step::Retry`] after `Retry-After` (not charged to the budget), at most [`IN_FLIGHT_WAITS`] times |
//! | [`Remedy::Retry`] | [`Step::Retry`] once on the same model, then [`Step::NextModel`] ([`ModelMove::Persistent`]) |
//!
//! Quota is money: every attempt that reaches OpenRouter is a counted request, so one model
//! gets at most [`PER_MODEL`] attempts, and one job at most `max_attempts` (a setting, 4 by
//! default) over its whole chain. Past either, the chain moves on or the job gives up.

use std::time::Duration;

use crate::ledger::FailureScope;
use crate::openrouter::{ApiFailure, KeyPenalty, Remedy};

/// Most counted attempts one model gets in one job before the chain moves on.
pub const PER_MODEL: u32 = 2;

/// Most in-flight-budget waits one job takes (each is a short `Retry-After`).
pub const IN_FLIGHT_WAITS: u32 = 3;

/// Why the chain leaves its current model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelMove {
    /// The model is gone or has no endpoint: skip it for the UTC day, refresh the catalogue.
    Gone,
    /// It kept failing (transient, rate limited): next model, for this job only.
    Persistent,
    /// A paid model, and the account has no credits: paid models are out for the day.
    PaidRefused,
}

/// The next step of a job after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// End the job with this failure (the person gets its sentence).
    Stop,
    /// Record `penalty` against the key and move to another key (of another account when
    /// `scope` says so).
    FallBack {
        /// What to record.
        penalty: KeyPenalty,
        /// Key or account.
        scope: FailureScope,
    },
    /// Leave the current model.
    NextModel(ModelMove),
    /// Send again on the same key and model after the wait.
    Retry(Duration),
    /// The job's budget or wait is spent: end it with an upstream error.
    GiveUp,
}

/// Where the job stands, as far as the decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Attempts on the current model, the failed one included.
    pub on_model: u32,
    /// Attempts charged to the job's budget, the failed one included.
    pub charged: u32,
    /// The job's budget (`max_attempts`).
    pub budget: u32,
    /// In-flight-budget waits taken so far.
    pub in_flight_waits: u32,
    /// Models left in the chain after the current one.
    pub models_after: usize,
    /// Time waited so far, and the most the job may wait.
    pub waited: Duration,
    /// The most the job may wait in total.
    pub max_wait: Duration,
}

/// Decides what follows `f`. `model_is_free` tells a 402 on a free model (the key's account is
/// out of credit) from one on a paid model (the account cannot buy paid models).
/// `backoff` is the wait the retry schedule offers for this failure (`None` when spent).
pub fn next_step(
    f: &ApiFailure,
    model_is_free: bool,
    tally: &Tally,
    backoff: Option<Duration>,
) -> Step {
    let over_budget = tally.charged >= tally.budget;
    let next_model = |why| {
        if tally.models_after > 0 && !over_budget {
            Step::NextModel(why)
        } else {
            Step::GiveUp
        }
    };
    match f.class.remedy(model_is_free) {
        Remedy::Stop => Step::Stop,
        Remedy::OtherKey {
            penalty,
            account_wide,
        } => {
            let scope = if account_wide {
                FailureScope::Account
            } else {
                FailureScope::Key
            };
            fall_back(penalty, scope, over_budget)
        }
        Remedy::DropPaidModels => next_model(ModelMove::PaidRefused),
        Remedy::SkipModel => next_model(ModelMove::Gone),
        Remedy::WaitInFlight => {
            let wait = f.retry_after.unwrap_or(Duration::from_secs(1));
            if tally.in_flight_waits < IN_FLIGHT_WAITS && tally.waited + wait <= tally.max_wait {
                Step::Retry(wait)
            } else {
                next_model(ModelMove::Persistent)
            }
        }
        Remedy::Retry => match backoff {
            Some(wait)
                if tally.on_model < PER_MODEL
                    && !over_budget
                    && tally.waited + wait <= tally.max_wait =>
            {
                Step::Retry(wait)
            }
            _ => next_model(ModelMove::Persistent),
        },
    }
}

fn fall_back(penalty: KeyPenalty, scope: FailureScope, over_budget: bool) -> Step {
    if over_budget {
        Step::GiveUp
    } else {
        Step::FallBack { penalty, scope }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrouter::FailureClass;

    fn tally() -> Tally {
        Tally {
            on_model: 1,
            charged: 1,
            budget: 4,
            in_flight_waits: 0,
            models_after: 2,
            waited: Duration::ZERO,
            max_wait: Duration::from_secs(180),
        }
    }

    fn step(class: FailureClass, free: bool, t: Tally) -> Step {
        next_step(
            &ApiFailure::new(class, "x"),
            free,
            &t,
            Some(Duration::from_millis(500)),
        )
    }

    #[test]
    fn the_table_row_by_row() {
        use FailureClass as C;
        let t = tally();
        let rows: [(C, bool, Step); 13] = [
            (C::BadRequest, true, Step::Stop),
            (C::RequestTooHeavy, false, Step::Stop),
            (C::Moderation, true, Step::Stop),
            (C::Cancelled, true, Step::Stop),
            (
                C::KeyInvalid,
                true,
                Step::FallBack {
                    penalty: KeyPenalty::Invalid,
                    scope: FailureScope::Key,
                },
            ),
            (
                C::KeySpendLimit,
                false,
                Step::FallBack {
                    penalty: KeyPenalty::SpendLimit,
                    scope: FailureScope::Key,
                },
            ),
            (
                C::AccountDailyExhausted,
                true,
                Step::FallBack {
                    penalty: KeyPenalty::AccountDailyExhausted,
                    scope: FailureScope::Account,
                },
            ),
            (
                C::NoCredit,
                true,
                Step::FallBack {
                    penalty: KeyPenalty::NoCredit,
                    scope: FailureScope::Account,
                },
            ),
            (C::NoCredit, false, Step::NextModel(ModelMove::PaidRefused)),
            (C::ModelUnavailable, true, Step::NextModel(ModelMove::Gone)),
            (
                C::InFlightBudget,
                false,
                Step::Retry(Duration::from_secs(1)),
            ),
            (
                C::RateLimited,
                true,
                Step::Retry(Duration::from_millis(500)),
            ),
            (C::Transient, true, Step::Retry(Duration::from_millis(500))),
        ];
        for (class, free, want) in rows {
            assert_eq!(step(class, free, t), want, "{class} (free model: {free})");
        }
    }

    #[test]
    fn a_persistent_failure_costs_at_most_two_requests_per_model() {
        let second = Tally {
            on_model: 2,
            charged: 2,
            ..tally()
        };
        assert_eq!(
            step(FailureClass::Transient, true, second),
            Step::NextModel(ModelMove::Persistent)
        );
        let last_model = Tally {
            models_after: 0,
            ..second
        };
        assert_eq!(
            step(FailureClass::Transient, true, last_model),
            Step::GiveUp
        );
    }

    #[test]
    fn the_job_budget_caps_the_whole_chain() {
        let spent = Tally {
            on_model: 1,
            charged: 4,
            ..tally()
        };
        for class in [
            FailureClass::Transient,
            FailureClass::ModelUnavailable,
            FailureClass::KeyInvalid,
            FailureClass::NoCredit,
        ] {
            assert_eq!(step(class, true, spent), Step::GiveUp, "{class}");
        }
        assert_eq!(step(FailureClass::BadRequest, true, spent), Step::Stop);
    }

    #[test]
    fn waits_are_bounded() {
        let waited = Tally {
            waited: Duration::from_secs(180),
            ..tally()
        };
        assert_eq!(
            step(FailureClass::RateLimited, true, waited),
            Step::NextModel(ModelMove::Persistent)
        );
        let many = Tally {
            in_flight_waits: IN_FLIGHT_WAITS,
            ..tally()
        };
        assert_eq!(
            step(FailureClass::InFlightBudget, false, many),
            Step::NextModel(ModelMove::Persistent)
        );
        let no_backoff = next_step(
            &ApiFailure::new(FailureClass::Transient, "x"),
            true,
            &tally(),
            None,
        );
        assert_eq!(no_backoff, Step::NextModel(ModelMove::Persistent));
    }
}

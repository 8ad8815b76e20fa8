//! Model chains resolved against OpenRouter's catalogue (docs/models.md).
//!
//! A configured chain is an ordered *preference*, not a list to send blindly. Before a request:
//!
//! 1. every preferred entry the catalogue lacks is dropped ("no longer offered"), and so is a
//!    model that failed model-level today (`model_skips`);
//! 2. an account that cannot buy paid models ([`Credits::FreeOnly`]) keeps only free entries
//!    (`:free`, or zero prompt and completion prices);
//! 3. the chain is completed from the catalogue with *free* models that fit the job, ranked:
//!    vision models take images and answer in text (no routers, safety classifiers, audio or
//!    music models); chat models are the DeepSeek R1 family first, then reasoning models.
//!    Completion never adds a paid model the person did not choose.
//!
//! A pinned model (`--model`, or `vision_pin` / `chat_pin`) is used as given, but must be in
//! the catalogue: an unknown id is a usage error with the closest ids, before anything is
//! reserved. Without a catalogue (OpenRouter unreachable) the configured chain is sent as is.
//!
//! [`resolve`] is pure: the catalogue, the account's credit state and today's skips go in, the
//! chain and the reason for every entry come out, so it is tested row by row.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::dispatch::Kind;
use crate::error::{Error, Result};
use crate::ledger::Credits;
use crate::openrouter::ModelInfo;

/// Longest chain sent (`model` + `models`); the retry budget rarely reaches its end anyway.
pub const MAX_CHAIN: usize = 3;

/// How the models of a job are chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModelChoice {
    /// The configured preferences for the job's kind (or its pinned setting), resolved.
    #[default]
    Default,
    /// These preferences instead of the configured ones (e.g. edited in the app), resolved.
    Prefer(Vec<String>),
    /// These ids, first choice first, exactly (each must be in the catalogue).
    Pinned(Vec<String>),
}

impl ModelChoice {
    /// The pin alone if one is set, else `chain` as preferences (resolved against the
    /// catalogue): how the app's chains and the gateway's aliases choose their models.
    pub fn from_pin_or_chain(chain: &[String], pin: Option<&str>) -> Self {
        match pin {
            Some(p) => Self::Pinned(vec![p.to_string()]),
            None => Self::Prefer(chain.to_vec()),
        }
    }

    /// The ids this choice names, first choice first (none for [`ModelChoice::Default`]).
    pub fn ids(&self) -> &[String] {
        match self {
            Self::Default => &[],
            Self::Prefer(list) | Self::Pinned(list) => list,
        }
    }
}

/// The catalogue, indexed by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    models: Vec<ModelInfo>,
    by_id: HashMap<String, usize>,
}

impl Catalogue {
    /// Indexes a `/models` list.
    pub fn new(models: Vec<ModelInfo>) -> Self {
        let by_id = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        Self { models, by_id }
    }

    /// Every model, in OpenRouter's order.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// One model by id.
    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// Whether `id` is free to use: as the catalogue prices it, else by its `:free` suffix.
    pub fn is_free(&self, id: &str) -> bool {
        self.get(id)
            .map_or(id.ends_with(":free"), ModelInfo::is_free)
    }

    /// The `n` ids closest to `id` (for "did you mean").
    pub fn closest(&self, id: &str, n: usize) -> Vec<String> {
        let want = id.to_ascii_lowercase();
        let tail = want.rsplit('/').next().unwrap_or(&want).to_string();
        let mut scored: Vec<(f64, &str)> = self
            .models
            .iter()
            .map(|m| {
                let have = m.id.to_ascii_lowercase();
                let have_tail = have.rsplit('/').next().unwrap_or(&have);
                let score =
                    strsim::jaro_winkler(&want, &have).max(strsim::jaro_winkler(&tail, have_tail));
                (score, m.id.as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(n)
            .map(|(_, id)| id.to_string())
            .collect()
    }
}

/// Why an entry is in the chain or out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum EntryReason {
    /// A preference the catalogue lists and the account can use.
    Preferred,
    /// Added from the catalogue: free and fit for the job.
    Completed,
    /// Pinned by the person.
    Pinned,
    /// Sent as configured: the catalogue could not be read.
    Unchecked,
    /// A preference OpenRouter no longer lists.
    NotOffered,
    /// A paid preference, and the account has no credits.
    PaidWithoutCredits,
    /// It failed model-level earlier today (e.g. "No endpoints found").
    UnavailableToday,
    /// It does not fit the job (e.g. a vision preference that takes no images).
    Unfit,
    /// The chain was already long enough.
    BeyondChain,
}

impl EntryReason {
    /// Whether the entry is sent.
    pub fn included(&self) -> bool {
        matches!(
            self,
            EntryReason::Preferred
                | EntryReason::Completed
                | EntryReason::Pinned
                | EntryReason::Unchecked
        )
    }

    /// A short phrase for lists ("no longer offered by OpenRouter").
    pub fn phrase(&self, kind: Kind) -> &'static str {
        match (self, kind) {
            (EntryReason::Preferred, _) => "preferred, offered",
            (EntryReason::Completed, Kind::Ocr) => "added from the catalogue: free, takes images",
            (EntryReason::Completed, Kind::Chat) => {
                "added from the catalogue: free, shows its reasoning"
            }
            (EntryReason::Pinned, _) => "pinned",
            (EntryReason::Unchecked, _) => "sent as configured (no catalogue)",
            (EntryReason::NotOffered, _) => "no longer offered by OpenRouter",
            (EntryReason::PaidWithoutCredits, _) => "paid, and this account has no credits",
            (EntryReason::UnavailableToday, _) => "unavailable today",
            (EntryReason::Unfit, Kind::Ocr) => "does not take images",
            (EntryReason::Unfit, Kind::Chat) => "does not answer in text",
            (EntryReason::BeyondChain, _) => "not needed (the chain is full)",
        }
    }
}

/// One entry of a resolved chain, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainEntry {
    /// Model id.
    pub id: String,
    /// Whether it is sent.
    pub included: bool,
    /// Why.
    pub reason: EntryReason,
    /// The phrase for `reason`.
    pub why: String,
    /// Free to use (`None` when the catalogue is not known).
    pub free: Option<bool>,
}

/// A chain ready to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ResolvedChain {
    /// Chat or OCR.
    pub kind: Kind,
    /// What is sent, first choice first.
    pub models: Vec<String>,
    /// Every entry considered, with its reason.
    pub entries: Vec<ChainEntry>,
    /// Whether the catalogue was known.
    pub checked: bool,
    /// The account's credit state the chain was resolved for.
    pub credits: Credits,
    /// Sentences for the person: models no longer offered (said once per day by the
    /// dispatcher), the R1 story. `(subject, sentence)`; a subject of `""` is said every time.
    #[serde(skip)]
    pub notes: Vec<(String, String)>,
}

/// What [`resolve`] works from.
#[derive(Debug, Clone, Copy)]
pub struct ChainInputs<'a> {
    /// Chat or OCR.
    pub kind: Kind,
    /// The configured preferences.
    pub preferences: &'a [String],
    /// Pinned ids, if any (`--model`, or the pinned setting).
    pub pinned: Option<&'a [String]>,
    /// The catalogue, if it could be read.
    pub catalogue: Option<&'a Catalogue>,
    /// The account's credit state.
    pub credits: Credits,
    /// Models that failed model-level today.
    pub skipped: &'a [String],
    /// Today (`YYYY-MM-DD`, UTC), for catalogue expiration dates.
    pub today: &'a str,
}

/// Resolves a chain. Fails only for a pinned id the catalogue lacks ([`Error::Usage`], with
/// the closest ids) or a pinned paid model on an account without credits.
pub fn resolve(inp: &ChainInputs<'_>) -> Result<ResolvedChain> {
    let mut out = ResolvedChain {
        kind: inp.kind,
        models: Vec::new(),
        entries: Vec::new(),
        checked: inp.catalogue.is_some(),
        credits: inp.credits,
        notes: Vec::new(),
    };
    let Some(cat) = inp.catalogue else {
        let list = inp.pinned.unwrap_or(inp.preferences);
        for id in list {
            out.push(id, EntryReason::Unchecked, None);
        }
        return Ok(out);
    };
    let skipped: HashSet<&str> = inp.skipped.iter().map(String::as_str).collect();
    if let Some(pinned) = inp.pinned {
        // Today's skips still apply to a pinned chain, unless they would leave nothing.
        let all_skipped = pinned.iter().all(|id| skipped.contains(id.as_str()));
        for id in pinned {
            let Some(m) = cat.get(id) else {
                return Err(unknown_model(id, cat, inp.kind));
            };
            let reason = if !m.is_free() && !inp.credits.allows_paid() {
                EntryReason::PaidWithoutCredits
            } else if !all_skipped && skipped.contains(id.as_str()) {
                EntryReason::UnavailableToday
            } else {
                EntryReason::Pinned
            };
            out.push(id, reason, Some(m.is_free()));
        }
        if out.models.is_empty() {
            return Err(Error::Usage(format!(
                "{} is a paid model and this account has no credits on OpenRouter, so it would be refused; add credits at https://openrouter.ai/settings/credits or choose a free model{} (nothing was sent)",
                pinned.join(", "),
                free_example(cat, inp)
            )));
        }
        return Ok(out);
    }
    for id in inp.preferences {
        let reason = match cat.get(id) {
            None => EntryReason::NotOffered,
            Some(m) if !fits(m, inp.kind, inp.today) => EntryReason::Unfit,
            Some(m) if !m.is_free() && !inp.credits.allows_paid() => {
                EntryReason::PaidWithoutCredits
            }
            Some(_) if skipped.contains(id.as_str()) => EntryReason::UnavailableToday,
            Some(_) if out.models.len() >= MAX_CHAIN => EntryReason::BeyondChain,
            Some(_) => EntryReason::Preferred,
        };
        out.push(id, reason, cat.get(id).map(ModelInfo::is_free));
    }
    let mut candidates: Vec<&ModelInfo> = cat
        .models()
        .iter()
        .filter(|m| m.is_free() && fits(m, inp.kind, inp.today))
        .filter(|m| !skipped.contains(m.id.as_str()))
        .filter(|m| !out.entries.iter().any(|e| e.id == m.id))
        .collect();
    candidates.sort_by_cached_key(|m| rank(m, inp.kind));
    for m in candidates
        .into_iter()
        .take(MAX_CHAIN.saturating_sub(out.models.len()))
    {
        out.push(&m.id, EntryReason::Completed, Some(true));
    }
    out.explain(inp);
    Ok(out)
}

impl ResolvedChain {
    /// The sentences for the person (every note, without its once-a-day subject).
    pub fn sentences(&self) -> Vec<String> {
        self.notes.iter().map(|(_, n)| n.clone()).collect()
    }

    fn push(&mut self, id: &str, reason: EntryReason, free: Option<bool>) {
        if reason.included() {
            self.models.push(id.to_string());
        }
        self.entries.push(ChainEntry {
            id: id.to_string(),
            included: reason.included(),
            why: reason.phrase(self.kind).to_string(),
            reason,
            free,
        });
    }

    /// The notes for the person, once the chain is known.
    fn explain(&mut self, inp: &ChainInputs<'_>) {
        let first = self.models.first().cloned();
        let verb = match self.kind {
            Kind::Ocr => "reading with",
            Kind::Chat => "answering with",
        };
        let then = first
            .as_deref()
            .map_or("no model is left to use".to_string(), |m| {
                format!("{verb} {m}")
            });
        for e in &self.entries {
            if e.reason == EntryReason::NotOffered {
                self.notes.push((
                    format!("not-offered:{}", e.id),
                    format!("{} is no longer offered by OpenRouter; {then}", e.id),
                ));
            }
        }
        let r1_preferred = inp.preferences.iter().any(|p| is_r1(p));
        let r1_in = self.models.iter().any(|m| is_r1(m));
        if self.kind == Kind::Chat && r1_preferred && !r1_in {
            let priced_out = self
                .entries
                .iter()
                .any(|e| is_r1(&e.id) && e.reason == EntryReason::PaidWithoutCredits);
            let sentence = match (&first, priced_out) {
                (Some(m), true) => format!(
                    "DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with {m} instead — add credits or choose a model"
                ),
                (Some(m), false) => format!(
                    "DeepSeek R1 cannot be used right now; answering with {m} instead — choose a model to change that"
                ),
                (None, _) => "DeepSeek R1 cannot be used with this account, and no free reasoning model is offered; add credits or choose a model".to_string(),
            };
            self.notes.push((String::new(), sentence));
        }
    }
}

/// Whether `m` can do `kind`'s job at all.
fn fits(m: &ModelInfo, kind: Kind, today: &str) -> bool {
    if is_router(m) || is_safety_or_media(m) || !m.outputs_text_only() {
        return false;
    }
    if m.expiration_date.as_deref().is_some_and(|d| d < today) {
        return false;
    }
    match kind {
        Kind::Ocr => m.takes_images(),
        Kind::Chat => {
            m.input_modalities.is_empty() || m.input_modalities.iter().any(|i| i == "text")
        }
    }
}

/// Completion ranking (lower first).
fn rank(m: &ModelInfo, kind: Kind) -> (u8, u8, i64, i64, String) {
    let size = -(params_billions(&m.id) * 10.0) as i64;
    let context = -(m.context_length.unwrap_or(0) as i64);
    // Omni models (audio in) read images too, but a plain vision model is the better OCR.
    let extra_inputs = m.input_modalities.iter().any(|i| i == "audio") as u8;
    match kind {
        Kind::Ocr => (extra_inputs, 0, size, context, m.id.clone()),
        Kind::Chat => (
            (!is_r1(&m.id)) as u8,
            (!m.reasons()) as u8,
            size,
            context,
            m.id.clone(),
        ),
    }
}

/// A DeepSeek R1 variant (`deepseek/deepseek-r1`, `-0528`, distills).
pub fn is_r1(id: &str) -> bool {
    id.to_ascii_lowercase().contains("deepseek-r1")
}

fn is_router(m: &ModelInfo) -> bool {
    m.id.starts_with("openrouter/") || m.id.ends_with("/auto")
}

fn is_safety_or_media(m: &ModelInfo) -> bool {
    let text = format!(
        "{} {}",
        m.id.to_ascii_lowercase(),
        m.name.as_deref().unwrap_or("").to_ascii_lowercase()
    );
    [
        "guard",
        "safety",
        "shield",
        "moderation",
        "music",
        "lyria",
        "audio",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// The size in the id (`gemma-4-31b-it` → 31; `a4b` active-parameter tags are not sizes).
fn params_billions(id: &str) -> f64 {
    let tail = id.rsplit('/').next().unwrap_or(id);
    tail.split(['-', '_', ':', '.'])
        .filter_map(|t| {
            let t = t.to_ascii_lowercase();
            let n = t.strip_suffix('b')?;
            n.parse::<f64>().ok()
        })
        .fold(0.0, f64::max)
}

fn unknown_model(id: &str, cat: &Catalogue, kind: Kind) -> Error {
    let near = cat.closest(id, 3);
    let list = if kind == Kind::Ocr {
        "keywheel models --vision"
    } else {
        "keywheel models --chat"
    };
    Error::Usage(format!(
        "{id} is not a model OpenRouter offers; the closest are {}; `{list}` lists what can be used (nothing was sent)",
        near.join(", ")
    ))
}

fn free_example(cat: &Catalogue, inp: &ChainInputs<'_>) -> String {
    let mut free: Vec<&ModelInfo> = cat
        .models()
        .iter()
        .filter(|m| m.is_free() && fits(m, inp.kind, inp.today))
        .collect();
    free.sort_by_cached_key(|m| rank(m, inp.kind));
    free.first()
        .map_or(String::new(), |m| format!(" such as {}", m.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openrouter::Pricing;

    #[test]
    fn a_pin_is_chosen_alone_else_the_chain_is_preferred() {
        let chain = vec!["a/b".to_string(), "c/d".to_string()];
        let pinned = ModelChoice::from_pin_or_chain(&chain, Some("x/y:free"));
        assert_eq!(pinned, ModelChoice::Pinned(vec!["x/y:free".into()]));
        assert_eq!(pinned.ids(), ["x/y:free"]);
        let preferred = ModelChoice::from_pin_or_chain(&chain, None);
        assert_eq!(preferred, ModelChoice::Prefer(chain.clone()));
        assert_eq!(preferred.ids(), chain.as_slice());
        assert!(ModelChoice::Default.ids().is_empty());
    }

    fn model(id: &str, inputs: &[&str], price: f64, params: &[&str]) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            name: Some(id.into()),
            context_length: Some(100_000),
            input_modalities: inputs.iter().map(|s| s.to_string()).collect(),
            output_modalities: vec!["text".into()],
            pricing: Pricing {
                prompt: Some(price),
                completion: Some(price),
                ..Pricing::default()
            },
            expiration_date: None,
            supported_parameters: params.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue::new(vec![
            model(
                "qwen/qwen2.5-vl-72b-instruct",
                &["text", "image"],
                1e-6,
                &[],
            ),
            model("deepseek/deepseek-r1-0528", &["text"], 1e-6, &["reasoning"]),
            model("deepseek/deepseek-r1", &["text"], 1e-6, &["reasoning"]),
            model("google/gemma-4-31b-it:free", &["text", "image"], 0.0, &[]),
            model(
                "nvidia/nemotron-nano-12b-v2-vl:free",
                &["text", "image"],
                0.0,
                &["reasoning"],
            ),
            model(
                "nvidia/omni-30b:free",
                &["text", "image", "audio", "video"],
                0.0,
                &["reasoning"],
            ),
            model("openrouter/free", &["text", "image"], 0.0, &[]),
            model(
                "meta-llama/llama-guard-4-12b:free",
                &["text", "image"],
                0.0,
                &[],
            ),
            model("qwen/qwen3-235b-a22b:free", &["text"], 0.0, &["reasoning"]),
            model("mistral/small-24b:free", &["text"], 0.0, &[]),
        ])
    }

    fn prefs(kind: Kind) -> Vec<String> {
        let s = crate::config::Settings::default();
        match kind {
            Kind::Ocr => s.vision_models,
            Kind::Chat => s.chat_models,
        }
    }

    fn run(kind: Kind, credits: Credits, skipped: &[String]) -> ResolvedChain {
        let cat = catalogue();
        let p = prefs(kind);
        resolve(&ChainInputs {
            kind,
            preferences: &p,
            pinned: None,
            catalogue: Some(&cat),
            credits,
            skipped,
            today: "2026-12-01",
        })
        .unwrap()
    }

    #[test]
    fn a_free_account_reads_with_free_vision_models_and_is_told_why() {
        let c = run(Kind::Ocr, Credits::FreeOnly, &[]);
        assert_eq!(
            c.models,
            [
                "google/gemma-4-31b-it:free",
                "nvidia/nemotron-nano-12b-v2-vl:free",
                "nvidia/omni-30b:free"
            ],
            "free, image in, no router or guard, plain vision before omni, larger first"
        );
        let why: Vec<(&str, &EntryReason)> = c
            .entries
            .iter()
            .map(|e| (e.id.as_str(), &e.reason))
            .collect();
        assert_eq!(
            why[0],
            (
                "meta-llama/llama-3.2-90b-vision-instruct",
                &EntryReason::NotOffered
            )
        );
        assert_eq!(
            why[2],
            (
                "qwen/qwen2.5-vl-72b-instruct",
                &EntryReason::PaidWithoutCredits
            )
        );
        assert!(c.notes.iter().any(|(_, n)| n
            == "meta-llama/llama-3.2-90b-vision-instruct is no longer offered by OpenRouter; reading with google/gemma-4-31b-it:free"));
    }

    #[test]
    fn an_account_with_credits_gets_paid_preferences_first_then_free_ones() {
        let c = run(Kind::Ocr, Credits::Paid, &[]);
        assert_eq!(c.models[0], "qwen/qwen2.5-vl-72b-instruct");
        assert_eq!(c.models[1], "google/gemma-4-31b-it:free");
        let chat = run(Kind::Chat, Credits::Paid, &[]);
        assert_eq!(
            chat.models[..2],
            ["deepseek/deepseek-r1-0528", "deepseek/deepseek-r1"]
        );
        assert!(chat.notes.is_empty(), "R1 is there: nothing to explain");
        assert_eq!(
            run(Kind::Chat, Credits::Unknown, &[]).models[0],
            "deepseek/deepseek-r1-0528"
        );
    }

    #[test]
    fn a_free_account_gets_the_honest_r1_sentence_and_a_free_reasoning_model() {
        let c = run(Kind::Chat, Credits::FreeOnly, &[]);
        assert_eq!(c.models[0], "qwen/qwen3-235b-a22b:free", "{c:?}");
        assert!(
            !c.models.contains(&"mistral/small-24b:free".to_string())
                || c.models.len() == MAX_CHAIN
        );
        let r1: Vec<&String> = c
            .notes
            .iter()
            .filter(|(s, _)| s.is_empty())
            .map(|(_, n)| n)
            .collect();
        assert_eq!(
            r1,
            [
                "DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with qwen/qwen3-235b-a22b:free instead — add credits or choose a model"
            ]
        );
    }

    #[test]
    fn models_skipped_today_are_out() {
        let c = run(
            Kind::Ocr,
            Credits::FreeOnly,
            &["google/gemma-4-31b-it:free".into()],
        );
        assert_eq!(c.models[0], "nvidia/nemotron-nano-12b-v2-vl:free");
    }

    #[test]
    fn a_pinned_unknown_model_is_a_usage_error_with_suggestions() {
        let cat = catalogue();
        let pinned = vec!["google/gemma-4-31b-it".to_string()];
        let err = resolve(&ChainInputs {
            kind: Kind::Ocr,
            preferences: &[],
            pinned: Some(&pinned),
            catalogue: Some(&cat),
            credits: Credits::FreeOnly,
            skipped: &[],
            today: "2026-12-01",
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        assert!(msg.contains("google/gemma-4-31b-it:free"), "{msg}");
        let paid = vec!["deepseek/deepseek-r1".to_string()];
        let err = resolve(&ChainInputs {
            kind: Kind::Chat,
            preferences: &[],
            pinned: Some(&paid),
            catalogue: Some(&cat),
            credits: Credits::FreeOnly,
            skipped: &[],
            today: "2026-12-01",
        })
        .unwrap_err();
        assert!(err.to_string().contains("paid model"), "{err}");
    }

    #[test]
    fn without_a_catalogue_the_configured_chain_goes_as_it_is() {
        let p = prefs(Kind::Ocr);
        let c = resolve(&ChainInputs {
            kind: Kind::Ocr,
            preferences: &p,
            pinned: None,
            catalogue: None,
            credits: Credits::FreeOnly,
            skipped: &[],
            today: "2026-12-01",
        })
        .unwrap();
        assert_eq!(c.models, p);
        assert!(!c.checked);
    }

    #[test]
    fn sizes_come_from_the_id() {
        assert_eq!(params_billions("google/gemma-4-26b-a4b-it:free"), 26.0);
        assert_eq!(params_billions("openai/gpt-oss-120b"), 120.0);
        assert_eq!(params_billions("x/no-size"), 0.0);
    }
}

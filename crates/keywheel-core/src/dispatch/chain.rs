//! The dispatcher's view of the catalogue: the `/models` list kept in the ledger (a day),
//! parsed once per process and reused while the ledger's copy does not change, and the chain
//! of one job resolved from it (docs/models.md), against what [`PreSend`] read.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;

use super::{Dispatcher, Job, Kind, Progress, Run};
use crate::chains::{self, Catalogue, ChainInputs, ModelChoice, ResolvedChain};
use crate::clock::day_key;
use crate::error::Result;
use crate::ledger::PreSend;
use crate::openrouter::ModelInfo;

/// How long a stored catalogue is fresh; a stale one is still used when OpenRouter cannot be
/// reached, up to [`STALE_DAYS`].
const FRESH_DAYS: i64 = 1;
const STALE_DAYS: i64 = 7;
/// How long a failed catalogue fetch is not tried again.
const RETRY_FETCH: std::time::Duration = std::time::Duration::from_secs(60);

impl Dispatcher {
    /// The catalogue: this process's parsed copy while the ledger's is unchanged and fresh,
    /// else the ledger's, else fetched (`refresh` fetches at once). `None` when none can be
    /// had: the configured chains are then sent as they are.
    /// A fetch's wait on OpenRouter counts in `timings`.
    /// `stored` is when the ledger's copy was fetched, as the job's [`PreSend`] read it.
    pub(super) async fn catalogue(
        &self,
        refresh: bool,
        stored: Option<chrono::DateTime<chrono::Utc>>,
        timings: &super::Timings,
    ) -> Option<Arc<Catalogue>> {
        let pool = self.instance.pool();
        let ledger = pool.ledger();
        let now = pool.now();
        let fresh = stored.filter(|at| now - *at < Duration::days(FRESH_DAYS));
        if !refresh && let Some(at) = fresh {
            if let Some((memo_at, cat)) = self.catalogue.lock().expect("catalogue lock").as_ref()
                && *memo_at == at
            {
                return Some(cat.clone());
            }
            if let Some(cat) = self.parse_stored() {
                return Some(cat);
            }
        }
        let recently_failed = self
            .catalogue_failed
            .lock()
            .expect("catalogue lock")
            .is_some_and(|at| at.elapsed() < RETRY_FETCH);
        let fetched = if recently_failed {
            Err(None)
        } else {
            let _upstream = timings.span(false);
            self.client.models().await.map_err(Some)
        };
        match fetched {
            Ok(list) if !list.is_empty() => {
                let body = serde_json::to_string(&list).unwrap_or_default();
                if let Err(e) = ledger.models_store(&body, now) {
                    tracing::warn!(error = %e, "could not store the model catalogue");
                }
                let cat = Arc::new(Catalogue::new(list));
                *self.catalogue.lock().expect("catalogue lock") = Some((now, cat.clone()));
                Some(cat)
            }
            other => {
                if let Err(Some(f)) = &other {
                    tracing::warn!(error = %f, "could not read OpenRouter's model catalogue");
                }
                if !matches!(other, Err(None)) {
                    *self.catalogue_failed.lock().expect("catalogue lock") = Some(Instant::now());
                }
                let usable = stored.is_some_and(|at| now - at < Duration::days(STALE_DAYS));
                if usable { self.parse_stored() } else { None }
            }
        }
    }

    fn parse_stored(&self) -> Option<Arc<Catalogue>> {
        let (at, body) = self
            .instance
            .pool()
            .ledger()
            .models_snapshot()
            .ok()
            .flatten()?;
        let list: Vec<ModelInfo> = serde_json::from_str(&body).ok()?;
        let cat = Arc::new(Catalogue::new(list));
        *self.catalogue.lock().expect("catalogue lock") = Some((at, cat.clone()));
        Some(cat)
    }

    /// Whether `model` is free, by the catalogue this process holds (else its `:free` suffix).
    pub(super) fn model_is_free(&self, model: &str) -> bool {
        match self.catalogue.lock().expect("catalogue lock").as_ref() {
            Some((_, cat)) => cat.is_free(model),
            None => model.ends_with(":free"),
        }
    }

    /// What the chain is resolved against, read from the ledger in one statement.
    pub(super) fn pre_send(&self) -> Result<PreSend> {
        let pool = self.instance.pool();
        pool.ledger()
            .pre_send(self.instance.key().as_ref(), pool.now())
    }

    /// The job's chain now, for the account of the key in use (`seen`, read just before),
    /// without the models this job left; its notes are said (once per UTC day for the ones
    /// with a subject).
    pub(super) fn chain(
        &self,
        job: &Job,
        catalogue: Option<&Catalogue>,
        seen: PreSend,
        run: &mut Run,
        on: &mut impl FnMut(Progress<'_>),
    ) -> Result<ResolvedChain> {
        let pool = self.instance.pool();
        let ledger = pool.ledger();
        let now = pool.now();
        let settings = pool.settings();
        let (preferences, pin) = match job.kind {
            Kind::Chat => (&settings.chat_models, &settings.chat_pin),
            Kind::Ocr => (&settings.vision_models, &settings.vision_pin),
        };
        let (preferences, pinned): (&[String], Option<Vec<String>>) = match &job.models {
            ModelChoice::Pinned(list) => (preferences, Some(list.clone())),
            ModelChoice::Prefer(list) => (list, None),
            ModelChoice::Default => (preferences, pin.clone().map(|p| vec![p])),
        };
        let PreSend {
            credits,
            mut skipped,
            ..
        } = seen;
        skipped.extend(run.dropped.iter().cloned());
        let today = day_key(now);
        let mut chain = chains::resolve(&ChainInputs {
            kind: job.kind,
            preferences,
            pinned: pinned.as_deref(),
            catalogue,
            credits,
            skipped: &skipped,
            today: &today,
        })?;
        chain.models.retain(|m| !run.dropped.contains(m));
        if catalogue.is_none() {
            chain
                .notes
                .push(("no-catalogue".into(), crate::catalogue::NO_CATALOGUE.into()));
        }
        for (subject, sentence) in &chain.notes {
            let say = if subject.is_empty() {
                !run.notes.contains(sentence)
            } else {
                ledger.notice_once(subject, sentence, now)?
            };
            if say {
                tracing::info!("{sentence}");
                on(Progress::Note(sentence));
                run.notes.push(sentence.clone());
            }
        }
        Ok(chain)
    }
}

//! The mock's shared, mutable state: keys, per-account quotas, statistics, recorded requests,
//! generation records and the scripted-response queue.
//!
//! One `std::sync::Mutex` guards it all; it is never held across an `.await`, and every check
//! that must be atomic (limit check + count) happens in a single lock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::bodies::Paid402;
use crate::catalog::Catalog;
use crate::config::{
    Faults, MockConfig, MockKey, NoCreditsBody, ScriptedResponse, UnknownModelShape,
};
use crate::record::{RecordedRequest, Stats};

/// How many chat requests `/__mock/requests` keeps.
pub(crate) const MAX_RECORDED: usize = 200;
/// Upper bound on the image bytes kept for `/__mock/requests/<n>/image/<i>`.
const MAX_IMAGE_BYTES: usize = 256 * 1024 * 1024;
/// How many generation records `/generation` keeps.
const MAX_GENERATIONS: usize = 10_000;

/// The first 12 hex characters of the SHA-256 of `key`: the only way the mock names a key.
pub fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(digest)[..12].to_string()
}

/// Whether `key` looks like an OpenRouter key: `sk-or-v1-` + 64 lowercase hex.
pub fn is_key_shaped(key: &str) -> bool {
    key.strip_prefix("sk-or-v1-").is_some_and(|rest| {
        rest.len() == 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// OpenRouter-style user id for an account (`user_` + 27 characters), stable per account.
pub(crate) fn user_id(account: &str) -> String {
    let digest = Sha256::digest(format!("account:{account}").as_bytes());
    format!("user_{}", &hex::encode(digest)[..27])
}

/// The masked label `/key` shows: `sk-or-v1-abc...xyz`.
pub(crate) fn masked_label(key: &str) -> String {
    match key.strip_prefix("sk-or-v1-") {
        Some(rest) if rest.len() >= 8 && rest.is_ascii() => {
            format!("sk-or-v1-{}...{}", &rest[..3], &rest[rest.len() - 3..])
        }
        _ => format!("key-{}", key_id(key)),
    }
}

/// Epoch milliseconds of the next UTC midnight after `now`.
pub(crate) fn next_utc_midnight_ms(now: DateTime<Utc>) -> i64 {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(now.timestamp_millis() + 86_400_000)
}

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// No bearer token.
    Missing,
    /// A token the mock does not accept.
    Unknown { key_id: String },
    /// A known (or, in open mode, well-shaped) key.
    Known(KnownKey),
}

impl Caller {
    /// Key id for statistics (`missing` without a token).
    pub fn key_id(&self) -> String {
        match self {
            Caller::Missing => "missing".to_string(),
            Caller::Unknown { key_id } => key_id.clone(),
            Caller::Known(k) => k.key_id.clone(),
        }
    }
}

/// A key that passed authentication.
#[derive(Debug, Clone)]
pub(crate) struct KnownKey {
    pub key_id: String,
    pub label: String,
    pub account: String,
    pub user_id: String,
    pub no_credit: bool,
    pub spend_limited: bool,
    /// The account can buy paid models.
    pub has_credits: bool,
    /// The account bought 10 credits or more (1000 free requests a day).
    pub tier2: bool,
}

/// Result of the limit check for one request.
pub(crate) enum Gate {
    /// Allowed and counted.
    Pass,
    /// Daily quota spent.
    Daily { limit: u32, reset_ms: i64 },
    /// Per-minute window full.
    Minute {
        limit: u32,
        reset_ms: i64,
        retry_after_s: i64,
    },
}

#[derive(Debug, Default)]
struct Account {
    day: Option<NaiveDate>,
    daily_used: u32,
    /// Epoch ms of the requests in the last 60 s.
    window: VecDeque<i64>,
}

#[derive(Debug, Default)]
struct KeyUsage {
    day: Option<NaiveDate>,
    total: f64,
    daily: f64,
}

struct Recorded {
    public: RecordedRequest,
    images: Vec<Bytes>,
}

struct Generation {
    record: Value,
    fetched: bool,
}

/// Settings that may change at run time.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub daily_limit: u32,
    pub minute_limit: u32,
    pub latency_ms: u64,
    pub faults: Faults,
    pub unavailable_models: Vec<String>,
    pub ocr_with_tesseract: bool,
    pub catalog: Arc<Catalog>,
    pub strict_models: bool,
    pub unknown_model_shape: UnknownModelShape,
    pub no_credits_body: NoCreditsBody,
}

struct State {
    open: bool,
    no_credits: bool,
    tier2: HashSet<String>,
    tier2_daily_limit: u32,
    /// Unknown-id 400s sent so far (for [`UnknownModelShape::Alternate`]).
    unknown_ids_sent: u64,
    keys: HashMap<String, MockKey>,
    settings: Settings,
    accounts: HashMap<String, Account>,
    usage: HashMap<String, KeyUsage>,
    stats: Stats,
    recorded: VecDeque<Recorded>,
    next_seq: u64,
    image_bytes: usize,
    generations: HashMap<String, Generation>,
    generation_order: VecDeque<String>,
    script: VecDeque<ScriptedResponse>,
}

/// The state shared by all handlers and the [`crate::MockServer`] handle.
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    /// Builds the state from a configuration; fails with a sentence when the catalogue text is
    /// not a `/models` answer.
    pub fn new(cfg: MockConfig) -> Result<Self, String> {
        let open = cfg.keys.is_empty();
        let keys = cfg
            .keys
            .into_iter()
            .map(|k| (k.key.clone(), k))
            .collect::<HashMap<_, _>>();
        let catalog = match &cfg.catalog {
            Some(json) => Catalog::from_json(&json.0)?,
            None => Catalog::builtin(),
        };
        let shared = Shared {
            state: Mutex::new(State {
                open,
                no_credits: cfg.no_credits,
                tier2: cfg.tier2_accounts.into_iter().collect(),
                tier2_daily_limit: cfg.tier2_daily_limit,
                unknown_ids_sent: 0,
                keys,
                settings: Settings {
                    daily_limit: cfg.daily_limit,
                    minute_limit: cfg.minute_limit,
                    latency_ms: cfg.latency_ms,
                    faults: cfg.faults,
                    unavailable_models: cfg.unavailable_models,
                    ocr_with_tesseract: cfg.ocr_with_tesseract,
                    catalog: Arc::new(catalog),
                    strict_models: cfg.strict_models,
                    unknown_model_shape: cfg.unknown_model_shape,
                    no_credits_body: cfg.no_credits_body,
                },
                accounts: HashMap::new(),
                usage: HashMap::new(),
                stats: Stats::default(),
                recorded: VecDeque::new(),
                next_seq: 0,
                image_bytes: 0,
                generations: HashMap::new(),
                generation_order: VecDeque::new(),
                script: VecDeque::new(),
            }),
        };
        let now = crate::clock::now();
        for (account, used) in cfg.account_used {
            shared.set_account_used(&account, used, now);
        }
        Ok(shared)
    }

    /// Sets the requests `account` has used today, as if its keys had been used elsewhere.
    pub fn set_account_used(&self, account: &str, used: u32, now: DateTime<Utc>) {
        let mut st = self.lock();
        let acc = st.accounts.entry(account.to_string()).or_default();
        acc.day = Some(now.date_naive());
        acc.daily_used = used;
    }

    /// Marks `account` as tier 2 (or not).
    pub fn set_tier2(&self, account: &str, tier2: bool) {
        let mut st = self.lock();
        if tier2 {
            st.tier2.insert(account.to_string());
        } else {
            st.tier2.remove(account);
        }
    }

    /// The daily limit of `account`.
    pub fn account_daily_limit(&self, key: &KnownKey) -> u32 {
        let st = self.lock();
        if key.tier2 {
            st.tier2_daily_limit
        } else {
            st.settings.daily_limit
        }
    }

    /// Whether the next unknown-id 400 uses the availability shape.
    pub fn next_unknown_is_availability(&self) -> bool {
        let mut st = self.lock();
        let n = st.unknown_ids_sent;
        st.unknown_ids_sent += 1;
        match st.settings.unknown_model_shape {
            UnknownModelShape::Plain => false,
            UnknownModelShape::Availability => true,
            UnknownModelShape::Alternate => n % 2 == 1,
        }
    }

    /// Takes one scripted paid-model 402 fault, if any is left (key limit, then weight, then
    /// in-flight).
    pub fn take_paid_fault(&self) -> Option<Paid402> {
        let mut st = self.lock();
        let f = &mut st.settings.faults;
        if f.key_limit_402 > 0 {
            f.key_limit_402 -= 1;
            Some(Paid402::KeyLimit)
        } else if f.weight_402 > 0 {
            f.weight_402 -= 1;
            Some(Paid402::Weight)
        } else if f.in_flight_402 > 0 {
            f.in_flight_402 -= 1;
            Some(Paid402::InFlight)
        } else {
            None
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another handler must not take the whole mock down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the run-time settings.
    pub fn settings(&self) -> Settings {
        self.lock().settings.clone()
    }

    /// Replaces the faults.
    pub fn set_faults(&self, faults: Faults) {
        self.lock().settings.faults = faults;
    }

    /// Adds (or replaces) a key.
    pub fn add_key(&self, key: MockKey) {
        self.lock().keys.insert(key.key.clone(), key);
    }

    /// Queues scripted responses.
    pub fn script(&self, responses: Vec<ScriptedResponse>) {
        self.lock().script.extend(responses);
    }

    /// Takes the next scripted response, if any.
    pub fn next_scripted(&self) -> Option<ScriptedResponse> {
        self.lock().script.pop_front()
    }

    /// Forgets every account's daily counter.
    pub fn reset_day(&self) {
        for acc in self.lock().accounts.values_mut() {
            acc.daily_used = 0;
        }
    }

    /// Resolves the bearer token of a request.
    pub fn authenticate(&self, token: Option<&str>) -> Caller {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Caller::Missing;
        };
        let id = key_id(token);
        let st = self.lock();
        let known = match st.keys.get(token) {
            Some(k) => Some(k.clone()),
            None if st.open && is_key_shaped(token) => Some(MockKey::new(token, "")),
            None => None,
        };
        match known {
            None => Caller::Unknown { key_id: id },
            Some(k) => {
                let account = if k.account.is_empty() {
                    id.clone()
                } else {
                    k.account.clone()
                };
                let tier2 = st.tier2.contains(&account);
                Caller::Known(KnownKey {
                    label: masked_label(token),
                    user_id: user_id(&account),
                    key_id: id,
                    has_credits: tier2 || !(st.no_credits || k.no_paid_credits),
                    tier2,
                    account,
                    no_credit: k.no_credit,
                    spend_limited: k.spend_limited,
                })
            }
        }
    }

    /// Records the arrival of a chat request and returns its sequence number.
    pub fn begin_request(&self, key_id: &str) -> u64 {
        let mut st = self.lock();
        st.stats.total_requests += 1;
        st.stats
            .keys
            .entry(key_id.to_string())
            .or_default()
            .requests += 1;
        let seq = st.next_seq;
        st.next_seq += 1;
        st.recorded.push_back(Recorded {
            public: RecordedRequest {
                seq,
                key_id: key_id.to_string(),
                ..RecordedRequest::default()
            },
            images: Vec::new(),
        });
        while st.recorded.len() > MAX_RECORDED {
            if let Some(old) = st.recorded.pop_front() {
                st.image_bytes -= old.images.iter().map(Bytes::len).sum::<usize>();
            }
        }
        seq
    }

    /// Updates the recorded request `seq` (if still kept).
    pub fn update_request(&self, seq: u64, f: impl FnOnce(&mut RecordedRequest)) {
        let mut st = self.lock();
        if let Some(r) = find_recorded(&mut st.recorded, seq) {
            f(&mut r.public);
        }
    }

    /// Keeps the raw image bytes of request `seq` for `/__mock/requests/<n>/image/<i>`.
    pub fn store_images(&self, seq: u64, images: Vec<Bytes>) {
        let mut st = self.lock();
        let added: usize = images.iter().map(Bytes::len).sum();
        if let Some(r) = find_recorded(&mut st.recorded, seq) {
            r.images = images;
        } else {
            return;
        }
        st.image_bytes += added;
        // Drop the oldest image bytes first when over budget (metadata stays).
        let mut i = 0;
        while st.image_bytes > MAX_IMAGE_BYTES && i < st.recorded.len() {
            let freed: usize = st.recorded[i].images.iter().map(Bytes::len).sum();
            if st.recorded[i].public.seq != seq {
                st.recorded[i].images.clear();
                st.image_bytes -= freed;
            }
            i += 1;
        }
    }

    /// The raw bytes of image `i` of request `seq`.
    pub fn image(&self, seq: u64, i: usize) -> Option<Bytes> {
        let mut st = self.lock();
        find_recorded(&mut st.recorded, seq).and_then(|r| r.images.get(i).cloned())
    }

    /// Records the answer's status.
    pub fn finish_request(&self, seq: u64, key_id: &str, status: u16) {
        let mut st = self.lock();
        *st.stats
            .keys
            .entry(key_id.to_string())
            .or_default()
            .status
            .entry(status.to_string())
            .or_default() += 1;
        if let Some(r) = find_recorded(&mut st.recorded, seq) {
            r.public.status = status;
        }
    }

    /// Checks the account's daily and per-minute limits and, when both allow, counts the
    /// request (daily counter, minute window, `served`). Rejections count `rate_limited_429`.
    pub fn check_and_count(&self, key: &KnownKey, now: DateTime<Utc>) -> Gate {
        let mut st = self.lock();
        let daily_limit = if st.tier2.contains(&key.account) {
            st.tier2_daily_limit
        } else {
            st.settings.daily_limit
        };
        let minute_limit = st.settings.minute_limit;
        let now_ms = now.timestamp_millis();
        let today = now.date_naive();
        let acc = st.accounts.entry(key.account.clone()).or_default();
        if acc.day != Some(today) {
            acc.day = Some(today);
            acc.daily_used = 0;
        }
        while acc.window.front().is_some_and(|&t| t <= now_ms - 60_000) {
            acc.window.pop_front();
        }
        let gate = if acc.daily_used >= daily_limit {
            Gate::Daily {
                limit: daily_limit,
                reset_ms: next_utc_midnight_ms(now),
            }
        } else if acc.window.len() >= minute_limit as usize {
            let reset_ms = acc.window.front().copied().unwrap_or(now_ms) + 60_000;
            Gate::Minute {
                limit: minute_limit,
                reset_ms,
                retry_after_s: ((reset_ms - now_ms + 999) / 1000).max(1),
            }
        } else {
            acc.daily_used += 1;
            acc.window.push_back(now_ms);
            Gate::Pass
        };
        let ks = st.stats.keys.entry(key.key_id.clone()).or_default();
        match gate {
            Gate::Pass => ks.served += 1,
            _ => ks.rate_limited_429 += 1,
        }
        gate
    }

    /// Requests the account used today.
    pub fn daily_used(&self, account: &str, now: DateTime<Utc>) -> u32 {
        let st = self.lock();
        st.accounts
            .get(account)
            .filter(|a| a.day == Some(now.date_naive()))
            .map(|a| a.daily_used)
            .unwrap_or(0)
    }

    /// Adds spend (USD) to a key.
    pub fn add_usage(&self, key_id: &str, cost: f64, now: DateTime<Utc>) {
        let mut st = self.lock();
        let u = st.usage.entry(key_id.to_string()).or_default();
        if u.day != Some(now.date_naive()) {
            u.day = Some(now.date_naive());
            u.daily = 0.0;
        }
        u.total += cost;
        u.daily += cost;
    }

    /// (all-time, today) spend of a key in USD.
    pub fn usage(&self, key_id: &str, now: DateTime<Utc>) -> (f64, f64) {
        let st = self.lock();
        st.usage
            .get(key_id)
            .map(|u| {
                let daily = if u.day == Some(now.date_naive()) {
                    u.daily
                } else {
                    0.0
                };
                (u.total, daily)
            })
            .unwrap_or((0.0, 0.0))
    }

    /// Stores a generation record for `/generation`.
    pub fn store_generation(&self, id: String, record: Value) {
        let mut st = self.lock();
        st.generation_order.push_back(id.clone());
        st.generations.insert(
            id,
            Generation {
                record,
                fetched: false,
            },
        );
        while st.generation_order.len() > MAX_GENERATIONS {
            if let Some(old) = st.generation_order.pop_front() {
                st.generations.remove(&old);
            }
        }
    }

    /// The generation record, `None` on the first look-up of each id (not ready yet) and for
    /// unknown ids.
    pub fn generation(&self, id: &str) -> Option<Value> {
        let mut st = self.lock();
        let g = st.generations.get_mut(id)?;
        if g.fetched {
            Some(g.record.clone())
        } else {
            g.fetched = true;
            None
        }
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Daily usage per account, for `/__mock/stats`.
    pub fn accounts_daily(&self, now: DateTime<Utc>) -> BTreeMap<String, u32> {
        let st = self.lock();
        st.accounts
            .iter()
            .map(|(name, a)| {
                let used = if a.day == Some(now.date_naive()) {
                    a.daily_used
                } else {
                    0
                };
                (name.clone(), used)
            })
            .collect()
    }

    /// A snapshot of the recorded requests, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .recorded
            .iter()
            .map(|r| r.public.clone())
            .collect()
    }
}

fn find_recorded(recorded: &mut VecDeque<Recorded>, seq: u64) -> Option<&mut Recorded> {
    let first = recorded.front()?.public.seq;
    let idx = usize::try_from(seq.checked_sub(first)?).ok()?;
    recorded.get_mut(idx).filter(|r| r.public.seq == seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_and_id() {
        let good = format!("sk-or-v1-{}", "a1".repeat(32));
        assert!(is_key_shaped(&good));
        assert!(!is_key_shaped(&good.to_uppercase()));
        assert!(!is_key_shaped("sk-or-v1-abc"));
        assert_eq!(key_id(&good).len(), 12);
        assert_ne!(key_id(&good), key_id("other"));
        let label = masked_label(&good);
        assert_eq!(label, "sk-or-v1-a1a...1a1");
    }

    #[test]
    fn midnight_is_next_utc_day() {
        let now = DateTime::parse_from_rfc3339("2025-06-01T12:35:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_utc_midnight_ms(now), 1_748_822_400_000);
    }
}

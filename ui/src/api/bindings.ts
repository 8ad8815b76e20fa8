// Generated from the Rust types by ts-rs (src-tauri/src/bindings.rs). Do not edit:
// run `make bindings` after changing a type that crosses the IPC boundary.
// 64-bit integers are `number`: serde_json sends them as JSON numbers, and every
// count, size and id here stays far below 2^53.

export type KeyId = string;

export type KeySource = "keychain" | "env";

export type KeyStatus = "ok" | "invalid" | "no_credit" | "spend_limited";

export type Availability = { "state": "usable" } | { "state": "disabled" } | { "state": "broken", 
/**
 * Which.
 */
status: KeyStatus, } | { "state": "until", 
/**
 * Which.
 */
status: KeyStatus, 
/**
 * Until when.
 */
until: string, } | { "state": "key_spent", 
/**
 * Next UTC midnight.
 */
until: string, } | { "state": "account_spent", 
/**
 * When it resets.
 */
until: string, };

export type KeyView = { 
/**
 * Fingerprint id.
 */
id: KeyId, 
/**
 * Label.
 */
label: string, 
/**
 * The account it shares with other keys; absent when it is its own account.
 */
account: string | null, 
/**
 * `sk-or-v1-…a1b2`.
 */
masked: string, 
/**
 * `keychain` or `env`.
 */
source: KeySource, 
/**
 * Whether this process holds the key's material.
 */
available: boolean, 
/**
 * Enabled by the person.
 */
enabled: boolean, 
/**
 * Last observed health.
 */
status: KeyStatus, 
/**
 * Requests today.
 */
today: number, 
/**
 * Requests today on the key's whole account, OpenRouter's own count included when `/key`
 * reported more (a key also used elsewhere).
 */
account_today: number, 
/**
 * The account's daily cap (the tier OpenRouter reports, unless the person set one).
 */
account_daily_cap: number, 
/**
 * Effective daily cap.
 */
daily_cap: number, 
/**
 * Effective per-minute cap.
 */
minute_cap: number, 
/**
 * Whether it can take a request now, and if not why.
 */
availability: Availability, 
/**
 * [`Availability::label`] now: `ready`, `spent until 00:00 UTC`, …
 */
availability_label: string, 
/**
 * [`Availability::sentence`] now: what the state means and what to do.
 */
availability_sentence: string, };

export type KeychainStatus = { "state": "available" } | { "state": "unavailable", "reason": string } | { "state": "disabled" };

export type KeychainView = { 
/**
 * Available, disabled, or unavailable with the reason.
 */
status: KeychainStatus, 
/**
 * [`KeychainStatus::sentence`].
 */
sentence: string, };

export type KeyRecord = { 
/**
 * Fingerprint id.
 */
id: KeyId, 
/**
 * Person-given label.
 */
label: string, 
/**
 * The account the key belongs to (its own id when not grouped).
 */
account: string, 
/**
 * `sk-or-v1-…a1b2`.
 */
masked: string, 
/**
 * Where the key was first registered from.
 */
source: KeySource, 
/**
 * Whether the key may be used.
 */
enabled: boolean, 
/**
 * The key's own daily cap, if set.
 */
daily_cap: number | null, 
/**
 * The key's own per-minute cap, if set.
 */
minute_cap: number | null, 
/**
 * Last observed health.
 */
status: KeyStatus, 
/**
 * When a temporary status ends.
 */
status_until: string | null, 
/**
 * A short note on the status (e.g. the upstream message).
 */
status_note: string | null, 
/**
 * When the key was added.
 */
created: string, };

export type InstanceInfo = { 
/**
 * Instance id.
 */
id: string, 
/**
 * OS process id.
 */
pid: number, 
/**
 * `cli`, `app`, `example`, …
 */
kind: string, 
/**
 * The key it has adopted.
 */
key_id: KeyId | null, 
/**
 * When it started.
 */
started: string, 
/**
 * Its last heartbeat.
 */
heartbeat: string, };

export type Adoption = { 
/**
 * The key adopted; `None` when no candidate is usable.
 */
key: KeyId | null, 
/**
 * Whether the pool's current key moved.
 */
rotated: boolean, 
/**
 * The previous current key.
 */
previous: KeyId | null, 
/**
 * On a team ledger: the pool's current key, which this machine does not hold, so it
 * applied the rule among its own keys (see [`Adoption::sentence`]).
 */
not_held: KeyId | null, };

export type StatusView = { 
/**
 * Now.
 */
now: string, 
/**
 * The UTC day.
 */
day: string, 
/**
 * Next reset (00:00 UTC).
 */
resets_at: string, 
/**
 * Time until then, e.g. `3 h 12 min`.
 */
resets_in: string, 
/**
 * The pool's current key.
 */
current_key: KeyId | null, 
/**
 * The rotation threshold.
 */
rotate_after: number, 
/**
 * Live instances.
 */
instances: Array<InstanceInfo>, 
/**
 * Keys.
 */
keys: Array<KeyView>, 
/**
 * Whether the keychain can be used, and the sentence saying so.
 */
keychain: KeychainView, 
/**
 * The ledger file.
 */
ledger: string, };

export type DayUsage = { 
/**
 * Key id.
 */
key_id: KeyId, 
/**
 * UTC day, `YYYY-MM-DD`.
 */
day: string, 
/**
 * Requests counted (reserved) that day.
 */
requests: number, 
/**
 * Of which answered.
 */
successes: number, 
/**
 * Of which failed.
 */
errors: number, 
/**
 * Prompt tokens.
 */
prompt_tokens: number, 
/**
 * Completion tokens (including reasoning).
 */
completion_tokens: number, 
/**
 * Reasoning tokens.
 */
reasoning_tokens: number, 
/**
 * Cost in credits (USD).
 */
cost: number, };

export type DayAggregate = { 
/**
 * Key id or account name.
 */
subject: string, 
/**
 * UTC day.
 */
day: string, 
/**
 * Requests counted against quota (uncached).
 */
requests: number, 
/**
 * Answered.
 */
successes: number, 
/**
 * Failed, by class: a failure's [`StatusClass`]; `unknown` (failed with no class), a
 * state word (`reserved`, `abandoned`) or `failed` (a pruned day) are
 * [`StatusClass::Other`]. On the wire the same words as before, as map keys.
 */
errors: { [key in StatusClass]?: number }, 
/**
 * Served from the cache.
 */
cache_hits: number, 
/**
 * Prompt tokens.
 */
prompt_tokens: number, 
/**
 * Completion tokens.
 */
completion_tokens: number, 
/**
 * Reasoning tokens.
 */
reasoning_tokens: number, 
/**
 * Cost (USD).
 */
cost: number, 
/**
 * Median latency of answered requests.
 */
latency_p50_ms: number | null, 
/**
 * 95th percentile latency of answered requests.
 */
latency_p95_ms: number | null, };

export type Forecast = { 
/**
 * Key id or account.
 */
subject: string, 
/**
 * Whether `subject` is a key id or an account.
 */
about: SubjectKind, 
/**
 * Requests today.
 */
today: number, 
/**
 * The daily cap.
 */
cap: number, 
/**
 * When it would hit the cap, if before the UTC reset.
 */
hits_cap_at: string | null, 
/**
 * Capped, not today, or at a time.
 */
summary: Summary, 
/**
 * [`Summary::sentence`].
 */
sentence: string, };

export type SubjectKind = "key" | "account";

export type UsageView = { 
/**
 * Days covered.
 */
days: number, 
/**
 * The UTC days, oldest first.
 */
day_list: Array<string>, 
/**
 * Keys known to the ledger (masked).
 */
keys: Array<KeyView>, 
/**
 * Per key per day rows (days without requests omitted).
 */
usage: Array<DayUsage>, 
/**
 * Per key per day, from the request log: errors by class, cache hits, latency p50/p95.
 */
aggregates: Array<DayAggregate>, 
/**
 * Per account per day, from the request log.
 */
accounts: Array<DayAggregate>, 
/**
 * Per key and per account: when it hits its cap at today's pace.
 */
forecasts: Array<Forecast>, 
/**
 * Next reset (00:00 UTC).
 */
resets_at: string, 
/**
 * Time until then.
 */
resets_in: string, };

export type RequestRow = { 
/**
 * Row id.
 */
id: number, 
/**
 * When it started.
 */
at: string, 
/**
 * UTC day it counts on.
 */
day: string, 
/**
 * Instance that sent it.
 */
instance_id: string, 
/**
 * The face that sent it: `cli`, `app`, `gateway`, `example`, … (the kind its instance
 * registered with; `None` for rows logged before the ledger recorded it).
 */
via: string | null, 
/**
 * The gateway session (`X-Keywheel-Session`) it came through, if any.
 */
session: string | null, 
/**
 * Key id (empty for a cache hit with no key).
 */
key_id: string, 
/**
 * Account of the key.
 */
account: string, 
/**
 * Chat or OCR.
 */
kind: Kind, 
/**
 * Model asked for.
 */
model_asked: string | null, 
/**
 * Model that answered.
 */
model_answered: string | null, 
/**
 * Reserved, done, failed or abandoned.
 */
state: RequestState, 
/**
 * How it ended (absent while reserved or abandoned).
 */
status_class: StatusClass | null, 
/**
 * HTTP status.
 */
http_status: number | null, 
/**
 * Attempt number.
 */
attempts: number, 
/**
 * Reached through a key fallback.
 */
fallback: boolean, 
/**
 * Its instance rotated at start.
 */
rotation: boolean, 
/**
 * Served from the cache (no quota).
 */
cached: boolean, 
/**
 * Prompt tokens.
 */
prompt_tokens: number | null, 
/**
 * Completion tokens.
 */
completion_tokens: number | null, 
/**
 * Reasoning tokens.
 */
reasoning_tokens: number | null, 
/**
 * Cost (USD).
 */
cost: number | null, 
/**
 * Latency.
 */
latency_ms: number | null, 
/**
 * Request body size.
 */
bytes_sent: number | null, 
/**
 * Short error text.
 */
error: string | null, };

export type AlertRow = { 
/**
 * UTC day it fired on.
 */
day: string, 
/**
 * Rule name.
 */
rule: string, 
/**
 * Key id, account or `pool`.
 */
subject: string, 
/**
 * When.
 */
at: string, 
/**
 * The sentence.
 */
message: string, };

export type Rule = "rotation_threshold" | "key_cap" | "key_invalid" | "no_credit" | "spend_limited" | "paid_refused" | "account_spent" | "all_spent" | "error_spike";

export type KeyInfo = { 
/**
 * Display label (often OpenRouter's own masked key, e.g. `sk-or-v1-4f2...9ab`).
 */
label: string | null, 
/**
 * The key's spend cap in USD; `None` = no cap.
 */
limit: number | null, 
/**
 * Cap left; `None` = no cap.
 */
limit_remaining: number | null, 
/**
 * `daily`, `weekly`, `monthly` or `None`.
 */
limit_reset: string | null, 
/**
 * All-time spend, USD.
 */
usage: number | null, 
/**
 * Spend this UTC day, USD.
 */
usage_daily: number | null, 
/**
 * True if the account never bought credits.
 */
is_free_tier: boolean | null, 
/**
 * Management key (cannot chat).
 */
is_management_key: boolean | null, 
/**
 * The account that created the key (`user_…`), when OpenRouter says: keys of one
 * account share it.
 */
creator_user_id: string | null, 
/**
 * Expiry (ISO-8601), if any.
 */
expires_at: string | null, 
/**
 * The account's free-model request counter for the UTC day (newest servers only).
 */
free_model_daily_requests: FreeModelDailyRequests | null, };

export type FreeModelDailyRequests = { 
/**
 * 50 or 1000.
 */
limit: number | null, 
/**
 * Used today.
 */
used: number | null, 
/**
 * Left today.
 */
remaining: number | null, };

export type KeyCheck = { 
/**
 * Key id.
 */
id: KeyId, 
/**
 * Masked key.
 */
masked: string, 
/**
 * Whether OpenRouter accepted it.
 */
ok: boolean, 
/**
 * What `/key` said.
 */
info: KeyInfo | null, 
/**
 * The failure, as a sentence.
 */
error: string | null, 
/**
 * A sentence about what the check found (keys sharing an account).
 */
note: string | null, 
/**
 * What the check found, in one sentence ([`KeyCheck::summary`]).
 */
summary: string, };

export type ModelInfo = { 
/**
 * Routable slug, e.g. `meta-llama/llama-3.2-90b-vision-instruct`.
 */
id: string, 
/**
 * Display name.
 */
name: string | null, 
/**
 * Context window in tokens.
 */
context_length: number | null, 
/**
 * `architecture.input_modalities` (`text`, `image`, …).
 */
input_modalities: Array<string>, 
/**
 * `architecture.output_modalities` (`text`, `image`, `audio`, …).
 */
output_modalities: Array<string>, 
/**
 * Prices, USD per token (per image / per request for those two).
 */
pricing: Pricing, 
/**
 * `expiration_date` (`YYYY-MM-DD`): the model may go away after it.
 */
expiration_date: string | null, 
/**
 * `supported_parameters` (`reasoning`, `include_reasoning`, `tools`, …).
 */
supported_parameters: Array<string>, };

export type Pricing = { 
/**
 * USD per prompt token.
 */
prompt: number | null, 
/**
 * USD per completion token.
 */
completion: number | null, 
/**
 * USD per request.
 */
request: number | null, 
/**
 * USD per input image.
 */
image: number | null, };

export type JobStatus = "done" | "queued" | "waiting" | "running" | "failed";

export type QuotaPlan = { 
/**
 * Images in the batch.
 */
images: number, 
/**
 * Tiles (one request each) in the batch.
 */
tiles: number, 
/**
 * Tiles done in an earlier run (read back, not sent).
 */
done: number, 
/**
 * Tiles the shared response cache answers (no quota).
 */
cached: number, 
/**
 * Requests needed: tiles neither done nor cached.
 */
needed: number, 
/**
 * Requests left today across usable keys and accounts.
 */
left: number, 
/**
 * Requests this run will send.
 */
send: number, 
/**
 * Tiles beyond the quota: they wait, or go to the local engine.
 */
over: number, 
/**
 * Whether the tiles beyond the quota go to the local engine.
 */
over_to_local: boolean, 
/**
 * When quota frees again (for the tiles that wait).
 */
reset_at: string | null, 
/**
 * Why no key can serve at all (none configured, all invalid or disabled), if so.
 */
no_key: string | null, 
/**
 * When the plan was made.
 */
now: string, };

export type ImageResult = { 
/**
 * The file name as given.
 */
file: string, 
/**
 * `done` when every tile is; otherwise the least finished tile's status.
 */
status: JobStatus, 
/**
 * The Markdown (when done).
 */
text: string | null, 
/**
 * The model that answered (`tesseract` for the local engine).
 */
model: string | null, 
/**
 * The key that paid, if one did.
 */
key_id: string | null, 
/**
 * No quota was spent for it in this run (the cache, or an earlier run).
 */
cached: boolean, 
/**
 * Read by the local engine.
 */
local: boolean, 
/**
 * `local OCR (tesseract)` when read locally.
 */
label: string | null, 
/**
 * Every tile was done by an earlier run.
 */
resumed: boolean, 
/**
 * Width of the (first) image sent.
 */
width: number, 
/**
 * Height of the (first) image sent.
 */
height: number, 
/**
 * Tiles (requests) the image needs.
 */
tiles: number, 
/**
 * Requests sent for it in this run.
 */
requests: number, 
/**
 * Why it is not done, as a class.
 */
error_class: ErrorClass | null, 
/**
 * Why it is not done, as a sentence.
 */
error: string | null, 
/**
 * For a waiting image: when quota frees.
 */
wait_until: string | null, };

export type Usage = { 
/**
 * Prompt tokens (images included).
 */
prompt_tokens: number, 
/**
 * Completion tokens (reasoning included).
 */
completion_tokens: number, 
/**
 * Prompt + completion.
 */
total_tokens: number, 
/**
 * Reasoning tokens (`completion_tokens_details.reasoning_tokens`), 0 when not reported.
 */
reasoning_tokens: number, 
/**
 * Cost in credits (1 credit = 1 USD), when reported.
 */
cost: number | null, };

export type Kind = "chat" | "ocr";

export type RequestState = "reserved" | "done" | "failed" | "abandoned";

export type StatusClass = "ok" | "cached" | string | string;

export type Summary = { "state": "capped" } | { "state": "not_today" } | { "state": "at", 
/**
 * When.
 */
at: string, 
/**
 * Seconds from now until then.
 */
in_secs: number, };

export type ErrorClass = "quota" | "no_usable_key" | "local_missing" | "cancelled" | "bad_input" | "upstream" | "local" | "storage";

export type Notice = { "type": "retry", 
/**
 * The attempt about to start.
 */
attempt: number, 
/**
 * How long it waits first, in milliseconds.
 */
wait_ms: number, 
/**
 * The failure's class.
 */
class: string, 
/**
 * The failure (class, HTTP status, OpenRouter's words).
 */
reason: string, } | { "type": "fallback", 
/**
 * From this key id.
 */
from: string, 
/**
 * To this key id.
 */
to: string, 
/**
 * Why the first key cannot serve.
 */
class: string, } | { "type": "waiting", 
/**
 * How long, in milliseconds.
 */
wait_ms: number, } | { "type": "alert", 
/**
 * Its sentence.
 */
message: string, } | { "type": "note", 
/**
 * The sentence.
 */
message: string, } | { "type": "local", 
/**
 * Why no model reads it.
 */
reason: string, };

export type Note = { 
/**
 * The image (and part) it is about, in an OCR batch (`scan.png (part 2 of 3)`).
 */
about: string | null, 
/**
 * The sentence to show: the notice, after `about: ` when there is one.
 */
sentence: string, } & ({ "type": "retry", 
/**
 * The attempt about to start.
 */
attempt: number, 
/**
 * How long it waits first, in milliseconds.
 */
wait_ms: number, 
/**
 * The failure's class.
 */
class: string, 
/**
 * The failure (class, HTTP status, OpenRouter's words).
 */
reason: string, } | { "type": "fallback", 
/**
 * From this key id.
 */
from: string, 
/**
 * To this key id.
 */
to: string, 
/**
 * Why the first key cannot serve.
 */
class: string, } | { "type": "waiting", 
/**
 * How long, in milliseconds.
 */
wait_ms: number, } | { "type": "alert", 
/**
 * Its sentence.
 */
message: string, } | { "type": "note", 
/**
 * The sentence.
 */
message: string, } | { "type": "local", 
/**
 * Why no model reads it.
 */
reason: string, });

export type Outcome = { 
/**
 * The key that answered (absent for a cache hit).
 */
key_id: KeyId | null, 
/**
 * The model that answered.
 */
model: string | null, 
/**
 * The answer.
 */
content: string, 
/**
 * The reasoning (R1).
 */
reasoning: string, 
/**
 * Tokens and cost.
 */
usage: Usage | null, 
/**
 * Counted requests sent (each reached OpenRouter; 0 for a cache hit).
 */
attempts: number, 
/**
 * Key fallbacks taken.
 */
fallbacks: number, 
/**
 * Whether the answer came from the cache (no quota spent).
 */
cached: boolean, 
/**
 * Whether this instance rotated at its start.
 */
rotated: boolean, 
/**
 * Wall time of the job, including waits.
 */
latency_ms: number, 
/**
 * Generation id.
 */
generation_id: string | null, 
/**
 * Sentences for the person (which model answered and why).
 */
notes: Array<string>, };

export type ErrorCode = "usage" | "quota_exhausted" | "no_usable_key" | "tool_missing" | "upstream" | "bad_input" | "keychain_unavailable" | "storage" | "cancelled" | "ledger_unreachable";

export type Credits = "paid" | "free_only" | "unknown";

export type EntryReason = { "kind": "preferred" } | { "kind": "completed" } | { "kind": "pinned" } | { "kind": "unchecked" } | { "kind": "not_offered" } | { "kind": "paid_without_credits" } | { "kind": "unavailable_today" } | { "kind": "unfit" } | { "kind": "beyond_chain" };

export type ChainEntry = { 
/**
 * Model id.
 */
id: string, 
/**
 * Whether it is sent.
 */
included: boolean, 
/**
 * Why.
 */
reason: EntryReason, 
/**
 * The phrase for `reason`.
 */
why: string, 
/**
 * Free to use (`None` when the catalogue is not known).
 */
free: boolean | null, };

export type ResolvedChain = { 
/**
 * Chat or OCR.
 */
kind: Kind, 
/**
 * What is sent, first choice first.
 */
models: Array<string>, 
/**
 * Every entry considered, with its reason.
 */
entries: Array<ChainEntry>, 
/**
 * Whether the catalogue was known.
 */
checked: boolean, 
/**
 * The account's credit state the chain was resolved for.
 */
credits: Credits, };

export type IpcErrorRecord = { 
/**
 * The code.
 */
code: string, 
/**
 * The sentence.
 */
message: string, };

export type KeyAdded = { 
/**
 * The key as listed (masked).
 */
key: KeyView, 
/**
 * What `GET /key` said (no quota spent); absent if the check could not run.
 */
check: KeyCheck | null, 
/**
 * Why the key was stored without a check, if so.
 */
warning: string | null, };

export type KeyPatch = { 
/**
 * New label.
 */
label: string | null, 
/**
 * New account (`""` = its own account).
 */
account: string | null, 
/**
 * New daily cap.
 */
daily_cap: number | null, 
/**
 * New per-minute cap.
 */
minute_cap: number | null, 
/**
 * Enable or disable.
 */
enabled: boolean | null, 
/**
 * Return both caps to the defaults.
 */
reset_caps: boolean, };

export type LogQuery = { 
/**
 * Only this key id.
 */
key_id: string | null, 
/**
 * Chat or OCR.
 */
kind: Kind | null, 
/**
 * Only this outcome class (`ok`, `rate_limited`, …).
 */
status_class: StatusClass | null, 
/**
 * Only requests that fell back or rotated.
 */
only_fallbacks: boolean, 
/**
 * At most this many rows, newest first (0 = 100).
 */
limit: number, };

export type SettingsView = { 
/**
 * Rotate at start once the current key passed this many requests today.
 */
rotate_after: number, 
/**
 * Default daily cap per key.
 */
daily_cap: number, 
/**
 * Default per-minute cap per key.
 */
minute_cap: number, 
/**
 * Chat model chain.
 */
chat_models: Array<string>, 
/**
 * Vision model chain.
 */
vision_models: Array<string>, 
/**
 * The config file edits are written to.
 */
config_path: string, 
/**
 * The shared ledger file.
 */
ledger_path: string, 
/**
 * Whether the keychain can be used, and the core's sentence saying so.
 */
keychain: KeychainView, 
/**
 * The OpenRouter API base URL.
 */
base_url: string, 
/**
 * The pinned chat model (used alone instead of the resolved chain), if any.
 */
chat_pin: string | null, 
/**
 * The pinned vision model, if any.
 */
vision_pin: string | null, };

export type SettingsPatch = { 
/**
 * Rotation threshold.
 */
rotate_after: number | null, 
/**
 * Chat model chain.
 */
chat_models: Array<string> | null, 
/**
 * Vision model chain.
 */
vision_models: Array<string> | null, 
/**
 * Pin this chat model (`""` unpins).
 */
chat_pin?: string | null, 
/**
 * Pin this vision model (`""` unpins).
 */
vision_pin?: string | null, 
/**
 * Share the response cache on a team ledger (saved; applies from the next start).
 */
team_cache?: boolean | null, };

export type ChatEvent = { "type": "reasoning", 
/**
 * The new text.
 */
text: string, } | { "type": "content", 
/**
 * The new text.
 */
text: string, } | Note;

export type Role = "user" | "assistant";

export type ChatMessage = { 
/**
 * Author.
 */
role: Role, 
/**
 * The text (Markdown for answers).
 */
content: string, 
/**
 * R1's reasoning.
 */
reasoning: string | null, 
/**
 * The model that answered.
 */
model: string | null, 
/**
 * The key that paid.
 */
key_id: string | null, 
/**
 * Served from the cache (no quota).
 */
cached: boolean, 
/**
 * Stopped by the person; `content` is what arrived.
 */
stopped: boolean, 
/**
 * Why there is no answer.
 */
error: IpcErrorRecord | null, 
/**
 * When (RFC 3339).
 */
at: string, 
/**
 * Sentences for the person about the models (which one answered and why).
 */
notes: Array<string>, };

export type Thread = { 
/**
 * Id (file name).
 */
id: string, 
/**
 * From the first question.
 */
title: string, 
/**
 * RFC 3339.
 */
created_at: string, 
/**
 * RFC 3339.
 */
updated_at: string, 
/**
 * Oldest first.
 */
messages: Array<ChatMessage>, };

export type ThreadSummary = { 
/**
 * Id.
 */
id: string, 
/**
 * Title.
 */
title: string, 
/**
 * RFC 3339.
 */
updated_at: string, 
/**
 * How many messages.
 */
messages: number, };

export type StagedImage = { 
/**
 * Handle for the other OCR commands.
 */
id: number, 
/**
 * The name shown (unique in the queue).
 */
name: string, 
/**
 * Size in bytes.
 */
bytes: number, };

export type OcrPlan = { 
/**
 * The numbers.
 */
plan: QuotaPlan, 
/**
 * The plan in one sentence.
 */
sentence: string, };

export type OcrEvent = { "type": "tile", 
/**
 * The staged image.
 */
id: number, 
/**
 * The tile, from 0.
 */
tile: number, 
/**
 * Tiles in the image.
 */
of: number, 
/**
 * Its status.
 */
status: JobStatus, 
/**
 * Read by the local engine.
 */
local: boolean, 
/**
 * No quota spent for it.
 */
free: boolean, } | { "type": "image", 
/**
 * The staged image.
 */
id: number, 
/**
 * Its result.
 */
result: ImageResult, } | Note;

export type OcrResult = { 
/**
 * The staged image.
 */
id: number, 
/**
 * Its result.
 */
result: ImageResult, };

export type ChainView = { 
/**
 * The pinned model, if any (the chain is then that model alone).
 */
pin: string | null, 
/**
 * The chain as it resolves now; absent when it cannot be resolved (see `error`).
 */
resolved: ResolvedChain | null, 
/**
 * Sentences for the person (models no longer offered, the R1 story, no catalogue).
 */
sentences: Array<string>, 
/**
 * Why the chain cannot be resolved (e.g. the pinned model is no longer offered).
 */
error: IpcErrorRecord | null, };

export type ModelChains = { 
/**
 * The chat chain.
 */
chat: ChainView, 
/**
 * The vision chain (reading images).
 */
vision: ChainView, };

export type CatalogueModel = { 
/**
 * Routable id.
 */
id: string, 
/**
 * Display name (the id when OpenRouter gives none).
 */
name: string, 
/**
 * Free to use (`:free`, or zero-priced).
 */
free: boolean, 
/**
 * Takes image input.
 */
takes_images: boolean, 
/**
 * Answers in text only.
 */
text_only: boolean, 
/**
 * Can return its reasoning.
 */
reasons: boolean, 
/**
 * Context window in tokens.
 */
context_length: number | null, };

export type TeamSummary = { 
/**
 * `host:port/db` (never a password).
 */
ledger: string, 
/**
 * Machines with at least one live instance, by name.
 */
machines: Array<MachineLive>, 
/**
 * [`TeamSummary::sentence`], for faces that only show text.
 */
sentence: string, };

export type MachineLive = { 
/**
 * The machine's name (`KEYWHEEL_MACHINE` or its host name).
 */
host: string, 
/**
 * Its live instances (heartbeat within the instance TTL).
 */
instances: number, 
/**
 * [`MachineLive::line`].
 */
line: string, };

export type LedgerView = { 
/**
 * `sqlite` or `postgresql`.
 */
backend: string, 
/**
 * The file path, or `host:port/db` for a team ledger (never a password).
 */
location: string, 
/**
 * On a team ledger: "team ledger: host:port/db — N machines, M instances live" and one
 * line per machine.
 */
team: TeamSummary | null, 
/**
 * Whether the response cache is shared with the team (only ever on a team ledger).
 */
team_cache: boolean, };

export type PdfStaged = { 
/**
 * The PDF's name (no folder).
 */
file: string, 
/**
 * Pages in the queue.
 */
pages: number, 
/**
 * Of which read from their text layer (no request).
 */
text_layer: number, 
/**
 * Of which rendered, to send to the vision model.
 */
vision: number, 
/**
 * The page plan in one sentence.
 */
sentence: string, 
/**
 * Every page, in order.
 */
staged: Array<StagedImage>, 
/**
 * The pages already read (from their text layer).
 */
read: Array<OcrResult>, };

export type IpcError = { 
/**
 * What the UI branches on.
 */
code: ErrorCode, 
/**
 * A sentence naming the problem and what to do; shown as is.
 */
message: string, };

export type GatewayStatus = { 
/**
 * Whether it is serving.
 */
running: boolean, 
/**
 * `127.0.0.1:PORT` while running.
 */
addr: string | null, 
/**
 * `http://127.0.0.1:PORT/v1`, the `OPENAI_BASE_URL` clients use.
 */
base_url: string | null, 
/**
 * The local token masked (`kw-…1a2b`).
 */
token_masked: string | null, 
/**
 * Where the token is kept (the OS keychain, or its 0600 file).
 */
token_store: string | null, 
/**
 * Live sessions (`X-Keywheel-Session`), each its own instance with its own key.
 */
sessions: Array<GatewaySession>, 
/**
 * A session idle this long ends.
 */
session_idle_secs: number, };

export type GatewaySession = { 
/**
 * The client's session id.
 */
id: string, 
/**
 * The key it holds.
 */
key_id: KeyId | null, };

export type LoggedRequest = { 
/**
 * [`RequestRow::outcome`]: `cached`, its class (`ok`, `rate_limited`, …) or its state;
 * the word the request log's badge shows.
 */
outcome: string, 
/**
 * Row id.
 */
id: number, 
/**
 * When it started.
 */
at: string, 
/**
 * UTC day it counts on.
 */
day: string, 
/**
 * Instance that sent it.
 */
instance_id: string, 
/**
 * The face that sent it: `cli`, `app`, `gateway`, `example`, … (the kind its instance
 * registered with; `None` for rows logged before the ledger recorded it).
 */
via: string | null, 
/**
 * The gateway session (`X-Keywheel-Session`) it came through, if any.
 */
session: string | null, 
/**
 * Key id (empty for a cache hit with no key).
 */
key_id: string, 
/**
 * Account of the key.
 */
account: string, 
/**
 * Chat or OCR.
 */
kind: Kind, 
/**
 * Model asked for.
 */
model_asked: string | null, 
/**
 * Model that answered.
 */
model_answered: string | null, 
/**
 * Reserved, done, failed or abandoned.
 */
state: RequestState, 
/**
 * How it ended (absent while reserved or abandoned).
 */
status_class: StatusClass | null, 
/**
 * HTTP status.
 */
http_status: number | null, 
/**
 * Attempt number.
 */
attempts: number, 
/**
 * Reached through a key fallback.
 */
fallback: boolean, 
/**
 * Its instance rotated at start.
 */
rotation: boolean, 
/**
 * Served from the cache (no quota).
 */
cached: boolean, 
/**
 * Prompt tokens.
 */
prompt_tokens: number | null, 
/**
 * Completion tokens.
 */
completion_tokens: number | null, 
/**
 * Reasoning tokens.
 */
reasoning_tokens: number | null, 
/**
 * Cost (USD).
 */
cost: number | null, 
/**
 * Latency.
 */
latency_ms: number | null, 
/**
 * Request body size.
 */
bytes_sent: number | null, 
/**
 * Short error text.
 */
error: string | null, };

export type LogRow = { 
/**
 * The outcome in the core's words (`RequestRow::outcome_label`: `answered`,
 * `rate limited`, `in flight`, …): what the badge shows.
 */
outcome_label: string, 
/**
 * [`RequestRow::outcome`]: `cached`, its class (`ok`, `rate_limited`, …) or its state;
 * the word the request log's badge shows.
 */
outcome: string, 
/**
 * Row id.
 */
id: number, 
/**
 * When it started.
 */
at: string, 
/**
 * UTC day it counts on.
 */
day: string, 
/**
 * Instance that sent it.
 */
instance_id: string, 
/**
 * The face that sent it: `cli`, `app`, `gateway`, `example`, … (the kind its instance
 * registered with; `None` for rows logged before the ledger recorded it).
 */
via: string | null, 
/**
 * The gateway session (`X-Keywheel-Session`) it came through, if any.
 */
session: string | null, 
/**
 * Key id (empty for a cache hit with no key).
 */
key_id: string, 
/**
 * Account of the key.
 */
account: string, 
/**
 * Chat or OCR.
 */
kind: Kind, 
/**
 * Model asked for.
 */
model_asked: string | null, 
/**
 * Model that answered.
 */
model_answered: string | null, 
/**
 * Reserved, done, failed or abandoned.
 */
state: RequestState, 
/**
 * How it ended (absent while reserved or abandoned).
 */
status_class: StatusClass | null, 
/**
 * HTTP status.
 */
http_status: number | null, 
/**
 * Attempt number.
 */
attempts: number, 
/**
 * Reached through a key fallback.
 */
fallback: boolean, 
/**
 * Its instance rotated at start.
 */
rotation: boolean, 
/**
 * Served from the cache (no quota).
 */
cached: boolean, 
/**
 * Prompt tokens.
 */
prompt_tokens: number | null, 
/**
 * Completion tokens.
 */
completion_tokens: number | null, 
/**
 * Reasoning tokens.
 */
reasoning_tokens: number | null, 
/**
 * Cost (USD).
 */
cost: number | null, 
/**
 * Latency.
 */
latency_ms: number | null, 
/**
 * Request body size.
 */
bytes_sent: number | null, 
/**
 * Short error text.
 */
error: string | null, };

export type LedgerInfo = { 
/**
 * The ledger in use now (switching needs a restart).
 */
ledger: LedgerView, 
/**
 * `team_cache` as saved in the config file (what the next start uses); the ledger's own
 * `team_cache` is what is in force now.
 */
team_cache_saved: boolean, 
/**
 * On a team ledger, when this machine does not hold the pool's current key: the core's
 * sentence saying it uses its own least-used key (`Adoption::sentence`, what the CLI
 * prints at start).
 */
adoption: string | null, };

export type CaptureRegion = { 
/**
 * Left edge, in pixels from the screen's left edge.
 */
x: number, 
/**
 * Top edge, in pixels from the screen's top edge.
 */
y: number, 
/**
 * Width in pixels (at least 1).
 */
w: number, 
/**
 * Height in pixels (at least 1).
 */
h: number, };

export type CaptureStatus = { 
/**
 * The shortcut as saved (`""`: none).
 */
shortcut: string, 
/**
 * Whether it is registered with the desktop now.
 */
active: boolean, 
/**
 * Why it is not, as a sentence.
 */
error: string | null, };

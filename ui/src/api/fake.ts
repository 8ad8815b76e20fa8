// A fake Rust side for `npm run dev` in a plain browser and for component tests: the same
// commands, shapes, channels and events, over Tauri's own IPC mocks. Never part of a build.

import type { Channel } from '@tauri-apps/api/core';
import { emit } from '@tauri-apps/api/event';
import { mockIPC } from '@tauri-apps/api/mocks';
import type {
  AlertRow,
  Availability,
  CatalogueModel,
  ChainEntry,
  ChainView,
  Credits,
  EntryReason,
  ChatEvent,
  ChatMessage,
  DayAggregate,
  DayUsage,
  Forecast,
  GatewayStatus,
  ImageResult,
  IpcError,
  KeyPatch,
  KeyView,
  LedgerInfo,
  LogQuery,
  LogRow,
  OcrEvent,
  SettingsPatch,
  SettingsView,
  StagedImage,
  Thread,
} from './bindings';

type Args = Record<string, unknown>;

const DAY_MS = 24 * 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const dayOf = (ms: number) => iso(ms).slice(0, 10);
const nextMidnight = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type FakeOptions = {
  /** Start with these keys (default: three demo keys). */
  keys?: KeyView[];
  /** Delay of streamed events, ms (0 in tests). */
  tick?: number;
  /** Seed request history (default true). */
  history?: boolean;
  /** The account's credit state the chains resolve for (default: credits bought, R1 first). */
  credits?: Credits;
  /** A team ledger with these live instances per machine (default: the embedded file). */
  team?: { location: string; machines: [string, number][] };
  /** The core's sentence when this machine lacks the team's current key (`Adoption::sentence`). */
  adoption?: string;
};

/** The core's badge words for a request's outcome (`RequestRow::outcome_label`, pool/words.rs). */
const OUTCOME_LABELS: Record<string, string> = {
  ok: 'answered',
  cached: 'cached',
  bad_request: 'bad request',
  key_invalid: 'invalid key',
  no_credit: 'no credit',
  in_flight_budget: 'too many paid in flight',
  request_too_heavy: 'too heavy for the balance',
  key_spend_limit: 'spend limit reached',
  moderation: 'refused by moderation',
  model_unavailable: 'model unavailable',
  account_daily_exhausted: 'account spent today',
  rate_limited: 'rate limited',
  transient: 'temporary failure',
  cancelled: 'cancelled',
  reserved: 'in flight',
  done: 'answered',
  failed: 'failed',
  abandoned: 'abandoned',
};

/** The team line and per-machine lines as the core writes them (`ledger::pg::summary`). */
function teamSummary(location: string, machines: [string, number][]) {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const total = machines.reduce((s, m) => s + m[1], 0);
  return {
    ledger: location,
    machines: machines.map(([host, instances]) => ({
      host,
      instances,
      line: `${host}: ${plural(instances, 'instance', 'instances')} live`,
    })),
    sentence: `team ledger: ${location} — ${plural(machines.length, 'machine', 'machines')}, ${plural(total, 'instance', 'instances')} live`,
  };
}

/** A catalogue model for the picker (`over` sets the flags). */
export function catalogueModel(id: string, over: Partial<CatalogueModel> = {}): CatalogueModel {
  return {
    id,
    name: id,
    free: id.endsWith(':free'),
    takes_images: false,
    text_only: true,
    reasons: false,
    context_length: 131072,
    ...over,
  };
}

/** A small catalogue shaped like OpenRouter's in 2026 (no Llama 3.2 Vision, R1 paid only). */
export const FAKE_CATALOGUE: CatalogueModel[] = [
  catalogueModel('google/gemma-4-31b-it:free', { name: 'Google: Gemma 4 31B (free)', takes_images: true }),
  catalogueModel('google/gemma-4-26b-a4b-it:free', { name: 'Google: Gemma 4 26B A4B (free)', takes_images: true }),
  catalogueModel('nvidia/nemotron-nano-12b-v2-vl:free', { name: 'NVIDIA: Nemotron Nano 12B 2 VL (free)', takes_images: true }),
  catalogueModel('qwen/qwen2.5-vl-72b-instruct', { name: 'Qwen: Qwen2.5 VL 72B Instruct', takes_images: true }),
  catalogueModel('deepseek/deepseek-r1-0528', { name: 'DeepSeek: R1 0528', reasons: true }),
  catalogueModel('deepseek/deepseek-r1', { name: 'DeepSeek: R1', reasons: true }),
  catalogueModel('nvidia/nemotron-3-super-120b-a12b:free', { name: 'NVIDIA: Nemotron 3 Super (free)', reasons: true }),
  catalogueModel('openai/gpt-oss-120b:free', { name: 'OpenAI: gpt-oss-120b (free)', reasons: true }),
  catalogueModel('black-forest-labs/flux.2-pro', { name: 'Black Forest Labs: FLUX.2 Pro', text_only: false, takes_images: true }),
];

const WHY: Record<EntryReason['kind'], string> = {
  preferred: 'preferred, offered',
  completed: 'added from the catalogue: free',
  pinned: 'pinned',
  unchecked: 'sent as configured (no catalogue)',
  not_offered: 'no longer offered by OpenRouter',
  paid_without_credits: 'paid, and this account has no credits',
  unavailable_today: 'unavailable today',
  unfit: 'does not fit the job',
  beyond_chain: 'not needed (the chain is full)',
};

/** The chain as the core would resolve it (a simplified copy of its rules, for the fake). */
export function fakeResolve(
  kind: 'chat' | 'vision',
  preferences: string[],
  pin: string | null,
  credits: Credits,
  catalogue: CatalogueModel[] = FAKE_CATALOGUE,
): ChainView {
  const find = (id: string) => catalogue.find((m) => m.id === id);
  const entry = (id: string, k: EntryReason['kind']): ChainEntry => ({
    id,
    included: ['preferred', 'completed', 'pinned', 'unchecked'].includes(k),
    reason: { kind: k } as EntryReason,
    why: k === 'completed' ? `${WHY.completed}, ${kind === 'vision' ? 'takes images' : 'shows its reasoning'}` : WHY[k],
    free: find(id)?.free ?? null,
  });
  const fits = (m: CatalogueModel) => m.text_only && (kind === 'chat' || m.takes_images);
  const chain = (entries: ChainEntry[], sentences: string[] = []): ChainView => ({
    pin,
    resolved: { kind: kind === 'chat' ? 'chat' : 'ocr', models: entries.filter((e) => e.included).map((e) => e.id), entries, checked: true, credits },
    sentences,
    error: null,
  });
  if (pin) {
    const m = find(pin);
    if (!m) return { pin, resolved: null, sentences: [], error: { code: 'usage', message: `${pin} is not offered by OpenRouter; pin another model or unpin` } };
    return chain([entry(pin, 'pinned')]);
  }
  const entries: ChainEntry[] = [];
  for (const id of preferences) {
    const m = find(id);
    const sent = entries.filter((e) => e.included).length;
    entries.push(
      entry(id, !m ? 'not_offered' : !fits(m) ? 'unfit' : !m.free && credits === 'free_only' ? 'paid_without_credits' : sent >= 3 ? 'beyond_chain' : 'preferred'),
    );
  }
  const r1 = (id: string) => id.toLowerCase().includes('deepseek-r1');
  // Chat completes with R1 first, then models that show their reasoning.
  const ranked = kind === 'chat' ? [...catalogue].sort((a, b) => Number(r1(b.id)) - Number(r1(a.id)) || Number(b.reasons) - Number(a.reasons)) : catalogue;
  for (const m of ranked) {
    if (entries.filter((e) => e.included).length >= 3) break;
    if (m.free && fits(m) && !entries.some((e) => e.id === m.id)) entries.push(entry(m.id, 'completed'));
  }
  const first = entries.find((e) => e.included)?.id;
  const verb = kind === 'vision' ? 'reading with' : 'answering with';
  const sentences = entries.filter((e) => e.reason.kind === 'not_offered').map((e) => `${e.id} is no longer offered by OpenRouter; ${verb} ${first}`);
  if (kind === 'chat' && preferences.some(r1) && !entries.some((e) => e.included && r1(e.id)) && first) {
    sentences.push(`DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with ${first} instead — add credits or choose a model`);
  }
  return chain(entries, sentences);
}

/** The fake gateway's local token (made up; a real one is `kw-` + 64 random hex). */
export const FAKE_GATEWAY_TOKEN = `kw-${'0'.repeat(60)}f00d`;

function fail(code: IpcError['code'], message: string): never {
  throw { code, message } satisfies IpcError;
}

/** A usable keychain key with the default caps, nothing spent, no label and its own account. */
export function keyView(id: string, over: Partial<KeyView> = {}): KeyView {
  return {
    id,
    label: '',
    account: null,
    masked: `sk-or-v1-…${id.slice(-4)}`,
    source: 'keychain',
    available: true,
    enabled: true,
    status: 'ok',
    today: 0,
    account_today: over.today ?? 0,
    account_daily_cap: 50,
    daily_cap: 50,
    minute_cap: 20,
    availability: { state: 'usable' },
    availability_label: 'ready',
    availability_sentence: 'Ready to use.',
    ...over,
  };
}

/** The n-th demo key: a made-up id, label and masked secret. */
export function demoKey(n: number, over: Partial<KeyView> = {}): KeyView {
  const id = `${'abcdef012345'.slice(n % 6)}${'0123456789ab'.slice(0, n % 6)}`.slice(0, 12);
  return keyView(id, {
    label: ['Personal', 'Work', 'Backup', 'Spare'][n % 4],
    masked: `sk-or-v1-…${(4096 + n * 977).toString(16).slice(-4)}`,
    ...over,
  });
}

/** A day of `subject` with nothing counted yet. */
export function dayAggregate(subject: string, day: string, over: Partial<DayAggregate> = {}): DayAggregate {
  return {
    subject,
    day,
    requests: 0,
    successes: 0,
    errors: {},
    cache_hits: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    reasoning_tokens: 0,
    cost: 0,
    latency_p50_ms: null,
    latency_p95_ms: null,
    ...over,
  };
}

export function installFakeBackend(opts: FakeOptions = {}) {
  const tick = opts.tick ?? 25;
  const settings: SettingsView = {
    rotate_after: 40,
    daily_cap: 50,
    minute_cap: 20,
    chat_models: ['deepseek/deepseek-r1-0528', 'deepseek/deepseek-r1', 'deepseek/deepseek-r1-0528:free'],
    vision_models: ['meta-llama/llama-3.2-90b-vision-instruct', 'qwen/qwen2.5-vl-72b-instruct'],
    config_path: '/home/you/.config/keywheel/config.toml',
    ledger_path: '/home/you/.local/share/keywheel/ledger.sqlite3',
    keychain: { status: { state: 'available' }, sentence: 'OS keychain: available. Added keys are stored there.' },
    base_url: 'https://openrouter.ai/api/v1',
    chat_pin: null,
    vision_pin: null,
  };
  const credits: Credits = opts.credits ?? 'paid';
  const chainOf = (kind: 'chat' | 'vision') =>
    kind === 'chat'
      ? fakeResolve('chat', settings.chat_models, settings.chat_pin, credits)
      : fakeResolve('vision', settings.vision_models, settings.vision_pin, credits);
  const keys: KeyView[] = opts.keys ?? [
    demoKey(1, { today: 37 }),
    demoKey(2, { today: 50, availability: { state: 'key_spent', until: iso(nextMidnight(Date.now())) } }),
    demoKey(3, { today: 4, account: 'team', label: 'Spare' }),
  ];
  const log: LogRow[] = [];
  let teamCacheSaved = false;
  const threads: Thread[] = [];
  const staged: StagedImage[] = [];
  const alertsSeen: AlertRow[] = [];
  let nextId = 1;
  let lastName: string | null = null;
  let ocrCancelled = false;
  const chatStops = new Set<string>();

  const availability = (k: KeyView): Availability => {
    if (!k.enabled) return { state: 'disabled' };
    if (k.status === 'invalid' || k.status === 'no_credit') return { state: 'broken', status: k.status };
    if (k.today >= k.daily_cap) return { state: 'key_spent', until: iso(nextMidnight(Date.now())) };
    return { state: 'usable' };
  };
  // The fake's own stand-ins for the core's words (pool/words.rs owns the real ones).
  const words = (av: Availability): [string, string] => {
    switch (av.state) {
      case 'usable':
        return ['ready', 'Ready to use.'];
      case 'disabled':
        return ['disabled', 'Disabled: Keywheel will not use it until you enable it.'];
      case 'broken':
        return av.status === 'invalid'
          ? ['invalid key', 'OpenRouter rejects this key: it was revoked or mistyped. Replace it.']
          : ['out of credit', 'This key has no credit left: add credit on OpenRouter, then check it.'];
      default:
        return ['spent until 00:00 UTC', 'Its daily cap is spent; it frees at 00:00 UTC.'];
    }
  };
  const refresh = () =>
    keys.forEach((k) => {
      k.availability = availability(k);
      [k.availability_label, k.availability_sentence] = words(k.availability);
    });
  refresh();

  function record(kind: 'chat' | 'ocr', key: KeyView, over: Partial<LogRow> = {}, at = Date.now()) {
    const row: LogRow = {
      via: 'app',
      session: null,
      id: nextId++,
      at: iso(at),
      day: dayOf(at),
      instance_id: 'fake-app',
      key_id: key.id,
      account: key.account ?? key.id,
      kind,
      model_asked: kind === 'chat' ? settings.chat_models[0] : settings.vision_models[0],
      model_answered: kind === 'chat' ? settings.chat_models[0] : settings.vision_models[0],
      state: 'done',
      status_class: 'ok',
      http_status: 200,
      attempts: 1,
      fallback: false,
      rotation: false,
      cached: false,
      prompt_tokens: 1200,
      completion_tokens: 340,
      reasoning_tokens: kind === 'chat' ? 210 : 0,
      cost: 0,
      latency_ms: 2400,
      bytes_sent: 48_000,
      error: null,
      outcome: 'ok',
      outcome_label: 'answered',
      ...over,
    };
    // What RequestRow::outcome and outcome_label say in the core.
    row.outcome = row.cached ? 'cached' : (row.status_class ?? row.state);
    row.outcome_label = OUTCOME_LABELS[row.outcome] ?? row.outcome.replace(/_/g, ' ');
    log.unshift(row);
    return row;
  }

  if (opts.history !== false) {
    const now = Date.now();
    for (let d = 29; d >= 1; d--) {
      keys.forEach((k, i) => {
        const n = Math.max(0, Math.round(12 + 10 * Math.sin(d / 3 + i) - i * 3));
        for (let j = 0; j < n; j++) record(j % 3 ? 'chat' : 'ocr', k, {}, now - d * DAY_MS - j * 60_000);
      });
    }
    keys.forEach((k) => {
      for (let j = 0; j < k.today; j++) {
        const failed = j % 11 === 5;
        record(j % 2 ? 'chat' : 'ocr', k, failed ? { state: 'failed', status_class: 'transient', http_status: 502, error: 'Bad gateway', latency_ms: 900 } : { fallback: j === 3 }, now - j * 7 * 60_000);
      }
    });
  }

  function usageRows(days: number): DayUsage[] {
    const first = dayOf(Date.now() - (days - 1) * DAY_MS);
    const map = new Map<string, DayUsage>();
    for (const r of log) {
      if (r.day < first || r.cached) continue;
      const id = `${r.key_id}|${r.day}`;
      const u = map.get(id) ?? { key_id: r.key_id, day: r.day, requests: 0, successes: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, cost: 0 };
      u.requests += 1;
      if (r.state === 'done') u.successes += 1;
      else u.errors += 1;
      u.prompt_tokens += r.prompt_tokens ?? 0;
      u.completion_tokens += r.completion_tokens ?? 0;
      map.set(id, u);
    }
    return [...map.values()].sort((a, b) => a.day.localeCompare(b.day) || a.key_id.localeCompare(b.key_id));
  }

  function aggregates(days: number, by: 'key' | 'account'): DayAggregate[] {
    const first = dayOf(Date.now() - (days - 1) * DAY_MS);
    const map = new Map<string, DayAggregate & { lat: number[] }>();
    for (const r of log) {
      if (r.day < first) continue;
      const subject = by === 'key' ? r.key_id : r.account;
      if (by === 'account' && subject === r.key_id) continue;
      const id = `${subject}|${r.day}`;
      const a = map.get(id) ?? { ...dayAggregate(subject, r.day), lat: [] };
      if (r.cached) a.cache_hits += 1;
      else a.requests += 1;
      if (r.state === 'done') {
        a.successes += 1;
        if (r.latency_ms != null) a.lat.push(r.latency_ms);
      } else if (r.status_class) a.errors[r.status_class] = (a.errors[r.status_class] ?? 0) + 1;
      a.prompt_tokens += r.prompt_tokens ?? 0;
      a.completion_tokens += r.completion_tokens ?? 0;
      a.reasoning_tokens += r.reasoning_tokens ?? 0;
      map.set(id, a);
    }
    return [...map.values()].map(({ lat, ...a }) => {
      lat.sort((x, y) => x - y);
      return { ...a, latency_p50_ms: lat.length ? lat[Math.floor(lat.length / 2)] : null, latency_p95_ms: lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.95))] : null };
    });
  }

  const changed = () => void emit('ledger-changed', null);

  // The local gateway: off until switched on; the token is a made-up local one.
  const gateway = { running: false, sessions: [] as GatewayStatus['sessions'] };
  const gatewayView = (): GatewayStatus =>
    gateway.running
      ? {
          running: true,
          addr: '127.0.0.1:8377',
          base_url: 'http://127.0.0.1:8377/v1',
          token_masked: `kw-…${FAKE_GATEWAY_TOKEN.slice(-4)}`,
          token_store: 'the OS keychain',
          sessions: gateway.sessions,
          session_idle_secs: 600,
        }
      : { running: false, addr: null, base_url: null, token_masked: null, token_store: null, sessions: [], session_idle_secs: 600 };

  function pickKey(): KeyView {
    refresh();
    const k = keys.find((x) => x.availability.state === 'usable');
    if (!k) {
      if (keys.length === 0) fail('no_usable_key', 'No key is configured: add an OpenRouter key in Keys.');
      fail('quota_exhausted', `All ${keys.length} keys are spent for today; the next one frees at 00:00 UTC.`);
    }
    return k;
  }

  function spend(kind: 'chat' | 'ocr'): KeyView {
    const k = pickKey();
    k.today += 1;
    record(kind, k);
    refresh();
    const left = k.daily_cap - k.today;
    if (left === 5) {
      const alert: AlertRow = { day: dayOf(Date.now()), rule: 'near_cap', subject: k.id, at: iso(Date.now()), message: `${k.label} (${k.masked}) has 5 requests left today.` };
      alertsSeen.push(alert);
      void emit('alert', alert);
    }
    changed();
    return k;
  }

  let captureState = { shortcut: 'Ctrl+Alt+O', active: true, error: null as string | null };
  const handlers: Record<string, (a: Args) => unknown> = {
    keys_list: () => (refresh(), keys),
    keys_add: (a) => {
      const secret = String(a.secret ?? '');
      if (!secret.startsWith('sk-or-')) fail('bad_input', 'That does not look like an OpenRouter key: it should start with sk-or-.');
      const k = demoKey(keys.length + 7, { label: (a.label as string | null) ?? '', masked: `sk-or-v1-…${secret.slice(-4)}` });
      if (a.account) k.account = a.account as string;
      keys.push(k);
      changed();
      return { key: k, check: { id: k.id, masked: k.masked, ok: true, info: { label: k.masked, usage: 0.12, limit: null, is_free_tier: true }, error: null, note: null, summary: 'OpenRouter accepts it, free tier, no spend limit, $0.12 spent so far.' }, warning: null };
    },
    keys_update: (a) => {
      const k = keys.find((x) => x.id === a.id) ?? fail('usage', 'No key with that id.');
      const p = a.patch as KeyPatch;
      if (p.label !== null) k.label = p.label;
      if (p.account !== null) k.account = p.account || k.id;
      if (p.daily_cap !== null) k.daily_cap = p.daily_cap;
      if (p.minute_cap !== null) k.minute_cap = p.minute_cap;
      if (p.enabled !== null) k.enabled = p.enabled;
      if (p.reset_caps) {
        k.daily_cap = settings.daily_cap;
        k.minute_cap = settings.minute_cap;
      }
      refresh();
      changed();
      return k;
    },
    keys_remove: (a) => {
      const i = keys.findIndex((x) => x.id === a.id);
      if (i === -1) fail('usage', 'No key with that id.');
      keys.splice(i, 1);
      changed();
      return null;
    },
    keys_check: (a) =>
      keys
        .filter((k) => a.id == null || k.id === a.id)
        .map((k) => {
          const ok = k.status !== 'invalid';
          const error = ok ? null : 'OpenRouter says this key is invalid.';
          return { id: k.id, masked: k.masked, ok, info: ok ? { usage: 0.5, limit: 10, is_free_tier: false } : null, error, note: null, summary: error ?? 'OpenRouter accepts it, paid, $0.50 of $10.00 spent.' };
        }),
    status: () => {
      refresh();
      const now = Date.now();
      return {
        now: iso(now),
        day: dayOf(now),
        resets_at: iso(nextMidnight(now)),
        resets_in: '',
        current_key: keys[0]?.id ?? null,
        rotate_after: settings.rotate_after,
        instances: [{ id: 'fake-app', pid: 4242, kind: 'app', key_id: keys[0]?.id ?? null, started: iso(now), heartbeat: iso(now) }],
        keys,
        keychain: settings.keychain,
        ledger: settings.ledger_path,
      };
    },
    usage: (a) => {
      refresh();
      const days = Number(a.days ?? 30);
      const now = Date.now();
      const dayList = Array.from({ length: days }, (_, i) => dayOf(now - (days - 1 - i) * DAY_MS));
      const accounts = [...new Set(keys.flatMap((k) => (k.account ? [k.account] : [])))];
      const forecast = (subject: string, about: Forecast['about'], today: number, cap: number): Forecast => {
        const at = iso(nextMidnight(now) - 2 * 3600_000 - 20 * 60_000);
        const [summary, sentence]: [Forecast['summary'], string] =
          today >= cap
            ? [{ state: 'capped' }, 'Daily cap reached.']
            : today > cap / 2
              ? [{ state: 'at', at, in_secs: 11_100 }, 'At this pace it reaches its cap at 21:40 UTC (in 3 h 5 min).']
              : [{ state: 'not_today' }, 'Will not reach its cap before the reset at this pace.'];
        return { subject, about, today, cap, hits_cap_at: summary.state === 'at' ? at : null, summary, sentence };
      };
      return {
        days,
        day_list: dayList,
        keys,
        usage: usageRows(days),
        aggregates: aggregates(days, 'key'),
        accounts: aggregates(days, 'account'),
        forecasts: [
          ...keys.map((k) => forecast(k.id, 'key', k.today, k.daily_cap)),
          ...accounts.map((acc) => forecast(acc, 'account', keys.filter((k) => k.account === acc).reduce((s, k) => s + k.today, 0), 50)),
        ],
        resets_at: iso(nextMidnight(now)),
        resets_in: '',
      };
    },
    request_log: (a) => {
      const q = a.query as LogQuery;
      return log
        .filter((r) => (!q.key_id || r.key_id === q.key_id) && (!q.kind || r.kind === q.kind) && (!q.status_class || r.status_class === q.status_class) && (!q.only_fallbacks || r.fallback || r.rotation))
        .sort((x, y) => y.at.localeCompare(x.at))
        .slice(0, q.limit || 100);
    },
    alerts: () => alertsSeen,
    ledger_view: (): LedgerInfo => ({
      ledger: opts.team
        ? {
            backend: 'postgresql',
            location: opts.team.location,
            team: teamSummary(opts.team.location, opts.team.machines),
            team_cache: false,
          }
        : { backend: 'sqlite', location: settings.ledger_path, team: null, team_cache: false },
      team_cache_saved: teamCacheSaved,
      adoption: opts.adoption ?? null,
    }),
    gateway_status: () => gatewayView(),
    gateway_start: () => ((gateway.running = true), changed(), gatewayView()),
    gateway_stop: () => ((gateway.running = false), changed(), gatewayView()),
    gateway_token: () => {
      if (!gateway.running) fail('usage', 'the local gateway is off; turn it on to copy its token');
      return FAKE_GATEWAY_TOKEN;
    },
    models_chains: () => ({ chat: chainOf('chat'), vision: chainOf('vision') }),
    models_catalogue: () => FAKE_CATALOGUE,
    settings_get: () => ({ ...settings }),
    settings_set: (a) => {
      const p = a.patch as SettingsPatch;
      if (p.team_cache !== undefined && p.team_cache !== null) teamCacheSaved = p.team_cache;
      if (p.rotate_after !== null) settings.rotate_after = p.rotate_after;
      if (p.chat_models !== null) settings.chat_models = p.chat_models;
      if (p.vision_models !== null) settings.vision_models = p.vision_models;
      for (const [field, kind] of [['chat_pin', 'chat'], ['vision_pin', 'vision']] as const) {
        const pin = p[field];
        if (pin === undefined || pin === null) continue;
        const m = FAKE_CATALOGUE.find((x) => x.id === pin.trim());
        if (pin.trim() && !m) fail('usage', `${pin} is not offered by OpenRouter (nothing was sent)`);
        if (m && kind === 'vision' && !m.takes_images) fail('usage', `${pin} does not take images, so it cannot read them; pin a model that takes images`);
        settings[field] = pin.trim() || null;
      }
      return { ...settings };
    },
    threads_list: () =>
      threads
        .map((t) => ({ id: t.id, title: t.title, updated_at: t.updated_at, messages: t.messages.length }))
        .sort((x, y) => y.updated_at.localeCompare(x.updated_at)),
    thread_create: () => {
      const t: Thread = { id: `t${nextId++}`, title: '', created_at: iso(Date.now()), updated_at: iso(Date.now()), messages: [] };
      threads.push(t);
      return t;
    },
    thread_get: (a) => threads.find((t) => t.id === a.id) ?? fail('usage', 'That chat no longer exists.'),
    thread_delete: (a) => {
      const i = threads.findIndex((t) => t.id === a.id);
      if (i !== -1) threads.splice(i, 1);
      return null;
    },
    chat_stop: (a) => (chatStops.add(String(a.threadId)), null),
    capture_status: () => ({ ...captureState }),
    capture_set_shortcut: (a) => {
      const text = String(a.shortcut ?? '').trim();
      if (text && !/^(ctrl|control|alt|super|shift)\+/i.test(text)) {
        fail('usage', `"${text}" has no Ctrl, Alt or Super; a global shortcut needs one, e.g. Ctrl+Alt+O`);
      }
      captureState = { shortcut: text, active: text !== '', error: null };
      return { ...captureState };
    },
    capture_start: () => fail('usage', 'the screen cannot be captured here: the demo backend has no screen'),
    capture_cancel: () => null,
    capture_copy: () => 'The region\'s text is on the clipboard.',
    ocr_staged: () => staged,
    ocr_unstage: (a) => {
      const i = staged.findIndex((s) => s.id === a.id);
      if (i !== -1) staged.splice(i, 1);
      return null;
    },
    ocr_plan: (a) => {
      const ids = a.ids as number[];
      const left = keys.filter((k) => k.availability.state === 'usable').reduce((s, k) => s + k.daily_cap - k.today, 0);
      const needed = ids.length;
      const send = Math.min(needed, left);
      const images = `${ids.length} image${ids.length === 1 ? '' : 's'}`;
      return {
        plan: { images: ids.length, tiles: ids.length, done: 0, cached: 0, needed, left, send, over: needed - send, over_to_local: false, reset_at: null, no_key: keys.length ? null : 'no key configured', now: iso(Date.now()) },
        sentence: keys.length
          ? `${images} ${ids.length === 1 ? 'needs' : 'need'} ${needed} request${needed === 1 ? '' : 's'}; ${left} left today across your keys.`
          : `${images} ${ids.length === 1 ? 'needs' : 'need'} ${needed} request${needed === 1 ? '' : 's'}; no key can serve them (no key configured).`,
      };
    },
    ocr_cancel: () => ((ocrCancelled = true), null),
    ocr_save: (a) => `/home/you/Documents/${staged.find((s) => s.id === a.id)?.name ?? 'image'}.md`,
  };

  async function chatSend(a: Args): Promise<ChatMessage> {
    const t = threads.find((x) => x.id === a.threadId) ?? fail('usage', 'That chat no longer exists.');
    const ch = a.onEvent as Channel<ChatEvent>;
    const prompt = String(a.prompt);
    t.messages.push({ role: 'user', content: prompt, reasoning: null, model: null, key_id: null, cached: false, stopped: false, error: null, at: iso(Date.now()), notes: [] });
    if (!t.title) t.title = prompt.slice(0, 48);
    t.updated_at = iso(Date.now());
    const key = spend('chat');
    const send = async (ev: ChatEvent) => {
      ch.onmessage(ev);
      if (tick) await sleep(tick);
    };
    const reasoning = `The person asks: "${prompt}". Let me think about what they need, check the details, and answer plainly.`;
    const answer = `Here is an answer to **${prompt.slice(0, 40)}**:\n\n1. First point.\n2. Second point, with \`code\`.\n\nThat is all.`;
    const resolved = chainOf('chat');
    const model = resolved.resolved?.models[0] ?? settings.chat_models[0];
    const notes = resolved.sentences.filter((n) => n.startsWith('DeepSeek R1'));
    for (const message of notes) await send({ type: 'note', message, about: null, sentence: message });
    let r = '';
    let c = '';
    let stopped = false;
    for (const w of reasoning.split(/(?<= )/)) {
      if (chatStops.delete(t.id)) { stopped = true; break; }
      r += w;
      await send({ type: 'reasoning', text: w });
    }
    if (!stopped) {
      for (const w of answer.split(/(?<= )/)) {
        if (chatStops.delete(t.id)) { stopped = true; break; }
        c += w;
        await send({ type: 'content', text: w });
      }
    }
    const msg: ChatMessage = { role: 'assistant', content: c, reasoning: r, model, key_id: key.id, cached: false, stopped, error: null, at: iso(Date.now()), notes };
    t.messages.push(msg);
    t.updated_at = iso(Date.now());
    return msg;
  }

  async function ocrRun(a: Args) {
    const ids = a.ids as number[];
    const ch = a.onEvent as Channel<OcrEvent>;
    ocrCancelled = false;
    const out: { id: number; result: ImageResult }[] = [];
    for (const id of ids) {
      if (ocrCancelled) fail('cancelled', 'Cancelled.');
      const s = staged.find((x) => x.id === id);
      if (!s) continue;
      const of = s.bytes > 200_000 ? 2 : 1;
      let result: ImageResult;
      try {
        for (let tile = 0; tile < of; tile++) {
          ch.onmessage({ type: 'tile', id, tile, of, status: 'running', local: false, free: false });
          if (tick) await sleep(tick * 8);
          const key = spend('ocr');
          ch.onmessage({ type: 'tile', id, tile, of, status: 'done', local: false, free: false });
          void key;
        }
        result = { file: s.name, status: 'done', text: `# ${s.name}\n\nText read from the image.\n\n| a | b |\n|---|---|\n| 1 | 2 |`, model: settings.vision_models[0], key_id: keys[0]?.id ?? null, cached: false, local: false, label: null, resumed: false, width: 1280, height: 720 * of, tiles: of, requests: of, error_class: null, error: null, wait_until: null };
      } catch (e) {
        const err = e as IpcError;
        result = { file: s.name, status: err.code === 'quota_exhausted' ? 'waiting' : 'failed', text: null, model: null, key_id: null, cached: false, local: false, label: null, resumed: false, width: 0, height: 0, tiles: of, requests: 0, error_class: err.code === 'quota_exhausted' ? 'quota' : 'no_usable_key', error: err.message, wait_until: err.code === 'quota_exhausted' ? iso(nextMidnight(Date.now())) : null };
      }
      ch.onmessage({ type: 'image', id, result });
      out.push({ id, result });
    }
    return out;
  }

  /** Every command asked for, in order (tests check what the first view fetches). */
  const calls: string[] = [];

  mockIPC(
    (cmd, payload) => {
      calls.push(cmd);
      const a = (payload ?? {}) as Args;
      if (cmd === 'ocr_stage') {
        const bytes = payload as unknown as Uint8Array;
        const s: StagedImage = { id: nextId++, name: lastName ?? `image-${nextId}.png`, bytes: bytes.byteLength };
        staged.push(s);
        return s;
      }
      if (cmd === 'chat_send') return chatSend(a);
      if (cmd === 'ocr_run') return ocrRun(a);
      if (cmd === 'plugin:notification|is_permission_granted') return true;
      const h = handlers[cmd];
      if (!h) fail('usage', `The fake backend has no command ${cmd}.`);
      return h(a);
    },
    { shouldMockEvents: true },
  );

  // The IPC mock does not pass request headers to its handler: keep the staged file's name.
  const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (c: string, a?: unknown, o?: { headers?: Record<string, string> }) => Promise<unknown> } }).__TAURI_INTERNALS__;
  const inner = internals.invoke;
  internals.invoke = (cmd, args, options) => {
    if (cmd === 'ocr_stage') {
      const name = options?.headers?.['x-keywheel-name'];
      lastName = name ? decodeURIComponent(name) : null;
    }
    return inner(cmd, args, options);
  };

  return {
    calls,
    keys,
    log,
    threads,
    staged,
    settings,
    /** Fires an `alert` event as the Rust side would. */
    alert: (a: AlertRow) => emit('alert', a),
    /** Fires `ocr-staged` as a native drop would. */
    drop: (names: string[]) => {
      const list = names.map((name) => ({ id: nextId++, name, bytes: 1000 }));
      staged.push(...list);
      return emit('ocr-staged', list);
    },
    /** Logs a done request with `key` (as another process would; `over` changes fields). */
    record,
    /** The local gateway's state (`running`, `sessions`). */
    gateway,
    ledgerChanged: changed,
  };
}

// Pure formatting helpers: numbers, times, and the sentences the views show for backend states.

import type { Availability, Forecast, KeyView } from '../api';

/** A number from a value ts-rs may type as `number` or `bigint` (64-bit integers). */
export function num(v: number | bigint | null | undefined): number {
  return v == null ? 0 : Number(v);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `14:05 UTC` (with the date in front when it is more than a day away from `now`). */
export function formatUtc(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  if (Math.abs(d.getTime() - now.getTime()) > 24 * 3600_000) {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}`;
  }
  return time;
}

/** `15:05` in the person's own time zone. */
export function formatLocalTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** `2026-11-26 15:05:09` in local time, for log rows. */
export function formatLocalDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

/** `3 h 12 min`, `7 min`, `42 s` — the same shape the CLI prints. */
export function humanDuration(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  const s = secs % 60;
  if (h === 0 && m === 0) return `${s} s`;
  if (h === 0) return `${m} min`;
  if (m === 0) return `${h} h`;
  return `${h} h ${m} min`;
}

/** A ticking countdown: `3:12:05`, `0:00:09`; `0:00:00` once passed. */
export function formatCountdown(ms: number): string {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(secs / 3600);
  return `${h}:${pad(Math.floor((secs % 3600) / 60))}:${pad(secs % 60)}`;
}

/** Short wait like `1.5 s` or `2 min`, for retry notes. */
export function formatWait(wait: number | bigint): string {
  const ms = num(wait);
  if (ms < 60_000) {
    const s = ms / 1000;
    return `${s < 10 ? Math.round(s * 10) / 10 : Math.round(s)} s`;
  }
  return humanDuration(ms);
}

export function formatBytes(n: number | bigint): string {
  const b = num(n);
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${Math.round(b / 1024)} KB`;
  return `${(b / (1024 * 1024)).toFixed(1)} MB`;
}

/** USD cost; tiny amounts keep their significant digits. */
export function formatCost(c: number | null | undefined): string {
  if (c == null) return '—';
  if (c === 0) return '$0';
  if (c < 0.01) return `$${c.toPrecision(2)}`;
  return `$${c.toFixed(2)}`;
}

export function formatCount(n: number | bigint | null | undefined): string {
  if (n == null) return '—';
  return num(n).toLocaleString('en-US');
}

export function formatMs(n: number | bigint | null | undefined): string {
  if (n == null) return '—';
  const ms = num(n);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Relative time for lists: `just now`, `5 min ago`, `3 h ago`, else the date. */
export function formatAgo(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const diff = now.getTime() - d.getTime();
  if (diff < 60_000) return 'just now';
  if (diff < 3600_000) return `${Math.floor(diff / 60_000)} min ago`;
  if (diff < 24 * 3600_000) return `${Math.floor(diff / 3600_000)} h ago`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const STATUS_TEXT: Record<string, string> = {
  ok: 'OK',
  invalid: 'invalid key',
  no_credit: 'out of credit',
  spend_limited: 'spend limit reached',
  rate_limited: 'rate limited',
  upstream: 'OpenRouter trouble',
};

/** A key status in words (statuses the UI does not know yet are shown as they come). */
export function statusText(status: string): string {
  return STATUS_TEXT[status] ?? status.replace(/_/g, ' ');
}

export type Tone = 'ok' | 'neutral' | 'warn' | 'danger';

/** What a key's availability means, as a short badge text and a tone. */
export function availabilityBadge(av: Availability, now: Date = new Date()): { text: string; tone: Tone } {
  switch (av.state) {
    case 'usable':
      return { text: 'ready', tone: 'ok' };
    case 'disabled':
      return { text: 'disabled', tone: 'neutral' };
    case 'broken':
      return { text: statusText(av.status), tone: 'danger' };
    case 'until':
      return { text: `${statusText(av.status)} until ${formatUtc(av.until, now)}`, tone: 'warn' };
    case 'key_spent':
      return { text: `spent until ${formatUtc(av.until, now)}`, tone: 'warn' };
    case 'account_spent':
      return { text: `account spent until ${formatUtc(av.until, now)}`, tone: 'warn' };
    default:
      return { text: String((av as { state: unknown }).state), tone: 'neutral' };
  }
}

/** A full sentence for a key's availability: what it means and what to do. */
export function availabilitySentence(av: Availability, now: Date = new Date()): string {
  switch (av.state) {
    case 'usable':
      return 'Ready to use.';
    case 'disabled':
      return 'Disabled: Keywheel will not use it until you enable it.';
    case 'broken':
      if (av.status === 'invalid') return 'OpenRouter rejects this key: it was revoked or mistyped. Replace it.';
      if (av.status === 'no_credit') return 'This key has no credit left: add credit on OpenRouter, then check it.';
      return `Unusable (${statusText(av.status)}); check it again later.`;
    case 'until':
      return `Unusable (${statusText(av.status)}) until ${formatUtc(av.until, now)}; other keys are used meanwhile.`;
    case 'key_spent':
      return `Its daily cap is spent; it frees at ${formatUtc(av.until, now)}.`;
    case 'account_spent':
      return `Its account is spent for the day; it frees at ${formatUtc(av.until, now)}.`;
    default:
      return 'Unknown state.';
  }
}

/** The forecast fragment (`capped`, `not today`, `at 17:40 UTC (in 3 h)`) as a sentence. */
export function forecastSentence(f: Pick<Forecast, 'summary'>): string {
  const s = f.summary.trim();
  if (s === 'capped') return 'Daily cap reached.';
  if (s === 'not today') return 'Will not reach its cap before the reset at this pace.';
  if (s.startsWith('at ')) return `At this pace it reaches its cap ${s}.`;
  return s;
}

/** The keychain status line from `status().keychain`. */
export function keychainSentence(keychain: string): string {
  if (keychain === 'available') return 'OS keychain: available. Added keys are stored there.';
  if (keychain === 'disabled') return 'OS keychain: disabled. Only keys from OPENROUTER_API_KEYS are used.';
  return `OS keychain unavailable: ${keychain}`;
}

/** `Work · sk-or-v1-…abcd`, or the masked key alone when there is no label. */
export function keyName(k: Pick<KeyView, 'label' | 'masked'>): string {
  return k.label ? `${k.label} · ${k.masked}` : k.masked;
}

/** `1 image`, `3 images`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

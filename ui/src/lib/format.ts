// Pure formatting helpers: numbers and times. Sentences about backend states come from the core
// (they arrive in the DTOs); here they are only picked out.

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

export type Tone = 'ok' | 'neutral' | 'warn' | 'danger';

const TONES: Record<Availability['state'], Tone> = {
  usable: 'ok',
  disabled: 'neutral',
  broken: 'danger',
  until: 'warn',
  key_spent: 'warn',
  account_spent: 'warn',
};

/** A key's availability as a badge: the core's label, in the tone of its state. */
export function availabilityBadge(k: Pick<KeyView, 'availability' | 'availability_label'>): { text: string; tone: Tone } {
  return { text: k.availability_label, tone: TONES[k.availability.state] ?? 'neutral' };
}

/** The core's sentence for a key's availability: what it means and what to do. */
export function availabilitySentence(k: Pick<KeyView, 'availability_sentence'>): string {
  return k.availability_sentence;
}

/** The core's sentence for a forecast. */
export function forecastSentence(f: Pick<Forecast, 'sentence'>): string {
  return f.sentence;
}

/** `Work · sk-or-v1-…abcd`, or the masked key alone when there is no label. */
export function keyName(k: Pick<KeyView, 'label' | 'masked'>): string {
  return k.label ? `${k.label} · ${k.masked}` : k.masked;
}

/** `1 image`, `3 images`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

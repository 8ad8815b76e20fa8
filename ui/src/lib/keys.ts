// Pure helpers for the Keys view.

import type { KeyCheck } from '../api';
import { formatCost } from './format';

/** What `GET /key` said about a key, in one sentence. `info` is read loosely on purpose. */
export function checkSummary(check: KeyCheck): string {
  if (!check.ok) return check.error ?? 'OpenRouter did not accept this key.';
  const info = (check.info ?? {}) as Record<string, unknown>;
  const parts: string[] = ['OpenRouter accepts it'];
  if (info.is_management_key === true) parts.push('but it is a management key and cannot chat');
  if (info.is_free_tier === true) parts.push('free tier');
  const usage = typeof info.usage === 'number' ? info.usage : null;
  const limit = typeof info.limit === 'number' ? info.limit : null;
  if (limit !== null) parts.push(`${formatCost(usage ?? 0)} of ${formatCost(limit)} spent`);
  else if (usage !== null && usage > 0) parts.push(`${formatCost(usage)} spent so far`);
  const free = (info.free_model_daily_requests ?? null) as Record<string, unknown> | null;
  if (free && typeof free.used === 'number' && typeof free.limit === 'number') {
    parts.push(`${free.used} of ${free.limit} free-model requests used today on its account`);
  }
  return `${parts.join(', ')}.`;
}

/** Parses a cap typed by a person: a whole number ≥ 0, or null when it is not one. */
export function parseCap(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** One model per line → list (blank lines and surrounding spaces dropped). */
export function parseModels(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

// Pure shaping of `UsageView` for the Usage view: chart datasets, gauges, aggregates.

import type { DayAggregate, Forecast, KeyView, RequestRow, UsageView } from '../api';
import { keyName, num } from './format';

/** Ten colours of mid lightness that read on both light and dark backgrounds (Tableau 10). */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

export type KeyDataset = { keyId: string; label: string; data: number[]; backgroundColor: string };
export type ChartData = { labels: string[]; datasets: KeyDataset[] };

/**
 * One stacked-bar dataset per key: requests per UTC day over `day_list` (oldest first), zero on
 * days without a row. Keys that are gone from the pool but still have usage keep their id as
 * label.
 */
export function buildChartData(view: UsageView, palette: string[] = PALETTE): ChartData {
  const ids: string[] = view.keys.map((k) => k.id);
  for (const u of view.usage) if (!ids.includes(u.key_id)) ids.push(u.key_id);
  const dayIndex = new Map(view.day_list.map((d, i) => [d, i]));
  const datasets = ids.map((id, i) => {
    const key = view.keys.find((k) => k.id === id);
    const data = view.day_list.map(() => 0);
    for (const u of view.usage) {
      if (u.key_id !== id) continue;
      const at = dayIndex.get(u.day);
      if (at !== undefined) data[at] += num(u.requests);
    }
    return {
      keyId: id,
      label: key ? keyName(key) : `${id} (removed)`,
      data,
      backgroundColor: palette[i % palette.length],
    };
  });
  return { labels: view.day_list.map((d) => d.slice(5)), datasets };
}

/** Share of a cap used, 0..1 (a zero cap counts as full). */
export function fraction(used: number, cap: number): number {
  if (cap <= 0) return 1;
  return Math.min(1, Math.max(0, used / cap));
}

/** Gauge tone: calm below 80 %, a warning from 80 %, spent at the cap. */
export function gaugeTone(used: number, cap: number): 'ok' | 'warn' | 'danger' {
  const f = fraction(used, cap);
  if (f >= 1) return 'danger';
  if (f >= 0.8) return 'warn';
  return 'ok';
}

export type KeyGauge = { key: KeyView; today: number; cap: number; forecast: Forecast | null };

export function keyGauges(view: UsageView): KeyGauge[] {
  return view.keys.map((key) => ({
    key,
    today: num(key.today),
    cap: num(key.daily_cap),
    forecast: view.forecasts.find((f) => f.about === 'key' && f.subject === key.id) ?? null,
  }));
}

export type AccountGauge = {
  account: string;
  today: number;
  cap: number;
  forecast: Forecast;
  keys: KeyView[];
  errorsToday: number;
};

/**
 * Accounts shared by keys (a key alone is its own implicit account and gets no separate gauge):
 * every forecast the core says is about an account.
 */
export function accountGauges(view: UsageView, today: string): AccountGauge[] {
  return view.forecasts
    .filter((f) => f.about === 'account')
    .map((f) => {
      const agg = view.accounts.find((a) => a.subject === f.subject && a.day === today);
      return {
        account: f.subject,
        today: num(f.today),
        cap: num(f.cap),
        forecast: f,
        keys: view.keys.filter((k) => k.account === f.subject),
        errorsToday: agg ? errorTotal(agg.errors) : 0,
      };
    });
}

/** Total of an errors-by-class map. */
export function errorTotal(errors: Partial<Record<string, number | bigint>>): number {
  let total = 0;
  for (const v of Object.values(errors)) total += num(v);
  return total;
}

/** `transient 2, key_invalid 1`, largest first; empty when there were none. */
export function errorSummary(errors: Partial<Record<string, number | bigint>>): string {
  return Object.entries(errors)
    .map(([k, v]) => [k, num(v)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export type AggregateRow = { subject: string; name: string; agg: DayAggregate };

/** The per-key aggregates of one UTC day, in the order of the key list, named for people. */
export function aggregatesForDay(view: UsageView, day: string): AggregateRow[] {
  const rows = view.aggregates.filter((a) => a.day === day);
  const order = (s: string) => {
    const i = view.keys.findIndex((k) => k.id === s);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  return rows
    .map((agg) => {
      const key = view.keys.find((k) => k.id === agg.subject);
      return { subject: agg.subject, name: key ? keyName(key) : agg.subject, agg };
    })
    .sort((a, b) => order(a.subject) - order(b.subject));
}

/** Status classes worth offering as a log filter: those seen in aggregates and rows. */
export function statusClasses(view: UsageView | null, rows: RequestRow[]): string[] {
  const set = new Set<string>(['ok', 'cached']);
  for (const a of view?.aggregates ?? []) for (const k of Object.keys(a.errors)) set.add(k);
  for (const r of rows) if (r.status_class) set.add(r.status_class);
  return [...set].sort();
}

/** `deepseek/deepseek-r1-0528` → `deepseek-r1-0528` (the full id goes in a tooltip). */
export function shortModel(model: string | null | undefined): string {
  if (!model) return '—';
  const i = model.indexOf('/');
  return i === -1 ? model : model.slice(i + 1);
}

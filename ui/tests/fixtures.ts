import type { DayAggregate, KeyView, UsageView } from '../src/api';

export function key(id: string, over: Partial<KeyView> = {}): KeyView {
  return {
    id,
    label: '',
    account: id,
    masked: `sk-or-v1-…${id.slice(-4)}`,
    source: 'keychain',
    available: true,
    enabled: true,
    status: 'ok',
    today: 0,
    daily_cap: 50,
    minute_cap: 20,
    availability: { state: 'usable' },
    ...over,
  };
}

export function agg(subject: string, day: string, over: Partial<DayAggregate> = {}): DayAggregate {
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

export function usageView(over: Partial<UsageView> = {}): UsageView {
  return {
    days: 3,
    day_list: ['2026-11-24', '2026-11-25', '2026-11-26'],
    keys: [],
    usage: [],
    aggregates: [],
    accounts: [],
    forecasts: [],
    resets_at: '2026-11-27T00:00:00Z',
    resets_in: '3 h 12 min',
    ...over,
  };
}

import type { UsageView } from '../src/api';

// Keys and aggregates as the fake backend builds them.
export { dayAggregate as agg, keyView as key } from '../src/api/fake';

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

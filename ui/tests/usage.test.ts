import { describe, expect, it } from 'vitest';
import {
  accountGauges,
  aggregatesForDay,
  buildChartData,
  errorSummary,
  errorTotal,
  fraction,
  gaugeTone,
  keyGauges,
  statusClasses,
} from '../src/lib/usage';
import { agg, key, usageView } from './fixtures';

const row = (key_id: string, day: string, requests: number) => ({
  key_id,
  day,
  requests,
  successes: requests,
  errors: 0,
  prompt_tokens: 0,
  completion_tokens: 0,
  reasoning_tokens: 0,
  cost: 0,
});

describe('buildChartData', () => {
  it('one dataset per key, zero on days without usage, labelled by label + masked', () => {
    const view = usageView({
      keys: [key('aaaa11112222', { label: 'Work' }), key('bbbb33334444')],
      usage: [row('aaaa11112222', '2026-11-24', 5), row('aaaa11112222', '2026-11-26', 2), row('bbbb33334444', '2026-11-25', 7)],
    });
    const data = buildChartData(view, ['red', 'blue']);
    expect(data.labels).toEqual(['11-24', '11-25', '11-26']);
    expect(data.datasets).toEqual([
      { keyId: 'aaaa11112222', label: 'Work · sk-or-v1-…2222', data: [5, 0, 2], backgroundColor: 'red' },
      { keyId: 'bbbb33334444', label: 'sk-or-v1-…4444', data: [0, 7, 0], backgroundColor: 'blue' },
    ]);
  });

  it('keeps usage of a key that was removed, and ignores days outside the window', () => {
    const view = usageView({
      keys: [],
      usage: [row('gone00000000', '2026-11-26', 3), row('gone00000000', '2026-10-01', 9)],
    });
    const data = buildChartData(view);
    expect(data.datasets).toHaveLength(1);
    expect(data.datasets[0].label).toBe('gone00000000 (removed)');
    expect(data.datasets[0].data).toEqual([0, 0, 3]);
  });

  it('colours cycle through the palette', () => {
    const view = usageView({ keys: [key('a1'), key('b2'), key('c3')] });
    expect(buildChartData(view, ['x', 'y']).datasets.map((d) => d.backgroundColor)).toEqual(['x', 'y', 'x']);
  });
});

describe('gauges', () => {
  it('fraction and tone', () => {
    expect(fraction(25, 50)).toBe(0.5);
    expect(fraction(60, 50)).toBe(1);
    expect(fraction(1, 0)).toBe(1);
    expect(gaugeTone(39, 50)).toBe('ok');
    expect(gaugeTone(40, 50)).toBe('warn');
    expect(gaugeTone(50, 50)).toBe('danger');
  });

  it('key gauges carry today, the cap and the key forecast', () => {
    const view = usageView({
      keys: [key('k1', { today: 3, daily_cap: 50 })],
      forecasts: [{ subject: 'k1', about: 'key', today: 3, cap: 50, hits_cap_at: null, summary: { state: 'not_today' }, sentence: 'Will not reach its cap before the reset at this pace.' }],
    });
    const [g] = keyGauges(view);
    expect(g.today).toBe(3);
    expect(g.cap).toBe(50);
    expect(g.forecast?.summary).toEqual({ state: 'not_today' });
  });

  it('account gauges come from forecasts that are not keys, with their keys and errors today', () => {
    const view = usageView({
      keys: [key('k1', { account: 'team' }), key('k2', { account: 'team' }), key('k3')],
      forecasts: [
        { subject: 'k1', about: 'key', today: 1, cap: 50, hits_cap_at: null, summary: { state: 'not_today' }, sentence: 'Will not reach its cap before the reset at this pace.' },
        { subject: 'team', about: 'account', today: 12, cap: 50, hits_cap_at: null, summary: { state: 'not_today' }, sentence: 'Will not reach its cap before the reset at this pace.' },
      ],
      accounts: [agg('team', '2026-11-26', { errors: { transient: 2, key_invalid: 1 } })],
    });
    const gauges = accountGauges(view, '2026-11-26');
    expect(gauges).toHaveLength(1);
    expect(gauges[0].account).toBe('team');
    expect(gauges[0].today).toBe(12);
    expect(gauges[0].keys.map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(gauges[0].errorsToday).toBe(3);
  });
});

describe('aggregates', () => {
  it('errors by class: total and summary, largest first', () => {
    expect(errorTotal({ transient: 2, key_invalid: 1 })).toBe(3);
    expect(errorSummary({ transient: 2, key_invalid: 5, zero: 0 })).toBe('key_invalid 5, transient 2');
    expect(errorSummary({})).toBe('');
  });

  it('one day, in key order, named for people', () => {
    const view = usageView({
      keys: [key('k1', { label: 'A' }), key('k2', { label: 'B' })],
      aggregates: [agg('k2', '2026-11-26', { requests: 4 }), agg('k1', '2026-11-26', { requests: 1 }), agg('k1', '2026-11-25')],
    });
    const rows = aggregatesForDay(view, '2026-11-26');
    expect(rows.map((r) => [r.subject, r.name, r.agg.requests])).toEqual([
      ['k1', 'A · sk-or-v1-…k1', 1],
      ['k2', 'B · sk-or-v1-…k2', 4],
    ]);
  });

  it('status classes offered as filters include what was seen', () => {
    const view = usageView({ aggregates: [agg('k1', '2026-11-26', { errors: { transient: 1 } })] });
    expect(statusClasses(view, [])).toEqual(['cached', 'ok', 'transient']);
  });
});

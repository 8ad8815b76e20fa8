import { describe, expect, it } from 'vitest';
import {
  availabilityBadge,
  availabilitySentence,
  forecastSentence,
  formatBytes,
  formatCost,
  formatCountdown,
  formatUtc,
  formatWait,
  humanDuration,
} from '../src/lib/format';
import type { Availability } from '../src/api';

const now = new Date('2026-11-26T20:47:55Z');
const midnight = '2026-11-27T00:00:00Z';

// The words are the core's (crates/keywheel-core/src/pool/words.rs tests these same cases);
// the views show the label and the sentence a key view carries, in the tone of its state.
describe('availability', () => {
  const key = (availability: Availability, availability_label: string, availability_sentence: string) => ({
    availability,
    availability_label,
    availability_sentence,
  });

  it('says when a spent key frees, in UTC', () => {
    const k = key({ state: 'key_spent', until: midnight }, 'spent until 00:00 UTC', 'Its daily cap is spent; it frees at 00:00 UTC.');
    expect(availabilityBadge(k)).toEqual({ text: 'spent until 00:00 UTC', tone: 'warn' });
    expect(availabilitySentence(k)).toBe('Its daily cap is spent; it frees at 00:00 UTC.');
  });

  it('an account spent for the day names the account', () => {
    const k = key(
      { state: 'account_spent', until: midnight },
      'account spent until 00:00 UTC',
      'Its account is spent for the day; it frees at 00:00 UTC.',
    );
    expect(availabilityBadge(k).text).toBe('account spent until 00:00 UTC');
    expect(availabilitySentence(k)).toContain('account is spent');
  });

  it('broken keys say what to do', () => {
    const invalid = key(
      { state: 'broken', status: 'invalid' },
      'invalid key',
      'OpenRouter rejects this key: it was revoked or mistyped. Replace it.',
    );
    expect(availabilityBadge(invalid)).toEqual({ text: 'invalid key', tone: 'danger' });
    expect(availabilitySentence(invalid)).toMatch(/Replace it/);
    const broke = key(
      { state: 'broken', status: 'no_credit' },
      'out of credit',
      'This key has no credit left: add credit on OpenRouter, then check it.',
    );
    expect(availabilitySentence(broke)).toMatch(/add credit/);
  });

  it('usable and disabled', () => {
    expect(availabilityBadge(key({ state: 'usable' }, 'ready', 'Ready to use.'))).toEqual({ text: 'ready', tone: 'ok' });
    const off = key({ state: 'disabled' }, 'disabled', 'Disabled: Keywheel will not use it until you enable it.');
    expect(availabilityBadge(off).tone).toBe('neutral');
    expect(availabilitySentence(off)).toMatch(/until you enable it/);
  });

  it('a limit further than a day away carries its date', () => {
    const k = key(
      { state: 'until', status: 'no_credit', until: '2026-11-29T00:00:00Z' },
      'out of credit until 2026-11-29 00:00 UTC',
      'Unusable (out of credit) until 2026-11-29 00:00 UTC; other keys are used meanwhile.',
    );
    expect(availabilityBadge(k).text).toBe('out of credit until 2026-11-29 00:00 UTC');
  });
});

describe('durations and countdowns', () => {
  it('formats the countdown to the reset as h:mm:ss', () => {
    expect(formatCountdown(Date.parse(midnight) - now.getTime())).toBe('3:12:05');
    expect(formatCountdown(9_999)).toBe('0:00:09');
    expect(formatCountdown(-5_000)).toBe('0:00:00');
    expect(formatCountdown(24 * 3600_000)).toBe('24:00:00');
  });

  it('human durations match the CLI', () => {
    expect(humanDuration(3 * 3600_000 + 12 * 60_000 + 5_000)).toBe('3 h 12 min');
    expect(humanDuration(2 * 3600_000)).toBe('2 h');
    expect(humanDuration(7 * 60_000)).toBe('7 min');
    expect(humanDuration(42_000)).toBe('42 s');
  });

  it('waits', () => {
    expect(formatWait(1500)).toBe('1.5 s');
    expect(formatWait(12_400)).toBe('12 s');
    expect(formatWait(120_000)).toBe('2 min');
  });

  it('UTC times', () => {
    expect(formatUtc(midnight, now)).toBe('00:00 UTC');
    expect(formatUtc('not a date', now)).toBe('not a date');
  });
});

describe('sentences', () => {
  // The core writes them (forecast.rs tests the same three); the view shows them.
  it('forecast fragments become sentences', () => {
    expect(forecastSentence({ sentence: 'Daily cap reached.' })).toBe('Daily cap reached.');
    expect(forecastSentence({ sentence: 'Will not reach its cap before the reset at this pace.' })).toMatch(/not reach its cap/);
    expect(forecastSentence({ sentence: 'At this pace it reaches its cap at 17:40 UTC (in 3 h 5 min).' })).toBe(
      'At this pace it reaches its cap at 17:40 UTC (in 3 h 5 min).',
    );
  });

  it('bytes and cost', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(42 * 1024 * 1024)).toBe('42.0 MB');
    expect(formatCost(null)).toBe('—');
    expect(formatCost(0.000123)).toBe('$0.00012');
    expect(formatCost(1.5)).toBe('$1.50');
  });
});

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
  keychainSentence,
  statusText,
} from '../src/lib/format';
import type { Availability } from '../src/api';

const now = new Date('2026-11-26T20:47:55Z');
const midnight = '2026-11-27T00:00:00Z';

describe('availability', () => {
  it('says when a spent key frees, in UTC', () => {
    const av: Availability = { state: 'key_spent', until: midnight };
    expect(availabilityBadge(av, now)).toEqual({ text: 'spent until 00:00 UTC', tone: 'warn' });
    expect(availabilitySentence(av, now)).toBe('Its daily cap is spent; it frees at 00:00 UTC.');
  });

  it('an account spent for the day names the account', () => {
    const av: Availability = { state: 'account_spent', until: midnight };
    expect(availabilityBadge(av, now).text).toBe('account spent until 00:00 UTC');
    expect(availabilitySentence(av, now)).toContain('account is spent');
  });

  it('broken keys say what to do', () => {
    expect(availabilityBadge({ state: 'broken', status: 'invalid' }, now)).toEqual({
      text: 'invalid key',
      tone: 'danger',
    });
    expect(availabilitySentence({ state: 'broken', status: 'invalid' }, now)).toMatch(/Replace it/);
    expect(availabilitySentence({ state: 'broken', status: 'no_credit' }, now)).toMatch(/add credit/);
  });

  it('usable and disabled', () => {
    expect(availabilityBadge({ state: 'usable' }, now)).toEqual({ text: 'ready', tone: 'ok' });
    expect(availabilityBadge({ state: 'disabled' }, now).tone).toBe('neutral');
    expect(availabilitySentence({ state: 'disabled' }, now)).toMatch(/until you enable it/);
  });

  it('a limit further than a day away carries its date', () => {
    const av: Availability = { state: 'until', status: 'no_credit', until: '2026-11-29T00:00:00Z' };
    expect(availabilityBadge(av, now).text).toBe('out of credit until 2026-11-29 00:00 UTC');
  });

  it('unknown statuses are shown in words rather than dropped', () => {
    expect(statusText('spend_limited')).toBe('spend limit reached');
    expect(statusText('something_new')).toBe('something new');
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
  it('forecast fragments become sentences', () => {
    expect(forecastSentence({ summary: 'capped' })).toBe('Daily cap reached.');
    expect(forecastSentence({ summary: 'not today' })).toMatch(/not reach its cap/);
    expect(forecastSentence({ summary: 'at 17:40 UTC (in 3 h 5 min)' })).toBe(
      'At this pace it reaches its cap at 17:40 UTC (in 3 h 5 min).',
    );
  });

  it('keychain status line', () => {
    expect(keychainSentence('available')).toMatch(/^OS keychain: available/);
    expect(keychainSentence('no Secret Service: start gnome-keyring')).toBe(
      'OS keychain unavailable: no Secret Service: start gnome-keyring',
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

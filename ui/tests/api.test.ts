import { Channel } from '@tauri-apps/api/core';
import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api';
import type { ChatEvent, ChatMessage, OcrEvent } from '../src/api';

afterEach(() => clearMocks());

type Call = { cmd: string; args: unknown };

/** Records every command and answers from `answers` (a function value is called). */
function record(answers: Record<string, unknown> = {}): Call[] {
  const calls: Call[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    const a = answers[cmd];
    return typeof a === 'function' ? (a as (x: unknown) => unknown)(args) : (a ?? null);
  });
  return calls;
}

const message: ChatMessage = {
  role: 'assistant',
  content: 'Hi',
  reasoning: 'think',
  model: 'deepseek/deepseek-r1',
  key_id: 'abc',
  cached: false,
  stopped: false,
  error: null,
  at: '2026-11-26T10:00:00Z',
  notes: [],
};

describe('commands pass their arguments under the names Tauri maps to Rust', () => {
  it('keys', async () => {
    const calls = record({ keys_add: { key: { id: 'k1' }, check: null, warning: null } });
    await api.keysList();
    const added = await api.keysAdd('sk-or-v1-secret', 'Work', null);
    await api.keysUpdate('k1', { ...api.emptyKeyPatch(), daily_cap: 30 });
    await api.keysRemove('k1');
    await api.keysCheck(null);
    expect(added.key.id).toBe('k1');
    expect(calls).toEqual([
      { cmd: 'keys_list', args: {} },
      { cmd: 'keys_add', args: { secret: 'sk-or-v1-secret', label: 'Work', account: null } },
      {
        cmd: 'keys_update',
        args: {
          id: 'k1',
          patch: { label: null, account: null, daily_cap: 30, minute_cap: null, enabled: null, reset_caps: false },
        },
      },
      { cmd: 'keys_remove', args: { id: 'k1' } },
      { cmd: 'keys_check', args: { id: null } },
    ]);
  });

  it('usage, log, alerts and settings', async () => {
    const calls = record();
    await api.usage(30);
    await api.requestLog({ key_id: 'k1', kind: 'ocr', status_class: null, only_fallbacks: true, limit: 50 });
    await api.alerts(7);
    await api.settingsSet({ rotate_after: 35, chat_models: null, vision_models: ['m1', 'm2'] });
    expect(calls.map((c) => c.cmd)).toEqual(['usage', 'request_log', 'alerts', 'settings_set']);
    expect(calls[0].args).toEqual({ days: 30 });
    expect(calls[1].args).toEqual({
      query: { key_id: 'k1', kind: 'ocr', status_class: null, only_fallbacks: true, limit: 50 },
    });
    expect(calls[2].args).toEqual({ days: 7 });
    expect(calls[3].args).toEqual({ patch: { rotate_after: 35, chat_models: null, vision_models: ['m1', 'm2'] } });
  });

  it('threads use camelCase threadId', async () => {
    const calls = record();
    await api.threadGet('t1');
    await api.chatStop('t1');
    expect(calls).toEqual([
      { cmd: 'thread_get', args: { id: 't1' } },
      { cmd: 'chat_stop', args: { threadId: 't1' } },
    ]);
  });

  it('ocr_stage sends the raw bytes with the URI-encoded name in a header', async () => {
    const calls = record({ ocr_stage: { id: 7, name: 'Café scan.png', bytes: 3 } });
    // The IPC mock drops invoke options; wrap the internal invoke to see the headers.
    const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (...a: unknown[]) => Promise<unknown> } })
      .__TAURI_INTERNALS__;
    const inner = internals.invoke;
    const seen: unknown[] = [];
    internals.invoke = (cmd, args, options) => {
      seen.push(options);
      return inner(cmd, args, options);
    };
    const bytes = new Uint8Array([1, 2, 3]);
    const staged = await api.ocrStage('Café scan.png', bytes);
    expect(staged.id).toBe(7);
    expect(calls[0].cmd).toBe('ocr_stage');
    expect(calls[0].args).toBe(bytes);
    expect(seen[0]).toEqual({ headers: { 'x-keywheel-name': 'Caf%C3%A9%20scan.png' } });
  });

  it('ocr plan/unstage/cancel/save', async () => {
    const calls = record({ ocr_save: '/tmp/a.md' });
    await api.ocrPlan([1, 2]);
    await api.ocrUnstage(2);
    await api.ocrCancel();
    expect(await api.ocrSave(1)).toBe('/tmp/a.md');
    expect(calls.map((c) => [c.cmd, c.args])).toEqual([
      ['ocr_plan', { ids: [1, 2] }],
      ['ocr_unstage', { id: 2 }],
      ['ocr_cancel', {}],
      ['ocr_save', { id: 1 }],
    ]);
  });
});

describe('channels', () => {
  it('chat_send streams events through a Channel, in order, then resolves with the message', async () => {
    let args: Record<string, unknown> = {};
    mockIPC((cmd, a) => {
      if (cmd !== 'chat_send') return null;
      args = a as Record<string, unknown>;
      const ch = args.onEvent as Channel<ChatEvent>;
      ch.onmessage({ type: 'reasoning', text: 'hmm' });
      ch.onmessage({ type: 'content', text: 'Hi' });
      return message;
    });
    const got: ChatEvent[] = [];
    const result = await api.chatSend('t9', 'Hello?', (e) => got.push(e));
    expect(result).toEqual(message);
    expect(args.threadId).toBe('t9');
    expect(args.prompt).toBe('Hello?');
    expect(args.onEvent).toBeInstanceOf(Channel);
    expect(got).toEqual([
      { type: 'reasoning', text: 'hmm' },
      { type: 'content', text: 'Hi' },
    ]);
  });

  it('ocr_run delivers tile and image events (out-of-order IPC messages are reordered)', async () => {
    mockIPC((cmd, a) => {
      if (cmd !== 'ocr_run') return null;
      const ch = (a as { onEvent: Channel<OcrEvent> }).onEvent;
      const run = (window as unknown as { __TAURI_INTERNALS__: { runCallback: (id: number, d: unknown) => void } })
        .__TAURI_INTERNALS__.runCallback;
      // Deliver index 1 before index 0, as the real IPC may.
      run(ch.id, { index: 1, message: { type: 'note', message: 'second' } });
      run(ch.id, { index: 0, message: { type: 'tile', id: 1, tile: 0, of: 2, status: 'running', local: false, free: false } });
      return [];
    });
    const got: OcrEvent[] = [];
    await api.ocrRun([1], (e) => got.push(e));
    expect(got.map((e) => e.type)).toEqual(['tile', 'note']);
  });
});

describe('errors', () => {
  it('a backend IpcError keeps its code and sentence', async () => {
    mockIPC(() => {
      throw { code: 'quota_exhausted', message: 'All 3 keys are spent for today; the next one frees at 00:00 UTC.' };
    });
    const err = await api.status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      code: 'quota_exhausted',
      message: 'All 3 keys are spent for today; the next one frees at 00:00 UTC.',
    });
    expect((err as api.ApiError).toJSON()).toEqual({
      code: 'quota_exhausted',
      message: 'All 3 keys are spent for today; the next one frees at 00:00 UTC.',
    });
  });

  it('anything else becomes a storage error with the text of what was thrown', async () => {
    mockIPC(() => {
      throw 'command keys_list not found';
    });
    await expect(api.keysList()).rejects.toMatchObject({ code: 'storage', message: 'command keys_list not found' });
    expect(api.toApiError(new TypeError('boom'))).toMatchObject({ code: 'storage', message: 'TypeError: boom' });
    expect(api.toApiError({ code: 42 })).toMatchObject({ code: 'storage', message: '[object Object]' });
  });

  it('notificationsAllowed answers null instead of throwing', async () => {
    mockIPC(() => {
      throw 'not allowed';
    });
    expect(await api.notificationsAllowed()).toBeNull();
  });
});

describe('events', () => {
  it('ledger-changed, alert and ocr-staged reach their callbacks until unsubscribed', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const changed = vi.fn();
    const alert = vi.fn();
    const staged = vi.fn();
    const stop = api.onLedgerChanged(changed);
    api.onAlert(alert);
    api.onOcrStaged(staged);
    await vi.waitFor(async () => {
      await emit('ledger-changed', null);
      expect(changed).toHaveBeenCalled();
    });
    const row = { day: '2026-11-26', rule: 'near_cap', subject: 'k1', at: '2026-11-26T10:00:00Z', message: '5 left' };
    await emit('alert', row);
    await emit('ocr-staged', [{ id: 1, name: 'a.png', bytes: 10 }]);
    expect(alert).toHaveBeenCalledWith(row);
    expect(staged).toHaveBeenCalledWith([{ id: 1, name: 'a.png', bytes: 10 }]);

    stop();
    const before = changed.mock.calls.length;
    await emit('ledger-changed', null);
    expect(changed.mock.calls.length).toBe(before);
  });

  it('drop-error arrives as an ApiError with the backend sentence', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: api.ApiError[] = [];
    api.onDropError((e) => got.push(e));
    await vi.waitFor(async () => {
      await emit('drop-error', { code: 'bad_input', message: '`huge.tif` is 52.0 MB; the limit is 40 MB' });
      expect(got.length).toBeGreaterThan(0);
    });
    expect(got[0]).toBeInstanceOf(api.ApiError);
    expect(got[0]).toMatchObject({ code: 'bad_input', message: '`huge.tif` is 52.0 MB; the limit is 40 MB' });
  });

  it('unsubscribing before the listener is registered still removes it', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const changed = vi.fn();
    api.onLedgerChanged(changed)();
    await new Promise((r) => setTimeout(r, 0));
    await emit('ledger-changed', null);
    expect(changed).not.toHaveBeenCalled();
  });
});

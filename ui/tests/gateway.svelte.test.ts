// The "Local gateway" card of Keys → settings over mocked IPC (switch, address, copy buttons,
// sessions; the token only on the clipboard), its helpers, and the request log's "via gateway".

import { emit } from '@tauri-apps/api/event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api';
import type { GatewayStatus, KeyView } from '../src/api';
import { exportLine, idleText, sessionsText } from '../src/lib/gateway';
import { key } from './fixtures';

let cleanup: (() => void) | null = null;
let clipboard: string[] = [];

beforeEach(() => {
  clipboard = [];
  Object.defineProperty(navigator, 'clipboard', {
    configurable: true,
    value: { writeText: async (t: string) => void clipboard.push(t) },
  });
  // jsdom has no canvas; the usage chart simply does not draw.
  HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
});

afterEach(() => {
  cleanup?.();
  cleanup = null;
  clearMocks();
  document.body.innerHTML = '';
});

const byTestId = <T extends Element = HTMLElement>(id: string, root: ParentNode = document) =>
  root.querySelector<T>(`[data-testid="${id}"]`);

const TOKEN = `kw-${'3c'.repeat(30)}9a7b`;

describe('gateway commands', () => {
  it('are the four Rust commands; the request log keeps via and session', async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === 'gateway_token') return TOKEN;
      if (cmd === 'request_log') return [{ id: 1, via: 'gateway', session: 's1' }];
      return { running: cmd === 'gateway_start' };
    });
    expect((await api.gatewayStatus()).running).toBe(false);
    expect((await api.gatewayStart()).running).toBe(true);
    expect(await api.gatewayToken()).toBe(TOKEN);
    expect((await api.gatewayStop()).running).toBe(false);
    const rows = await api.requestLog({ key_id: null, kind: null, status_class: null, only_fallbacks: false, limit: 10 });
    expect([rows[0].via, rows[0].session]).toEqual(['gateway', 's1']);
    expect(calls).toEqual(['gateway_status', 'gateway_start', 'gateway_token', 'gateway_stop', 'request_log']);
  });

  it('a refusal to start is an ApiError with its code and sentence', async () => {
    mockIPC(() => {
      throw { code: 'usage', message: '127.0.0.1:8377 is already in use, perhaps by `keywheel serve` in a terminal' };
    });
    await expect(api.gatewayStart()).rejects.toMatchObject({ code: 'usage', name: 'ApiError' });
  });
});

describe('gateway helpers', () => {
  it('the export line, the sessions with their keys, the idle limit', () => {
    expect(exportLine('http://127.0.0.1:8377/v1', 'kw-…9a7b')).toBe(
      'export OPENAI_BASE_URL=http://127.0.0.1:8377/v1 OPENAI_API_KEY=kw-…9a7b',
    );
    const keys: KeyView[] = [key('aaaa11112222', { label: 'Work' })];
    expect(sessionsText([], keys)).toBe('none yet');
    expect(
      sessionsText(
        [
          { id: 'nightly-1', key_id: 'aaaa11112222' },
          { id: 'other', key_id: 'ffff00001111' },
          { id: 'new', key_id: null },
        ],
        keys,
      ),
    ).toBe('nightly-1 (Work · sk-or-v1-…2222), other (ffff00001111), new');
    expect([idleText(600), idleText(60), idleText(45), idleText(1), idleText(90)]).toEqual([
      '10 minutes',
      '1 minute',
      '45 seconds',
      '1 second',
      '90 seconds',
    ]);
  });
});

/** A Rust side for the card alone: the gateway's state, calls recorded, a start that can fail. */
function backend() {
  const calls: string[] = [];
  const gw = { running: false, sessions: [] as GatewayStatus['sessions'], failStart: null as string | null };
  const view = (): GatewayStatus =>
    gw.running
      ? {
          running: true,
          addr: '127.0.0.1:41234',
          base_url: 'http://127.0.0.1:41234/v1',
          token_masked: `kw-…${TOKEN.slice(-4)}`,
          token_store: '/data/gateway-token',
          sessions: gw.sessions,
          session_idle_secs: 600,
        }
      : { running: false, addr: null, base_url: null, token_masked: null, token_store: null, sessions: [], session_idle_secs: 600 };
  mockIPC(
    (cmd) => {
      calls.push(cmd);
      switch (cmd) {
        case 'gateway_status':
          return view();
        case 'gateway_start':
          if (gw.failStart) throw { code: 'usage', message: gw.failStart };
          gw.running = true;
          return view();
        case 'gateway_stop':
          gw.running = false;
          gw.sessions = [];
          return view();
        case 'gateway_token':
          if (!gw.running) throw { code: 'usage', message: 'the local gateway is off; turn it on to copy its token' };
          return TOKEN;
      }
      throw { code: 'usage', message: `no command ${cmd}` };
    },
    { shouldMockEvents: true },
  );
  return { calls, gw };
}

async function mountCard(keys: KeyView[] = []) {
  const { mount, unmount, flushSync } = await import('svelte');
  const Card = (await import('../src/components/keys/GatewayCard.svelte')).default;
  const target = document.createElement('div');
  document.body.append(target);
  const card = mount(Card, { target, props: { keys } });
  flushSync();
  cleanup = () => void unmount(card);
  const sw = () => byTestId<HTMLInputElement>('gateway-switch')!;
  await vi.waitFor(() => expect(sw().disabled).toBe(false));
  return { sw, flushSync };
}

function click(el: HTMLInputElement) {
  el.click(); // flips `checked` and fires `change`, as a person's click does
}

describe('Local gateway card', () => {
  it('off at first; on shows the address and the token masked; copies put the token on the clipboard only; off again', async () => {
    const be = backend();
    const { sw } = await mountCard([key('aaaa11112222', { label: 'Work' })]);
    expect(sw().checked).toBe(false);
    expect(sw().getAttribute('role')).toBe('switch');
    expect(sw().getAttribute('aria-label')).toBe('Local gateway');
    expect(byTestId('gateway-state')!.textContent).toBe('Off');
    expect(byTestId('gateway-url')).toBeNull();

    click(sw());
    await vi.waitFor(() => expect(byTestId('gateway-url')?.textContent).toBe('http://127.0.0.1:41234/v1'));
    expect(sw().checked).toBe(true);
    expect(byTestId('gateway-state')!.textContent).toBe('On');
    expect(byTestId('gateway-token-masked')!.textContent).toBe('kw-…9a7b');
    expect(byTestId('gateway-export')!.textContent).toBe(
      'export OPENAI_BASE_URL=http://127.0.0.1:41234/v1 OPENAI_API_KEY=kw-…9a7b',
    );
    expect(byTestId('gateway-card')!.textContent).toContain('/data/gateway-token');
    expect(byTestId('gateway-sessions')!.textContent).toContain('none yet');
    expect(be.calls).not.toContain('gateway_token');

    byTestId<HTMLButtonElement>('gateway-copy-token')!.click();
    await vi.waitFor(() => expect(clipboard).toEqual([TOKEN]));
    await vi.waitFor(() => expect(byTestId('gateway-copied')!.textContent).toBe('Token copied.'));
    byTestId<HTMLButtonElement>('gateway-copy-export')!.click();
    await vi.waitFor(() => expect(clipboard).toHaveLength(2));
    expect(clipboard[1]).toBe(`export OPENAI_BASE_URL=http://127.0.0.1:41234/v1 OPENAI_API_KEY=${TOKEN}`);
    expect(byTestId('gateway-copied')!.textContent).toMatch(/^Export line copied/);
    // The token itself never became part of the page.
    expect(document.documentElement.outerHTML).not.toContain(TOKEN.slice(3, 40));

    click(sw());
    await vi.waitFor(() => expect(byTestId('gateway-url')).toBeNull());
    expect(sw().checked).toBe(false);
    expect(be.calls.filter((c) => c === 'gateway_stop')).toHaveLength(1);
  });

  it('sessions follow the ledger live, each with the key it holds', async () => {
    const be = backend();
    be.gw.running = true;
    await mountCard([key('aaaa11112222', { label: 'Work' })]);
    await vi.waitFor(() => expect(byTestId('gateway-sessions')!.textContent).toContain('none yet'));
    be.gw.sessions = [{ id: 'nightly-ocr-3', key_id: 'aaaa11112222' }];
    await emit('ledger-changed', null);
    await vi.waitFor(() =>
      expect(byTestId('gateway-sessions')!.textContent).toContain('nightly-ocr-3 (Work · sk-or-v1-…2222)'),
    );
    expect(byTestId('gateway-sessions')!.dataset.count).toBe('1');
    expect(byTestId('gateway-sessions')!.textContent!.replace(/\s+/g, ' ')).toContain('a session idle for 10 minutes ends');
  });

  it('a start that fails says why and the switch stays off', async () => {
    const be = backend();
    be.gw.failStart = '127.0.0.1:8377 is already in use, perhaps by `keywheel serve` in a terminal';
    const { sw } = await mountCard();
    click(sw());
    await vi.waitFor(() => expect(byTestId('gateway-error')?.textContent).toContain('already in use'));
    expect(byTestId('gateway-error')!.getAttribute('role')).toBe('alert');
    await vi.waitFor(() => expect(sw().checked).toBe(false));
    expect(sw().disabled).toBe(false);
    expect(byTestId('gateway-url')).toBeNull();
  });
});

describe('the app with its gateway', () => {
  it('the Keys view has the card, and the request log says via gateway with the session', async () => {
    vi.resetModules();
    const { installFakeBackend, demoKey } = await import('../src/api/fake');
    const fake = installFakeBackend({ tick: 0, history: false, keys: [] });
    fake.keys.push(demoKey(1));
    const { mount, unmount, flushSync } = await import('svelte');
    const App = (await import('../src/App.svelte')).default;
    const target = document.createElement('div');
    document.body.append(target);
    const app = mount(App, { target });
    flushSync();
    cleanup = () => void unmount(app);

    const press = (k: string) =>
      window.dispatchEvent(new KeyboardEvent('keydown', { key: k, ctrlKey: true, bubbles: true, cancelable: true }));
    press('4');
    await vi.waitFor(() => expect(byTestId('gateway-card')).not.toBeNull());
    byTestId<HTMLInputElement>('gateway-switch')!.click();
    await vi.waitFor(() => expect(byTestId('gateway-url')?.textContent).toBe('http://127.0.0.1:8377/v1'));

    fake.record('chat', fake.keys[0], { via: 'gateway', session: 'script-7' });
    fake.record('chat', fake.keys[0], { via: 'cli' });
    press('3');
    await vi.waitFor(() => expect(document.querySelectorAll('[data-testid="log-row"]')).toHaveLength(2));
    const rows = Array.from(document.querySelectorAll<HTMLElement>('[data-testid="log-row"]'));
    const gw = rows.find((r) => r.dataset.via === 'gateway')!;
    expect(gw.textContent).toContain('via gateway');
    expect(byTestId('log-session', gw)!.textContent).toBe('session script-7');
    const cli = rows.find((r) => r.dataset.via === 'cli')!;
    expect(cli.textContent).not.toContain('via gateway');
    expect(byTestId('log-session', cli)).toBeNull();
  });
});

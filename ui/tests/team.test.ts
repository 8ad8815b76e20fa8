// The app over the fake backend: the team ledger in Usage and Settings (the core's sentences, no
// password), the team cache switch, the request log's badge words, the first view fetching only
// what it shows, and no greyed "Read 0 images" once everything is read.

import { clearMocks } from '@tauri-apps/api/mocks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FakeOptions } from '../src/api/fake';

let cleanup: (() => void) | null = null;

beforeEach(() => {
  HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
});

afterEach(() => {
  cleanup?.();
  cleanup = null;
  clearMocks();
  document.body.innerHTML = '';
});

async function start(opts: FakeOptions = {}, warm = true) {
  vi.resetModules();
  const { installFakeBackend, demoKey } = await import('../src/api/fake');
  const fake = installFakeBackend({ tick: 0, history: false, ...opts });
  const { mount, unmount, flushSync } = await import('svelte');
  const App = (await import('../src/App.svelte')).default;
  if (warm) {
    const { loadView } = await import('../src/lib/views');
    await Promise.all((['chat', 'usage', 'keys'] as const).map((v) => loadView(v)));
  }
  const target = document.createElement('div');
  document.body.append(target);
  const app = mount(App, { target });
  flushSync();
  cleanup = () => void unmount(app);
  const calledBeforeFirstFrame = [...fake.calls];
  // As in the window: the start-up calls and event subscriptions go out after the first frame.
  await (await import('../src/lib/firstframe')).afterFirstFrame();
  return { fake, demoKey, calledBeforeFirstFrame };
}

const $$ = (sel: string) => Array.from(document.querySelectorAll<HTMLElement>(sel));
const byTestId = <T extends HTMLElement = HTMLElement>(id: string) => document.querySelector<T>(`[data-testid="${id}"]`);
const key = (k: string) =>
  window.dispatchEvent(new KeyboardEvent('keydown', { key: k, ctrlKey: true, bubbles: true, cancelable: true }));

const TEAM: FakeOptions['team'] = {
  location: 'db.example:5432/keywheel',
  machines: [
    ['build-server', 3],
    ['laptop-anna', 1],
  ],
};

describe('team ledger', () => {
  it('Usage shows the core team line and one line per machine', async () => {
    await start({ team: TEAM });
    key('3');
    await vi.waitFor(() => expect(byTestId('usage-team')).not.toBeNull());
    expect(byTestId('usage-team-line')!.textContent).toBe(
      'team ledger: db.example:5432/keywheel — 2 machines, 4 instances live',
    );
    expect($$('[data-testid="usage-machine"]').map((m) => m.textContent)).toEqual([
      'build-server: 3 instances live',
      'laptop-anna: 1 instance live',
    ]);
  });

  it('Usage on the embedded ledger shows no team line', async () => {
    await start();
    key('3');
    await vi.waitFor(() => expect(byTestId('reset-countdown')).not.toBeNull());
    expect(byTestId('usage-team')).toBeNull();
  });

  it('Settings names the team ledger without a password, says switching needs a restart, and saves team_cache', async () => {
    const { fake } = await start({ team: TEAM });
    key('4');
    await vi.waitFor(() => expect(byTestId('settings-ledger-kind')).not.toBeNull());
    const card = byTestId('settings-ledger')!;
    expect(byTestId('settings-ledger-kind')!.textContent).toContain('Team ledger (PostgreSQL)');
    expect(byTestId('settings-ledger-location')!.textContent).toBe('db.example:5432/keywheel');
    expect(byTestId('settings-ledger-team')!.textContent).toContain('2 machines, 4 instances live');
    expect(byTestId('settings-ledger-restart')!.textContent).toMatch(/Switching ledgers needs a restart/);
    expect(card.textContent).not.toMatch(/password|:\/\//i);

    const box = byTestId<HTMLInputElement>('settings-team-cache')!;
    expect(box.checked).toBe(false);
    expect(byTestId('settings-team-cache-help')!.textContent).toMatch(/OCR text and answers/);
    box.checked = true;
    box.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(card.textContent).toContain('applies from the next start'));
    expect(fake.calls).toContain('settings_set');
    expect(byTestId<HTMLInputElement>('settings-team-cache')!.checked).toBe(true);
  });

  it('Settings says when this machine lacks the team current key, as the CLI does', async () => {
    const adoption =
      "this machine does not hold the pool's current key 0123456789ab; using its own least-used key ba9876543210";
    await start({ team: TEAM, adoption });
    key('4');
    await vi.waitFor(() => expect(byTestId('settings-ledger-adoption')).not.toBeNull());
    expect(byTestId('settings-ledger-adoption')!.textContent).toBe(adoption);
  });

  it('Settings shows no key notice when this machine holds the current key', async () => {
    await start({ team: TEAM });
    key('4');
    await vi.waitFor(() => expect(byTestId('settings-ledger-team')).not.toBeNull());
    expect(byTestId('settings-ledger-adoption')).toBeNull();
  });

  it('Settings on the embedded ledger shows its file', async () => {
    const { fake } = await start();
    key('4');
    await vi.waitFor(() => expect(byTestId('settings-ledger-location')).not.toBeNull());
    expect(byTestId('settings-ledger-kind')!.textContent).toContain('Embedded ledger');
    expect(byTestId('settings-ledger-location')!.textContent).toBe(fake.settings.ledger_path);
    expect(byTestId('settings-ledger-team')).toBeNull();
  });
});

describe('request log', () => {
  it('the badge shows the core words, not the stored class', async () => {
    const { fake, demoKey } = await start({ keys: [] });
    fake.keys.push(demoKey(1, { today: 2 }));
    fake.record('chat', fake.keys[0], { status_class: 'rate_limited', state: 'failed', http_status: 429 });
    fake.record('ocr', fake.keys[0]);
    key('3');
    await vi.waitFor(() => expect($$('[data-testid="log-row"]')).toHaveLength(2));
    const badges = $$('[data-testid="log-row"] .badge').map((b) => b.textContent?.trim());
    expect(badges).toContain('rate limited');
    expect(badges).toContain('answered');
    expect(badges).not.toContain('rate_limited');
  });
});

describe('first view', () => {
  it('fetches only what Read images and the sidebar show; other views load when opened', async () => {
    const { fake, calledBeforeFirstFrame } = await start({}, false);
    // Nothing at all before the first frame (lib/firstframe.ts): the shell and the view draw first.
    expect(calledBeforeFirstFrame).toEqual([]);
    await vi.waitFor(() => expect(byTestId('ocr-drop')).not.toBeNull());
    await vi.waitFor(() => expect(fake.calls).toContain('keys_list'));
    for (const later of ['threads_list', 'usage', 'request_log', 'status', 'ledger_view', 'settings_get']) {
      expect(fake.calls, later).not.toContain(later);
    }
    key('2');
    await vi.waitFor(() => expect(fake.calls).toContain('threads_list'), { timeout: 15_000 });
    key('3');
    await vi.waitFor(() => expect(fake.calls).toContain('request_log'), { timeout: 15_000 });
  });
});

describe('Read images', () => {
  it('once every image is read there is no greyed Read 0 images button', async () => {
    await start();
    await vi.waitFor(() => expect(byTestId('ocr-file-input')).not.toBeNull());
    const input = byTestId<HTMLInputElement>('ocr-file-input')!;
    const file = new File([new Uint8Array([137, 80, 78, 71])], 'receipt.png', { type: 'image/png' });
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(byTestId('ocr-start')?.textContent).toContain('Read 1 image'));
    byTestId('ocr-start')!.click();
    await vi.waitFor(() => expect(byTestId('ocr-item')!.dataset.status).toBe('done'));
    await vi.waitFor(() => expect(byTestId('ocr-plan')!.textContent).toContain('All images are read.'));
    expect(byTestId('ocr-start')).toBeNull();
  });
});

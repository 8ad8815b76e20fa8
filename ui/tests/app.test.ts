// The whole UI mounted in jsdom over the fake backend (the same commands, channels and events
// as the Rust side, through Tauri's IPC mocks).

import { clearMocks } from '@tauri-apps/api/mocks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FakeOptions } from '../src/api/fake';

let cleanup: (() => void) | null = null;

beforeEach(() => {
  // jsdom has no canvas; the chart simply does not draw.
  HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
});

afterEach(() => {
  cleanup?.();
  cleanup = null;
  clearMocks();
  document.body.innerHTML = '';
});

async function start(opts: FakeOptions = {}) {
  vi.resetModules();
  const { installFakeBackend, demoKey } = await import('../src/api/fake');
  const fake = installFakeBackend({ tick: 0, history: false, ...opts });
  const { mount, unmount, flushSync } = await import('svelte');
  const App = (await import('../src/App.svelte')).default;
  // The views other than Read images load on first use (lib/views.ts); load them now so a
  // test's first switch to a view does not wait for a module transform on a busy machine.
  const { loadView } = await import('../src/lib/views');
  await Promise.all((['chat', 'usage', 'keys'] as const).map((v) => loadView(v)));
  const target = document.createElement('div');
  document.body.append(target);
  const app = mount(App, { target });
  flushSync();
  cleanup = () => void unmount(app);
  // As in the window: the start-up calls and event subscriptions go out after the first frame.
  await (await import('../src/lib/firstframe')).afterFirstFrame();
  return { fake, demoKey, flushSync };
}

const $ = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const $$ = <T extends Element = HTMLElement>(sel: string) => Array.from(document.querySelectorAll<T>(sel));
const byTestId = <T extends Element = HTMLElement>(id: string) => $<T>(`[data-testid="${id}"]`);

function key(k: string, mods: KeyboardEventInit = {}) {
  window.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...mods }));
}

function type(el: HTMLInputElement | HTMLTextAreaElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

describe('Keys view', () => {
  it('adds a key, clears the secret at once, lists it masked, and deletes it after confirming', async () => {
    await start({ keys: [] });
    key('4', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('keys-empty')).not.toBeNull());

    const secret = 'sk-or-v1-0123456789abcdef0123456789abcdefSECRETzz';
    const input = byTestId<HTMLInputElement>('key-secret')!;
    expect(input.type).toBe('password');
    expect(input.getAttribute('autocomplete')).toBe('off');
    type(input, secret);
    type(byTestId<HTMLInputElement>('key-label')!, 'Work');
    await vi.waitFor(() => expect(byTestId<HTMLButtonElement>('key-add')!.disabled).toBe(false));
    byTestId('key-add')!.click();
    expect(input.value).toBe('');

    await vi.waitFor(() => expect($$('[data-testid="key-row"]')).toHaveLength(1));
    expect(byTestId('key-masked')!.textContent).toBe(`sk-or-v1-…${secret.slice(-4)}`);
    expect(byTestId('key-add-result')!.textContent).toContain('OpenRouter accepts it');
    // The full key is nowhere in the page: not in the markup, not in any field.
    expect(document.body.innerHTML).not.toContain(secret);
    for (const el of $$<HTMLInputElement>('input, textarea')) expect(el.value).not.toContain(secret);
    expect(byTestId('keychain-status')!.textContent).toMatch(/OS keychain: available/);

    byTestId('key-delete')!.click();
    await vi.waitFor(() => expect(byTestId('key-delete-yes')).not.toBeNull());
    expect($$('[data-testid="key-row"]')).toHaveLength(1);
    byTestId('key-delete-yes')!.click();
    await vi.waitFor(() => expect($$('[data-testid="key-row"]')).toHaveLength(0));
  });

  it('shows the backend sentence when a key is refused', async () => {
    await start({ keys: [] });
    key('4', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('key-secret')).not.toBeNull());
    type(byTestId<HTMLInputElement>('key-secret')!, 'not-a-key');
    await vi.waitFor(() => expect(byTestId<HTMLButtonElement>('key-add')!.disabled).toBe(false));
    byTestId('key-add')!.click();
    await vi.waitFor(() =>
      expect(byTestId('key-add-error')?.textContent).toBe(
        'That does not look like an OpenRouter key: it should start with sk-or-.',
      ),
    );
    expect(byTestId<HTMLInputElement>('key-secret')!.value).toBe('');
  });
});

describe('Chat view', () => {
  it('streams reasoning and answer, and the saved answer is the last one with its model', async () => {
    await start();
    key('2', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('chat-input')).not.toBeNull());
    expect(byTestId('chat-empty')).not.toBeNull();

    type(byTestId<HTMLTextAreaElement>('chat-input')!, 'What is OCR?');
    byTestId('chat-input')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));

    await vi.waitFor(() => expect(byTestId('chat-model')).not.toBeNull());
    // The Markdown renderer loads on first use; until then the answer shows as plain text.
    await vi.waitFor(() => {
      const answers = $$('[data-testid="chat-answer"]');
      expect(answers.at(-1)!.textContent).toContain('Here is an answer to What is OCR?');
      expect(answers.at(-1)!.querySelector('ol')).not.toBeNull();
    });
    const reasoning = $$<HTMLDetailsElement>('[data-testid="chat-reasoning"]').at(-1)!;
    expect(reasoning.textContent).toContain('Let me think');
    expect(reasoning.open).toBe(false);
    expect(byTestId('chat-model')!.textContent).toBe('deepseek/deepseek-r1-0528');
    expect(byTestId<HTMLTextAreaElement>('chat-input')!.value).toBe('');
    await vi.waitFor(() => expect($$('[data-testid="chat-thread"]')).toHaveLength(1));
  });

  it('the Thinking block is open while reasoning streams; Escape stops and the answer is marked stopped', async () => {
    await start({ tick: 15 });
    key('2', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('chat-input')).not.toBeNull());
    type(byTestId<HTMLTextAreaElement>('chat-input')!, 'Explain quotas');
    await vi.waitFor(() => expect(byTestId<HTMLButtonElement>('chat-send')!.disabled).toBe(false));
    byTestId('chat-send')!.click();
    await vi.waitFor(() => expect(byTestId('chat-stop')).not.toBeNull());
    await vi.waitFor(() => {
      const details = $$<HTMLDetailsElement>('[data-testid="chat-reasoning"]').at(-1)!;
      expect(details.hidden).toBe(false);
      expect(details.open).toBe(true);
    });
    key('Escape');
    await vi.waitFor(() => expect(byTestId('chat-model')).not.toBeNull(), { timeout: 3000 });
    const last = $$('article.assistant').at(-1)!;
    expect(last.textContent).toContain('stopped');
    expect(byTestId('chat-stop')).toBeNull();
    expect(byTestId('chat-send')).not.toBeNull();
  });

  it('deleting a chat asks first, inline', async () => {
    const { fake } = await start();
    key('2', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('chat-input')).not.toBeNull());
    type(byTestId<HTMLTextAreaElement>('chat-input')!, 'One');
    await vi.waitFor(() => expect(byTestId<HTMLButtonElement>('chat-send')!.disabled).toBe(false));
    byTestId('chat-send')!.click();
    await vi.waitFor(() => expect($$('[data-testid="chat-thread"]')).toHaveLength(1));
    byTestId('chat-delete')!.click();
    await vi.waitFor(() => expect(byTestId('chat-delete-yes')).not.toBeNull());
    expect(fake.threads).toHaveLength(1);
    byTestId('chat-delete-yes')!.click();
    await vi.waitFor(() => expect($$('[data-testid="chat-thread"]')).toHaveLength(0));
    expect(fake.threads).toHaveLength(0);
    expect(byTestId('chat-empty')).not.toBeNull();
  });

  it('Shift+Enter does not send', async () => {
    const { fake } = await start();
    key('2', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('chat-input')).not.toBeNull());
    type(byTestId<HTMLTextAreaElement>('chat-input')!, 'line one');
    byTestId('chat-input')!.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true, bubbles: true, cancelable: true }),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.threads.flatMap((t) => t.messages)).toHaveLength(0);
    expect(byTestId('chat-stop')).toBeNull();
  });
});

describe('Read images view', () => {
  it('stages chosen files, shows the plan, reads them and renders the Markdown', async () => {
    await start();
    await vi.waitFor(() => expect(byTestId('ocr-drop')).not.toBeNull());
    expect(byTestId('ocr-drop')!.textContent).toContain('Drop images here');

    const input = byTestId<HTMLInputElement>('ocr-file-input')!;
    expect(input.multiple).toBe(true);
    expect(input.accept).toBe('image/*,application/pdf'); // PDFs are read page by page
    const file = new File([new Uint8Array([137, 80, 78, 71])], 'receipt.png', { type: 'image/png' });
    Object.defineProperty(input, 'files', { value: [file], configurable: true });
    input.dispatchEvent(new Event('change', { bubbles: true }));

    await vi.waitFor(() => expect($$('[data-testid="ocr-item"]')).toHaveLength(1));
    const item = byTestId('ocr-item')!;
    expect(item.dataset.status).toBe('queued');
    expect(item.textContent).toContain('receipt.png');
    await vi.waitFor(() => expect(byTestId('ocr-plan')!.textContent).toMatch(/1 image needs 1 request/));
    expect(byTestId('ocr-start')!.textContent).toContain('Read 1 image');

    byTestId('ocr-start')!.click();
    await vi.waitFor(() => expect(byTestId('ocr-item')!.dataset.status).toBe('done'));
    const result = byTestId('ocr-result')!;
    expect(result.querySelector('h1')?.textContent).toBe('receipt.png');
    expect(result.querySelector('table')).not.toBeNull();
  });

  it('refuses a file over 40 MB before sending it', async () => {
    const { fake } = await start();
    await vi.waitFor(() => expect(byTestId('ocr-file-input')).not.toBeNull());
    const input = byTestId<HTMLInputElement>('ocr-file-input')!;
    const big = new File(['x'], 'scan.tiff', { type: 'image/tiff' });
    Object.defineProperty(big, 'size', { value: 41 * 1024 * 1024 });
    Object.defineProperty(input, 'files', { value: [big], configurable: true });
    input.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(document.body.textContent).toContain('scan.tiff is 41.0 MB'));
    expect(fake.staged).toHaveLength(0);
    expect($$('[data-testid="ocr-item"]')).toHaveLength(0);
  });

  it('images pasted in another view go to the queue', async () => {
    const { fake } = await start();
    key('3', { ctrlKey: true });
    await vi.waitFor(() => expect($('#usage-title')).not.toBeNull());
    const paste = new Event('paste', { bubbles: true, cancelable: true });
    const file = new File([new Uint8Array([1, 2, 3])], 'image.png', { type: 'image/png' });
    Object.defineProperty(paste, 'clipboardData', { value: { files: [file] } });
    window.dispatchEvent(paste);
    await vi.waitFor(() => expect($$('[data-testid="ocr-item"]')).toHaveLength(1));
    expect(fake.staged[0].name).toMatch(/^pasted-\d{8}-\d{6}\.png$/);
  });

  it('with no keys, says to add one first and links to Keys', async () => {
    await start({ keys: [] });
    await vi.waitFor(() => expect(byTestId('ocr-no-keys')).not.toBeNull());
    byTestId('ocr-no-keys')!.querySelector('button')!.click();
    await vi.waitFor(() => expect(byTestId('key-secret')).not.toBeNull());
  });
});

describe('Usage view', () => {
  it('with no keys and no history, says what to do', async () => {
    await start({ keys: [] });
    key('3', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('usage-empty')).not.toBeNull());
  });

  it('gauges, countdown and log rows, live on ledger-changed', async () => {
    const { fake, demoKey } = await start({ keys: [], history: false });
    fake.keys.push(demoKey(1, { today: 3 }));
    key('3', { ctrlKey: true });
    await vi.waitFor(() => expect($$('[data-testid="usage-key"]')).toHaveLength(1));
    const gauge = byTestId('usage-key')!;
    expect(gauge.dataset.keyId).toBe(fake.keys[0].id);
    expect(gauge.textContent).toContain('3 / 50');
    expect(byTestId('reset-countdown')!.textContent).toMatch(/^\d{1,2}:\d\d:\d\d$/);
    expect(byTestId('usage-chart')).not.toBeNull();
    expect(byTestId('usage-log')).not.toBeNull();

    // Another process spends a request: the view follows without a reload.
    fake.keys[0].today = 4;
    fake.record('chat', fake.keys[0], { instance_id: 'cli' });
    fake.ledgerChanged();
    await vi.waitFor(() => expect(byTestId('usage-key')!.textContent).toContain('4 / 50'));
    await vi.waitFor(() => expect($$('[data-testid="log-row"]')).toHaveLength(1));
  });
});

describe('shell', () => {
  it('alerts appear in the banner and can be dismissed', async () => {
    const { fake } = await start();
    await fake.alert({ day: '2026-11-26', rule: 'near_cap', subject: 'k', at: '2026-11-26T10:00:00Z', message: 'Work has 5 requests left today.' });
    await vi.waitFor(() => expect(byTestId('alert-banner')?.textContent).toContain('Work has 5 requests left today.'));
    byTestId('alert-banner')!.querySelector('button')!.click();
    await vi.waitFor(() => expect(byTestId('alert-banner')).toBeNull());
  });

  it('? toggles the shortcut help, Escape closes it', async () => {
    await start();
    const help = byTestId<HTMLDialogElement>('shortcut-help')!;
    expect(help.open).toBe(false);
    key('?', { shiftKey: true });
    await vi.waitFor(() => expect(help.open).toBe(true));
    expect(help.textContent).toContain('New chat');
    key('Escape');
    await vi.waitFor(() => expect(help.open).toBe(false));
  });

  it('Ctrl+O from another view opens the file picker of Read images', async () => {
    await start();
    key('4', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('key-secret')).not.toBeNull());
    const clicked = vi.spyOn(HTMLInputElement.prototype, 'click').mockImplementation(() => undefined);
    key('o', { ctrlKey: true });
    await vi.waitFor(() => expect(clicked).toHaveBeenCalledTimes(1));
    expect(clicked.mock.contexts[0]).toBe(byTestId('ocr-file-input'));
  });

  it('Ctrl+N opens a new chat with the cursor in the composer', async () => {
    const { fake } = await start();
    key('n', { ctrlKey: true });
    await vi.waitFor(() => expect(fake.threads).toHaveLength(1));
    await vi.waitFor(() => expect(document.activeElement).toBe(byTestId('chat-input')));
  });

  it('Ctrl+1..4 switch views and mark the current one', async () => {
    await start();
    key('2', { ctrlKey: true });
    await vi.waitFor(() => expect(byTestId('nav-chat')!.getAttribute('aria-current')).toBe('page'));
    key('1', { metaKey: true });
    await vi.waitFor(() => expect(byTestId('ocr-drop')).not.toBeNull());
    expect(byTestId('nav-chat')!.getAttribute('aria-current')).toBeNull();
  });
});

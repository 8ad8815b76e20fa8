// The Models panel of the Keys view (resolved chains, the pin picker) over mocked IPC, its pure
// helpers, and the R1 note in the Chat view for an account without credits.

import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api';
import type { ChainView, ModelChains, SettingsPatch, SettingsView } from '../src/api';
import { catalogueModel, FAKE_CATALOGUE, fakeResolve, type FakeOptions } from '../src/api/fake';
import { creditsSentence, filterModels, pickable, priceLabel, splitEntries } from '../src/lib/models';

let cleanup: (() => void) | null = null;

afterEach(() => {
  cleanup?.();
  cleanup = null;
  clearMocks();
  document.body.innerHTML = '';
});

const all = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) =>
  Array.from(root.querySelectorAll<T>(sel));
const byTestId = <T extends Element = HTMLElement>(id: string, root: ParentNode = document) =>
  root.querySelector<T>(`[data-testid="${id}"]`);

function type(el: HTMLInputElement, value: string) {
  el.value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
}

/** Waits until `find` gives an element (vi.waitFor retries only on a throw). */
function found<T>(find: () => T | null | undefined): Promise<T> {
  return vi.waitFor(() => {
    const el = find();
    if (!el) throw new Error('not there yet');
    return el;
  });
}

function press(el: Element, key: string) {
  const e = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true });
  el.dispatchEvent(e);
  return e;
}

const VISION = ['meta-llama/llama-3.2-90b-vision-instruct', 'qwen/qwen2.5-vl-72b-instruct'];
const CHAT = ['deepseek/deepseek-r1-0528', 'deepseek/deepseek-r1'];

describe('models commands', () => {
  it('pass their arguments under the names Tauri maps to Rust; a pin goes through settings_set', async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      return cmd === 'models_catalogue' ? [] : {};
    });
    await api.modelsChains();
    await api.modelsCatalogue();
    await api.modelsCatalogue(true);
    await api.settingsPin('vision', 'google/gemma-4-31b-it:free');
    await api.settingsPin('chat', null);
    expect(calls).toEqual([
      { cmd: 'models_chains', args: {} },
      { cmd: 'models_catalogue', args: { refresh: false } },
      { cmd: 'models_catalogue', args: { refresh: true } },
      {
        cmd: 'settings_set',
        args: { patch: { rotate_after: null, chat_models: null, vision_models: null, vision_pin: 'google/gemma-4-31b-it:free' } },
      },
      { cmd: 'settings_set', args: { patch: { rotate_after: null, chat_models: null, vision_models: null, chat_pin: '' } } },
    ]);
  });

  it('a refusal comes back as an ApiError with its code', async () => {
    mockIPC(() => {
      throw { code: 'upstream', message: 'OpenRouter could not be reached; try again' };
    });
    await expect(api.modelsCatalogue()).rejects.toMatchObject({ code: 'upstream', name: 'ApiError' });
  });
});

describe('picker helpers', () => {
  it('a vision picker offers only text-answering models that take images; chat every text model', () => {
    const vision = pickable('vision', FAKE_CATALOGUE).map((m) => m.id);
    expect(vision).toContain('google/gemma-4-31b-it:free');
    expect(vision).not.toContain('deepseek/deepseek-r1'); // no images
    expect(vision).not.toContain('black-forest-labs/flux.2-pro'); // answers in images
    const chat = pickable('chat', FAKE_CATALOGUE).map((m) => m.id);
    expect(chat).toContain('deepseek/deepseek-r1');
    expect(chat).toContain('google/gemma-4-31b-it:free');
    expect(chat).not.toContain('black-forest-labs/flux.2-pro');
  });

  it('search matches every word in the id or name, best matches first, at most the limit', () => {
    const list = [
      catalogueModel('x/alpha-gemma', { name: 'Alpha' }),
      catalogueModel('google/gemma-4-31b-it:free', { name: 'Google: Gemma 4 31B (free)' }),
      catalogueModel('other/model', { name: 'Uses gemma inside' }),
    ];
    expect(filterModels(list, 'gemma').map((m) => m.id)).toEqual([
      'google/gemma-4-31b-it:free', // the part after the slash starts with it
      'x/alpha-gemma', // the id contains it
      'other/model', // only the name does
    ]);
    expect(filterModels(list, 'GOOGLE free').map((m) => m.id)).toEqual(['google/gemma-4-31b-it:free']);
    expect(filterModels(list, 'nothing-like-this')).toEqual([]);
    expect(filterModels(list, '  ')).toHaveLength(3);
    expect(filterModels(list, '', 2)).toHaveLength(2);
  });

  it('says what the credit state means and labels prices', () => {
    expect(creditsSentence('free_only')).toMatch(/no credits.*only free models/);
    expect(creditsSentence('paid')).toMatch(/has credits/);
    expect(creditsSentence('unknown')).toMatch(/not known/);
    expect([priceLabel(true), priceLabel(false), priceLabel(null)]).toEqual(['free', 'paid', 'price unknown']);
    const view = fakeResolve('vision', VISION, null, 'free_only');
    const { included, excluded } = splitEntries(view.resolved!.entries);
    expect(included.map((e) => e.id)[0]).toBe('google/gemma-4-31b-it:free');
    expect(excluded.map((e) => [e.id, e.why])).toEqual([
      ['meta-llama/llama-3.2-90b-vision-instruct', 'no longer offered by OpenRouter'],
      ['qwen/qwen2.5-vl-72b-instruct', 'paid, and this account has no credits'],
    ]);
  });
});

/** A Rust side for the panel alone: chains resolved by the fake's rules, pins kept, calls recorded. */
function backend(credits: 'free_only' | 'paid' = 'free_only') {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  const settings: SettingsView = {
    rotate_after: 40,
    daily_cap: 50,
    minute_cap: 20,
    chat_models: CHAT,
    vision_models: VISION,
    config_path: '/tmp/config.toml',
    ledger_path: '/tmp/ledger.sqlite3',
    keychain: { status: { state: 'available' }, sentence: 'OS keychain: available. Added keys are stored there.' },
    base_url: 'http://127.0.0.1:1/api/v1',
    chat_pin: null,
    vision_pin: null,
  };
  let failPin: string | null = null;
  mockIPC((cmd, payload) => {
    const args = (payload ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd === 'models_chains') {
      const chains: ModelChains = {
        chat: fakeResolve('chat', settings.chat_models, settings.chat_pin, credits),
        vision: fakeResolve('vision', settings.vision_models, settings.vision_pin, credits),
      };
      return chains;
    }
    if (cmd === 'models_catalogue') return FAKE_CATALOGUE;
    if (cmd === 'settings_set') {
      if (failPin) throw { code: 'usage', message: failPin };
      const p = args.patch as SettingsPatch;
      if (p.vision_pin != null) settings.vision_pin = p.vision_pin || null;
      if (p.chat_pin != null) settings.chat_pin = p.chat_pin || null;
      return { ...settings };
    }
    throw { code: 'usage', message: `no command ${cmd}` };
  });
  return {
    calls,
    settings,
    count: (cmd: string) => calls.filter((c) => c.cmd === cmd).length,
    failNextPins: (message: string | null) => (failPin = message),
  };
}

async function mountPanel(be: ReturnType<typeof backend>) {
  const { mount, unmount, flushSync } = await import('svelte');
  const Panel = (await import('../src/components/keys/ModelsPanel.svelte')).default;
  const target = document.createElement('div');
  document.body.append(target);
  const props = $state({ settings: { ...be.settings } });
  const panel = mount(Panel, {
    target,
    props: {
      get settings() {
        return props.settings;
      },
      onsaved: (s: SettingsView) => {
        props.settings = s;
      },
    },
  });
  flushSync();
  cleanup = () => void unmount(panel);
  return { flushSync };
}

const chainEl = (kind: string) => byTestId(`chain-${kind}`)!;
const entries = (kind: string, included: boolean) =>
  all(`[data-testid="chain-entry"][data-included="${included}"]`, chainEl(kind)).map((li) => ({
    id: li.dataset.modelId,
    why: byTestId('chain-entry-why', li)!.textContent,
  }));

// No module reset here: the props below are this file's state, read by the same Svelte runtime.
describe('Models panel', () => {
  it('shows each resolved chain: numbered entries sent, the left-out ones with their reasons, credits and sentences', async () => {
    const be = backend('free_only');
    await mountPanel(be);
    await vi.waitFor(() => expect(byTestId('chain-vision')).not.toBeNull());

    expect(byTestId('models-credits')!.textContent).toMatch(/no credits on OpenRouter: only free models/);
    const sent = entries('vision', true);
    expect(sent[0]).toEqual({ id: 'google/gemma-4-31b-it:free', why: 'added from the catalogue: free, takes images' });
    expect(all('[data-included="true"] .num', chainEl('vision')).map((n) => n.textContent)).toEqual(['1', '2', '3']);
    expect(entries('vision', false)).toEqual([
      { id: 'meta-llama/llama-3.2-90b-vision-instruct', why: 'no longer offered by OpenRouter' },
      { id: 'qwen/qwen2.5-vl-72b-instruct', why: 'paid, and this account has no credits' },
    ]);
    const visionSentences = all('[data-testid="chain-sentence"]', chainEl('vision')).map((p) => p.textContent);
    expect(visionSentences).toEqual([
      'meta-llama/llama-3.2-90b-vision-instruct is no longer offered by OpenRouter; reading with google/gemma-4-31b-it:free',
    ]);
    const chatSentences = all('[data-testid="chain-sentence"]', chainEl('chat')).map((p) => p.textContent);
    expect(chatSentences[0]).toMatch(/^DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with/);
    expect(entries('chat', false).map((e) => e.why)).toEqual([
      'paid, and this account has no credits',
      'paid, and this account has no credits',
    ]);
    // Nothing asked of the catalogue until a picker opens.
    expect(be.count('models_catalogue')).toBe(0);
  });

  it('the vision picker filters as one types, moves with the arrows, pins with Enter, and the chain is then that model alone', async () => {
    const be = backend('free_only');
    await mountPanel(be);
    await vi.waitFor(() => expect(byTestId('chain-vision')).not.toBeNull());

    byTestId<HTMLButtonElement>('chain-pin', chainEl('vision'))!.click();
    const search = await found(() => byTestId<HTMLInputElement>('model-picker-search', chainEl('vision')));
    expect(document.activeElement).toBe(search);
    await vi.waitFor(() => expect(all('[data-testid="model-picker-option"]').length).toBeGreaterThan(0));
    // Only models that take images (and answer in text); free ones first on a free-only account.
    const ids = () => all('[data-testid="model-picker-option"]').map((o) => o.dataset.modelId);
    expect(ids()).not.toContain('deepseek/deepseek-r1');
    expect(ids()).not.toContain('black-forest-labs/flux.2-pro');
    expect(ids().at(-1)).toBe('qwen/qwen2.5-vl-72b-instruct');

    type(search, 'nemotron');
    await vi.waitFor(() => expect(ids()).toEqual(['nvidia/nemotron-nano-12b-v2-vl:free']));
    type(search, 'gemma');
    await vi.waitFor(() => expect(ids()).toEqual(['google/gemma-4-31b-it:free', 'google/gemma-4-26b-a4b-it:free']));
    const option = (i: number) => all('[data-testid="model-picker-option"]')[i];
    expect(option(0).getAttribute('aria-selected')).toBe('true');
    expect(search.getAttribute('aria-activedescendant')).toBe(option(0).id);
    expect(option(0).textContent).toContain('free');

    press(search, 'ArrowDown');
    await vi.waitFor(() => expect(option(1).getAttribute('aria-selected')).toBe('true'));
    expect(search.getAttribute('aria-activedescendant')).toBe(option(1).id);
    press(search, 'ArrowDown'); // wraps
    await vi.waitFor(() => expect(option(0).getAttribute('aria-selected')).toBe('true'));
    press(search, 'ArrowUp');
    await vi.waitFor(() => expect(option(1).getAttribute('aria-selected')).toBe('true'));
    press(search, 'Enter');

    await vi.waitFor(() => expect(be.count('settings_set')).toBe(1));
    await vi.waitFor(() => expect(byTestId('chain-pinned', chainEl('vision'))?.textContent).toBe('google/gemma-4-26b-a4b-it:free'));
    const set = be.calls.find((c) => c.cmd === 'settings_set')!;
    expect(set.args.patch).toMatchObject({ vision_pin: 'google/gemma-4-26b-a4b-it:free', rotate_after: null, vision_models: null });
    expect((set.args.patch as SettingsPatch).chat_pin).toBeUndefined();
    await vi.waitFor(() =>
      expect(entries('vision', true)).toEqual([{ id: 'google/gemma-4-26b-a4b-it:free', why: 'pinned' }]),
    );
    expect(entries('vision', false)).toEqual([]);
    expect(byTestId('model-picker-search')).toBeNull(); // closed
    expect(document.activeElement).toBe(byTestId('chain-pin', chainEl('vision')));
    // The chat chain is untouched.
    expect(entries('chat', true).length).toBeGreaterThan(0);
    expect(byTestId('chain-pinned', chainEl('chat'))).toBeNull();

    // Unpin: back to the resolved chain.
    byTestId<HTMLButtonElement>('chain-unpin', chainEl('vision'))!.click();
    await vi.waitFor(() => expect(byTestId('chain-pinned', chainEl('vision'))).toBeNull());
    expect(be.calls.filter((c) => c.cmd === 'settings_set').at(-1)!.args.patch).toMatchObject({ vision_pin: '' });
    await vi.waitFor(() => expect(entries('vision', true)[0].id).toBe('google/gemma-4-31b-it:free'));
  });

  it('Escape closes the picker without reaching the app, and a click pins the model clicked', async () => {
    const be = backend('paid');
    await mountPanel(be);
    await vi.waitFor(() => expect(byTestId('chain-chat')).not.toBeNull());
    expect(byTestId('models-credits')!.textContent).toMatch(/has credits/);
    expect(entries('chat', true).map((e) => e.id)).toEqual(CHAT.concat('nvidia/nemotron-3-super-120b-a12b:free'));

    const seenByWindow: string[] = [];
    const onWindow = (e: KeyboardEvent) => seenByWindow.push(e.key);
    window.addEventListener('keydown', onWindow);
    try {
      byTestId<HTMLButtonElement>('chain-pin', chainEl('chat'))!.click();
      const search = await found(() => byTestId<HTMLInputElement>('model-picker-search'));
      const esc = press(search, 'Escape');
      expect(esc.defaultPrevented).toBe(true);
      await vi.waitFor(() => expect(byTestId('model-picker-search')).toBeNull());
      expect(seenByWindow).not.toContain('Escape');
    } finally {
      window.removeEventListener('keydown', onWindow);
    }

    byTestId<HTMLButtonElement>('chain-pin', chainEl('chat'))!.click();
    await vi.waitFor(() => expect(all('[data-testid="model-picker-option"]').length).toBeGreaterThan(0));
    // The catalogue is fetched once for both pickers and every opening.
    expect(be.count('models_catalogue')).toBe(1);
    type(byTestId<HTMLInputElement>('model-picker-search')!, 'gpt-oss');
    await vi.waitFor(() => expect(all('[data-testid="model-picker-option"]')).toHaveLength(1));
    all('[data-testid="model-picker-option"]')[0].click();
    await vi.waitFor(() => expect(byTestId('chain-pinned', chainEl('chat'))?.textContent).toBe('openai/gpt-oss-120b:free'));
    expect(entries('chat', true)).toEqual([{ id: 'openai/gpt-oss-120b:free', why: 'pinned' }]);
  });

  it('a refused pin keeps the picker open and says why; a chain that cannot resolve shows its error', async () => {
    const be = backend('free_only');
    be.settings.vision_pin = 'meta-llama/llama-3.2-90b-vision-instruct';
    await mountPanel(be);
    await vi.waitFor(() => expect(byTestId('chain-error', chainEl('vision'))).not.toBeNull());
    expect(byTestId('chain-error', chainEl('vision'))!.textContent).toMatch(/not offered by OpenRouter/);
    expect(byTestId('chain-unpin', chainEl('vision'))).not.toBeNull();

    be.failNextPins('google/gemma-4-31b-it:free could not be pinned: try again');
    byTestId<HTMLButtonElement>('chain-pin', chainEl('vision'))!.click();
    const search = await found(() => byTestId<HTMLInputElement>('model-picker-search'));
    await vi.waitFor(() => expect(all('[data-testid="model-picker-option"]').length).toBeGreaterThan(0));
    press(search, 'Enter');
    await vi.waitFor(() => expect(byTestId('chain-pin-error', chainEl('vision'))?.textContent).toMatch(/could not be pinned/));
    expect(byTestId('model-picker-search')).not.toBeNull();
  });

  it('a chain view without a catalogue says the configured chain is sent as it is', () => {
    const view: ChainView = {
      pin: null,
      resolved: {
        kind: 'ocr',
        models: VISION,
        entries: VISION.map((id) => ({ id, included: true, reason: { kind: 'unchecked' }, why: 'sent as configured (no catalogue)', free: null })),
        checked: false,
        credits: 'unknown',
      },
      sentences: ["OpenRouter's model list could not be read, so the configured chain is sent as it is"],
      error: null,
    };
    expect(splitEntries(view.resolved!.entries).included).toHaveLength(2);
  });
});

describe('Chat view on an account without credits', () => {
  let appCleanup: (() => void) | null = null;
  afterEach(() => {
    appCleanup?.();
    appCleanup = null;
  });

  it('says in one sentence that R1 needs credits, answers with the free model, reasoning still apart', async () => {
    vi.resetModules();
    HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
    const { installFakeBackend } = await import('../src/api/fake');
    installFakeBackend({ tick: 0, history: false, credits: 'free_only' } satisfies FakeOptions);
    const { mount, unmount, flushSync } = await import('svelte');
    const App = (await import('../src/App.svelte')).default;
    const target = document.createElement('div');
    document.body.append(target);
    const app = mount(App, { target });
    flushSync();
    appCleanup = () => void unmount(app);

    window.dispatchEvent(new KeyboardEvent('keydown', { key: '2', ctrlKey: true, bubbles: true, cancelable: true }));
    const input = await found(() => byTestId<HTMLTextAreaElement>('chat-input'));
    input.value = 'What is OCR?';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));

    await vi.waitFor(() => expect(byTestId('chat-model')).not.toBeNull());
    expect(byTestId('chat-model')!.textContent).toBe('nvidia/nemotron-3-super-120b-a12b:free');
    const notes = all('[data-testid="chat-note"]').map((n) => n.textContent);
    expect(notes).toEqual([
      'DeepSeek R1 is a paid model on OpenRouter and this account has no credits; answering with nvidia/nemotron-3-super-120b-a12b:free instead — add credits or choose a model',
    ]);
    const reasoning = all<HTMLDetailsElement>('[data-testid="chat-reasoning"]').at(-1)!;
    expect(reasoning.hidden).toBe(false);
    expect(reasoning.textContent).toContain('Let me think');
    expect(all('[data-testid="chat-answer"]').at(-1)!.textContent).not.toContain('Let me think');
  });
});

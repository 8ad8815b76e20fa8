import type { Channel } from '@tauri-apps/api/core';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_IMAGE_BYTES, type ImageResult, type OcrEvent } from '../src/api';
import { OcrStore, pastedName, refuseFile, tileProgress } from '../src/lib/ocr.svelte';

afterEach(() => clearMocks());

const done = (file: string, over: Partial<ImageResult> = {}): ImageResult => ({
  file,
  status: 'done',
  text: '# hi',
  model: 'meta-llama/llama-3.2-90b-vision-instruct',
  key_id: 'k1',
  cached: false,
  local: false,
  label: null,
  resumed: false,
  width: 100,
  height: 100,
  tiles: 2,
  requests: 2,
  error_class: null,
  error: null,
  wait_until: null,
  ...over,
});

describe('checks before sending', () => {
  it('refuses files over 40 MB, empty files and non-images, with a sentence', () => {
    expect(refuseFile({ name: 'big.png', size: MAX_IMAGE_BYTES + 1, type: 'image/png' })).toMatch(
      /^big\.png is 40\.0 MB; images over 40\.0 MB cannot be read/,
    );
    expect(refuseFile({ name: 'ok.png', size: MAX_IMAGE_BYTES, type: 'image/png' })).toBeNull();
    expect(refuseFile({ name: 'e.png', size: 0, type: 'image/png' })).toMatch(/empty/);
    expect(refuseFile({ name: 'a.pdf', size: 10, type: 'application/pdf' })).toBeNull();
    expect(refuseFile({ name: 'a.zip', size: 10, type: 'application/zip' })).toMatch(/not an image or a PDF/);
    expect(refuseFile({ name: 'noext', size: 10, type: '' })).toBeNull();
  });

  it('pasted images get a dated name', () => {
    expect(pastedName('image/jpeg', new Date(2026, 10, 26, 9, 5, 7))).toBe('pasted-20261126-090507.jpg');
  });

  it('tile progress', () => {
    expect(tileProgress({ tiles: { 0: 'done', 1: 'running' }, of: 3, status: 'running' })).toEqual({ done: 1, of: 3 });
    expect(tileProgress({ tiles: {}, of: 0, status: 'done' })).toEqual({ done: 1, of: 1 });
  });
});

describe('OcrStore', () => {
  it('stages files, skipping refused ones without calling the backend, then plans', async () => {
    const cmds: string[] = [];
    let next = 1;
    mockIPC((cmd, args) => {
      cmds.push(cmd);
      if (cmd === 'ocr_stage') return { id: next++, name: 'x', bytes: (args as unknown as Uint8Array).byteLength };
      if (cmd === 'ocr_plan') return { plan: {}, sentence: `${(args as { ids: number[] }).ids.length} images need 2 requests` };
      return null;
    });
    const store = new OcrStore();
    const big = new File(['x'], 'huge.png', { type: 'image/png' });
    Object.defineProperty(big, 'size', { value: MAX_IMAGE_BYTES + 1 });
    await store.stageFiles([new File(['abc'], 'a.png', { type: 'image/png' }), big, new File(['d'], 'b.png', { type: 'image/png' })]);
    expect(cmds).toEqual(['ocr_stage', 'ocr_stage', 'ocr_plan']);
    expect(store.items.map((i) => [i.id, i.bytes, i.status])).toEqual([
      [1, 3, 'queued'],
      [2, 1, 'queued'],
    ]);
    expect(store.notices).toHaveLength(1);
    expect(store.notices[0]).toMatch(/^huge\.png is/);
    expect(store.plan?.sentence).toBe('2 images need 2 requests');
  });

  it('a run follows tile and image events, and keeps the final results', async () => {
    mockIPC((cmd, args) => {
      if (cmd === 'ocr_run') {
        const ch = (args as { onEvent: Channel<OcrEvent> }).onEvent;
        ch.onmessage({ type: 'tile', id: 1, tile: 0, of: 2, status: 'done', local: false, free: false });
        expect(store.item(1)?.status).toBe('running');
        ch.onmessage({ type: 'note', message: 'Rotated to key k2.', about: null, sentence: 'Rotated to key k2.' });
        ch.onmessage({ type: 'image', id: 1, result: done('a.png') });
        return [
          { id: 1, result: done('a.png') },
          { id: 2, result: done('b.png', { status: 'waiting', text: null, error: 'All keys are spent; it waits for 00:00 UTC.' }) },
        ];
      }
      if (cmd === 'ocr_plan') return { plan: {}, sentence: 'one left' };
      return null;
    });
    const store = new OcrStore();
    store.addStaged([
      { id: 1, name: 'a.png', bytes: 10 },
      { id: 2, name: 'b.png', bytes: 10 },
    ]);
    await store.run();
    expect(store.running).toBe(false);
    expect(store.item(1)).toMatchObject({ status: 'done', of: 2 });
    expect(store.item(1)?.result?.text).toBe('# hi');
    expect(store.item(2)).toMatchObject({ status: 'waiting', error: 'All keys are spent; it waits for 00:00 UTC.' });
    expect(store.notes).toEqual(['Rotated to key k2.']);
    expect(store.pending.map((i) => i.id)).toEqual([2]);
  });

  it('keeps the queue in staging order when staging answers arrive out of order', () => {
    const store = new OcrStore();
    store.addStaged([{ id: 2, name: 'invoice (2).png', bytes: 10 }]);
    store.addStaged([{ id: 1, name: 'invoice.png', bytes: 10 }]);
    expect(store.items.map((i) => i.name)).toEqual(['invoice.png', 'invoice (2).png']);
  });

  it('a cancelled run puts unfinished images back in the queue and says so', async () => {
    mockIPC((cmd, args) => {
      if (cmd === 'ocr_run') {
        const ch = (args as { onEvent: Channel<OcrEvent> }).onEvent;
        ch.onmessage({ type: 'tile', id: 1, tile: 0, of: 1, status: 'running', local: false, free: false });
        throw { code: 'cancelled', message: 'Cancelled.' };
      }
      return { plan: {}, sentence: '' };
    });
    const store = new OcrStore();
    store.addStaged([{ id: 1, name: 'a.png', bytes: 10 }]);
    await store.run();
    expect(store.item(1)?.status).toBe('queued');
    expect(store.runError).toBeNull();
    expect(store.notes.at(-1)).toMatch(/^Cancelled/);
  });

  it('a failed run shows the backend sentence', async () => {
    mockIPC((cmd) => {
      if (cmd === 'ocr_run') throw { code: 'no_usable_key', message: 'No usable key: add one in Keys.' };
      return { plan: {}, sentence: '' };
    });
    const store = new OcrStore();
    store.addStaged([{ id: 1, name: 'a.png', bytes: 10 }]);
    await store.run();
    expect(store.runError).toBe('No usable key: add one in Keys.');
  });
});

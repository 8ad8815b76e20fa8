// Reading a region of the screen: the geometry (drag → the grab's pixels, keyboard nudges),
// the overlay component (pointer drag, Esc, Enter), the store's flow over mocked IPC, the
// shortcut setting, and "Copy all"'s join.

import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CaptureRegion } from '../src/api';
import { joinTexts } from '../src/lib/copyall';
import CaptureOverlay from '../src/lib/capture/CaptureOverlay.svelte';
import { CaptureStore } from '../src/lib/capture/capture.svelte';
import { isRegion, nudge, rectBetween, startBox, toImageRegion } from '../src/lib/capture/region';

const mounted: Array<Record<string, unknown>> = [];

afterEach(() => {
  while (mounted.length) void unmount(mounted.pop()!);
  clearMocks();
  document.body.innerHTML = '';
});

describe('region geometry', () => {
  const screen = { w: 640, h: 400 };

  it('a drag in any direction is the rectangle between its corners, kept on the screen', () => {
    expect(rectBetween({ x: 300, y: 200 }, { x: 100, y: 50 }, screen)).toEqual({ x: 100, y: 50, w: 200, h: 150 });
    expect(rectBetween({ x: -20, y: 10 }, { x: 900, y: 30 }, screen)).toEqual({ x: 0, y: 10, w: 640, h: 20 });
    expect(isRegion(rectBetween({ x: 5, y: 5 }, { x: 7, y: 90 }, screen))).toBe(false);
  });

  it('CSS pixels become the grab’s pixels (a HiDPI grab is twice the size), rounded outwards', () => {
    const r = toImageRegion({ x: 10.4, y: 20, w: 100.2, h: 50 }, screen, { w: 1280, h: 800 });
    expect(r).toEqual({ x: 20, y: 40, w: 202, h: 100 });
    expect(toImageRegion({ x: 600, y: 380, w: 40, h: 20 }, screen, { w: 1280, h: 800 })).toEqual({
      x: 1200,
      y: 760,
      w: 80,
      h: 40,
    });
    expect(toImageRegion({ x: 0, y: 0, w: 2, h: 50 }, screen, screen)).toBeNull();
    expect(toImageRegion({ x: 0, y: 0, w: 20, h: 50 }, { w: 0, h: 0 }, screen)).toBeNull();
  });

  it('arrow keys move the box, Shift resizes it, Alt makes fine steps; it stays on the screen', () => {
    const box = startBox(screen);
    expect(box).toEqual({ x: 640 / 3, y: 400 / 3, w: 640 / 3, h: 400 / 3 });
    const b = { x: 0, y: 0, w: 100, h: 50 };
    expect(nudge(b, 'ArrowRight', false, false, screen)).toEqual({ x: 10, y: 0, w: 100, h: 50 });
    expect(nudge(b, 'ArrowLeft', false, false, screen)).toEqual(b);
    expect(nudge(b, 'ArrowDown', true, true, screen)).toEqual({ x: 0, y: 0, w: 100, h: 51 });
    expect(nudge({ x: 600, y: 0, w: 40, h: 50 }, 'ArrowRight', true, false, screen)?.w).toBe(40);
    expect(nudge(b, 'a', false, false, screen)).toBeNull();
  });
});

describe('Copy all', () => {
  it('joins several texts as `keywheel ocr` prints them, one text alone without a heading', () => {
    expect(
      joinTexts([
        { name: 'a.png', text: '# A\n\nfirst\n' },
        { name: 'b.png', text: null },
        { name: 'c.png', text: 'third' },
      ]),
    ).toBe('## a.png\n\n# A\n\nfirst\n\n## c.png\n\nthird\n\n');
    expect(joinTexts([{ name: 'a.png', text: 'only\n\n' }])).toBe('only\n');
    expect(joinTexts([{ name: 'a.png', text: '  ' }])).toBe('');
  });
});

function pointer(el: Element, type: string, x: number, y: number) {
  const Ctor = typeof PointerEvent === 'function' ? PointerEvent : MouseEvent;
  el.dispatchEvent(new Ctor(type, { clientX: x, clientY: y, button: 0, bubbles: true, cancelable: true }));
}

function overlay(natural = { w: 1280, h: 800 }) {
  vi.spyOn(HTMLElement.prototype, 'getBoundingClientRect').mockReturnValue({
    x: 0,
    y: 0,
    left: 0,
    top: 0,
    width: 640,
    height: 400,
    right: 640,
    bottom: 400,
    toJSON: () => ({}),
  });
  const picked: CaptureRegion[] = [];
  let cancelled = 0;
  const target = document.createElement('div');
  document.body.append(target);
  mounted.push(
    mount(CaptureOverlay, {
      target,
      props: {
        image: 'blob:frozen',
        natural,
        onpick: (r: CaptureRegion) => picked.push(r),
        oncancel: () => (cancelled += 1),
      },
    }),
  );
  flushSync();
  const root = document.querySelector<HTMLElement>('[data-testid=capture-overlay]')!;
  return { root, picked, cancelled: () => cancelled };
}

describe('the overlay', () => {
  it('is a labelled modal dialog over the frozen screen and takes the focus', () => {
    const { root } = overlay();
    expect(root.getAttribute('role')).toBe('dialog');
    expect(root.getAttribute('aria-modal')).toBe('true');
    expect(root.getAttribute('aria-label')).toMatch(/region of the screen/);
    expect(document.activeElement).toBe(root);
    expect(document.querySelector('img')?.getAttribute('src')).toBe('blob:frozen');
    expect(root.textContent).toMatch(/Esc/);
  });

  it('a drag picks the region in the grab’s pixels', () => {
    const { root, picked } = overlay();
    pointer(root, 'pointerdown', 100, 50);
    pointer(root, 'pointermove', 200, 100);
    flushSync();
    const sel = document.querySelector<HTMLElement>('[data-testid=capture-selection]');
    expect(sel?.style.width).toBe('100px');
    expect(sel?.textContent).toContain('100 × 50');
    pointer(root, 'pointerup', 300, 150);
    expect(picked).toEqual([{ x: 200, y: 100, w: 400, h: 200 }]);
  });

  it('a click is not a region, Esc cancels, and nothing is picked', () => {
    const { root, picked, cancelled } = overlay();
    pointer(root, 'pointerdown', 100, 50);
    pointer(root, 'pointerup', 101, 51);
    root.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, cancelable: true }));
    expect(picked).toEqual([]);
    expect(cancelled()).toBe(1);
  });

  it('from the keyboard: an arrow shows a box, arrows move it, Enter reads it', () => {
    const { root, picked } = overlay({ w: 640, h: 400 });
    const key = (k: string, init: KeyboardEventInit = {}) =>
      root.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...init }));
    key('ArrowRight');
    flushSync();
    expect(document.querySelector('[data-testid=capture-selection]')).not.toBeNull();
    key('ArrowRight');
    key('ArrowDown', { shiftKey: true });
    key('Enter');
    expect(picked).toHaveLength(1);
    const r = picked[0];
    expect(r.x).toBe(Math.floor(640 / 3 + 10));
    expect(r.h).toBe(Math.ceil(400 / 3 + 400 / 3 + 10) - Math.floor(400 / 3));
  });

  it('Enter with no box reads the whole screen', () => {
    const { root, picked } = overlay();
    root.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    expect(picked).toEqual([{ x: 0, y: 0, w: 1280, h: 800 }]);
  });
});

describe('CaptureStore', () => {
  beforeEach(() => {
    URL.createObjectURL = vi.fn(() => 'blob:frozen');
    URL.revokeObjectURL = vi.fn();
  });

  it('freezes, shows the overlay, then reads the region through the OCR queue and copies its text', async () => {
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(cmd);
      if (cmd === 'capture_start') return new Uint8Array([137, 80, 78, 71]).buffer;
      if (cmd === 'capture_region') {
        expect((args as { region: CaptureRegion }).region).toEqual({ x: 1, y: 2, w: 30, h: 40 });
        return { id: 7, name: 'screen-20261201-124305.png', bytes: 100 };
      }
      if (cmd === 'ocr_plan') return { plan: {}, sentence: '1 image needs 1 request; 49 left today' };
      if (cmd === 'ocr_run') {
        const result = { file: 'screen.png', status: 'done', text: 'INVOICE 4711', model: 'm', key_id: 'k', cached: false, local: false, label: null, resumed: false, width: 30, height: 40, tiles: 1, requests: 1, error_class: null, error: null, wait_until: null };
        return [{ id: 7, result }];
      }
      if (cmd === 'capture_copy') return "The region's text is on the clipboard (12 characters): INVOICE 4711";
      return null;
    });
    const store = new CaptureStore();
    await store.start();
    expect(store.phase).toBe('picking');
    expect(store.image).toBe('blob:frozen');
    expect(calls).toEqual(['capture_start', 'capture_show']);
    await store.pick({ x: 1, y: 2, w: 30, h: 40 });
    expect(store.phase).toBe('idle');
    expect(store.error).toBeNull();
    expect(store.message).toMatch(/clipboard.*INVOICE 4711/);
    expect(calls).toEqual(['capture_start', 'capture_show', 'capture_region', 'ocr_plan', 'ocr_run', 'capture_copy']);
    expect(URL.revokeObjectURL).toHaveBeenCalledWith('blob:frozen');
  });

  it('says why when the screen cannot be captured, and Esc sends the window back', async () => {
    mockIPC((cmd) => {
      if (cmd === 'capture_start') throw { code: 'usage', message: 'the screen cannot be captured here: no display is set' };
      return null;
    });
    const store = new CaptureStore();
    await store.start();
    expect(store.phase).toBe('idle');
    expect(store.error).toMatch(/cannot be captured here/);

    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      return cmd === 'capture_start' ? new ArrayBuffer(4) : null;
    });
    await store.start();
    await store.cancel();
    expect(store.phase).toBe('idle');
    expect(store.image).toBeNull();
    expect(calls).toEqual(['capture_start', 'capture_show', 'capture_cancel']);
  });

  it('a refused shortcut keeps its sentence; a good one is saved', async () => {
    mockIPC((cmd, args) => {
      if (cmd !== 'capture_set_shortcut') return null;
      const s = (args as { shortcut: string }).shortcut;
      if (s === 'O') throw { code: 'usage', message: '"O" has no Ctrl, Alt or Super' };
      return { shortcut: s, active: true, error: null };
    });
    const store = new CaptureStore();
    expect(await store.setShortcut('O')).toBe(false);
    expect(store.statusError).toMatch(/no Ctrl/);
    expect(await store.setShortcut(' Ctrl+Shift+T ')).toBe(true);
    expect(store.shortcut).toBe('Ctrl+Shift+T');
    expect(store.statusError).toBeNull();
  });
});

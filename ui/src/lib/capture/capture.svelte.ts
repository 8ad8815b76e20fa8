// Reading a region of the screen, as the person goes through it: the Capture button or the
// global shortcut freezes the screen (the backend hides the window and grabs it), the overlay
// shows the grab, the person drags a rectangle (Esc cancels), and the region goes through the
// OCR queue like any image (quota plan, ledger, cache); its text then goes to the clipboard.

import { tick } from 'svelte';
import {
  captureCancel,
  captureCopy,
  captureRegion,
  captureSetShortcut,
  captureShow,
  captureStart,
  captureStatus,
  toApiError,
  type CaptureRegion,
  type CaptureStatus,
} from '../../api';
import { app } from '../app.svelte';
import { ocr } from '../ocr.svelte';
import type { Size } from './region';

export type Phase = 'idle' | 'freezing' | 'picking' | 'reading';

/** Resolves once `busy()` is false (a batch already running finishes first). */
async function until(idle: () => boolean, every = 200): Promise<void> {
  while (!idle()) await new Promise((r) => setTimeout(r, every));
}

/** The natural size of a PNG behind an object URL. */
async function sizeOf(url: string): Promise<Size | null> {
  if (typeof Image === 'undefined') return null;
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch {
    return null;
  }
  return img.naturalWidth > 0 ? { w: img.naturalWidth, h: img.naturalHeight } : null;
}

export class CaptureStore {
  phase = $state<Phase>('idle');
  /** The frozen screen (an object URL) while the person picks. */
  image = $state<string | null>(null);
  /** Its size in its own pixels. */
  size = $state<Size | null>(null);
  /** Why the last capture did not work, as a sentence. */
  error = $state<string | null>(null);
  /** The last sentence about the clipboard. */
  message = $state<string | null>(null);
  status = $state<CaptureStatus | null>(null);
  statusError = $state<string | null>(null);

  /** The shortcut to show in help and next to the button (empty: none). */
  shortcut = $derived(this.status?.shortcut ?? '');

  async loadStatus(): Promise<void> {
    try {
      this.status = await captureStatus();
      this.statusError = null;
    } catch (e) {
      this.statusError = toApiError(e).message;
    }
  }

  async setShortcut(text: string): Promise<boolean> {
    try {
      this.status = await captureSetShortcut(text.trim());
      this.statusError = null;
      return true;
    } catch (e) {
      this.statusError = toApiError(e).message;
      return false;
    }
  }

  /** The Capture button and the shortcut: freeze the screen and show the overlay. */
  async start(): Promise<void> {
    if (this.phase !== 'idle') return;
    this.phase = 'freezing';
    this.error = null;
    this.message = null;
    try {
      const png = await captureStart();
      const url = URL.createObjectURL(new Blob([png as BlobPart], { type: 'image/png' }));
      this.size = await sizeOf(url);
      this.image = url;
      this.phase = 'picking';
      await tick();
      await captureShow();
    } catch (e) {
      this.drop();
      this.phase = 'idle';
      this.error = toApiError(e).message;
    }
  }

  /** Esc: nothing is read. */
  async cancel(): Promise<void> {
    if (this.phase !== 'picking') return;
    this.drop();
    this.phase = 'idle';
    try {
      await captureCancel();
    } catch (e) {
      this.error = toApiError(e).message;
    }
  }

  /** The person let go of the rectangle: stage it, read it, copy its text. */
  async pick(region: CaptureRegion): Promise<void> {
    if (this.phase !== 'picking') return;
    this.phase = 'reading';
    this.drop();
    try {
      const staged = await captureRegion(region);
      ocr.addStaged([staged]);
      app.go('ocr');
      await until(() => !ocr.running);
      await ocr.refreshPlan();
      await ocr.run([staged.id]);
      const item = ocr.item(staged.id);
      if (item?.status === 'done') {
        this.message = item.result?.text ? await captureCopy(staged.id) : 'No text was found in the region.';
      } else {
        this.error = item?.error ?? ocr.runError ?? 'The region was not read.';
      }
    } catch (e) {
      this.error = toApiError(e).message;
    } finally {
      this.phase = 'idle';
    }
  }

  private drop(): void {
    if (this.image) URL.revokeObjectURL(this.image);
    this.image = null;
  }
}

export const capture = new CaptureStore();

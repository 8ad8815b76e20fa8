// The geometry of picking a region on the frozen screen: a drag (or the keyboard) gives a
// rectangle in the overlay's CSS pixels; the backend wants it in the grab's own pixels (the
// overlay shows the whole grab scaled to the window, and HiDPI screens have more pixels than
// CSS pixels).

import type { CaptureRegion } from '../../api';

export type Point = { x: number; y: number };
export type Rect = { x: number; y: number; w: number; h: number };
export type Size = { w: number; h: number };

/** A drag shorter than this (CSS px) on either side is a click, not a region. */
export const MIN_DRAG = 4;

/** The rectangle between two corners, whichever way the drag went, kept inside `bounds`. */
export function rectBetween(a: Point, b: Point, bounds: Size): Rect {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const x1 = clamp(Math.min(a.x, b.x), bounds.w);
  const y1 = clamp(Math.min(a.y, b.y), bounds.h);
  const x2 = clamp(Math.max(a.x, b.x), bounds.w);
  const y2 = clamp(Math.max(a.y, b.y), bounds.h);
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}

/** Whether a rectangle is big enough to read. */
export function isRegion(r: Rect | null): r is Rect {
  return r !== null && r.w >= MIN_DRAG && r.h >= MIN_DRAG;
}

/**
 * `rect` (CSS px in an overlay of size `shown`) in the grab's pixels (`natural`), rounded
 * outwards and kept inside the grab; null when it is too small to read.
 */
export function toImageRegion(rect: Rect, shown: Size, natural: Size): CaptureRegion | null {
  if (!isRegion(rect) || shown.w <= 0 || shown.h <= 0) return null;
  const sx = natural.w / shown.w;
  const sy = natural.h / shown.h;
  const x = Math.max(0, Math.floor(rect.x * sx));
  const y = Math.max(0, Math.floor(rect.y * sy));
  const right = Math.min(natural.w, Math.ceil((rect.x + rect.w) * sx));
  const bottom = Math.min(natural.h, Math.ceil((rect.y + rect.h) * sy));
  if (right - x < 1 || bottom - y < 1) return null;
  return { x, y, w: right - x, h: bottom - y };
}

/** The box the keyboard starts with: the middle third of the screen. */
export function startBox(bounds: Size): Rect {
  return { x: bounds.w / 3, y: bounds.h / 3, w: bounds.w / 3, h: bounds.h / 3 };
}

const STEPS: Record<string, [number, number]> = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/**
 * An arrow key on the box: moves it (Shift: resizes it from its bottom-right corner) by 10 px,
 * or 1 px with Alt; it stays on the screen. Null for any other key.
 */
export function nudge(rect: Rect, key: string, resize: boolean, fine: boolean, bounds: Size): Rect | null {
  const step = STEPS[key];
  if (!step) return null;
  const d = fine ? 1 : 10;
  const [dx, dy] = step;
  if (resize) {
    const w = Math.min(Math.max(rect.w + dx * d, MIN_DRAG), bounds.w - rect.x);
    const h = Math.min(Math.max(rect.h + dy * d, MIN_DRAG), bounds.h - rect.y);
    return { ...rect, w, h };
  }
  const x = Math.min(Math.max(rect.x + dx * d, 0), Math.max(bounds.w - rect.w, 0));
  const y = Math.min(Math.max(rect.y + dy * d, 0), Math.max(bounds.h - rect.h, 0));
  return { ...rect, x, y };
}

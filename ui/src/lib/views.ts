// The views other than Read images load when first opened, not with the app: the first frame
// needs only the Read images view, and the code (and memory) of the others waits until asked.

import type { Component } from 'svelte';
import type { ViewName } from './shortcuts';

/** A view that loads on demand. */
export type LazyView = Exclude<ViewName, 'ocr'>;

const LOADERS: Record<LazyView, () => Promise<{ default: Component }>> = {
  chat: () => import('../components/chat/ChatView.svelte'),
  usage: () => import('../components/usage/UsageView.svelte'),
  keys: () => import('../components/keys/KeysView.svelte'),
};

const loading = new Map<LazyView, Promise<Component>>();

/** Loads a view's component (once; later calls get the same promise). */
export function loadView(view: LazyView): Promise<Component> {
  let p = loading.get(view);
  if (!p) {
    p = LOADERS[view]().then((m) => m.default);
    // A failed load (should not happen: the files are embedded) may be tried again.
    p.catch(() => loading.delete(view));
    loading.set(view, p);
  }
  return p;
}

import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { appReady } from './api';
import { pageMarks } from './lib/firstframe';

// When the bundle had been loaded and run up to here (for `app_ready`'s timings).
const script = performance.now();

async function start(): Promise<void> {
  // In a plain browser (`npm run dev`) there is no Rust side: serve a fake one. Never in builds.
  if (import.meta.env.DEV && !('__TAURI_INTERNALS__' in window)) {
    const { installFakeBackend } = await import('./api/fake');
    // `#…-empty` starts with no keys and no history (the first-run screens).
    const empty = location.hash.endsWith('-empty');
    installFakeBackend(empty ? { keys: [], history: false } : {});
  }
  mount(App, { target: document.getElementById('app')! });
  const mounted = performance.now();
  // Tell the backend the first frame is on screen (logged; `make bench-app` times it). The
  // start-up calls wait until after this one (lib/firstframe.ts).
  requestAnimationFrame(() => requestAnimationFrame(() => void appReady(pageMarks({ script, mounted }))));
  if (import.meta.env.DEV && location.hash) {
    const { playDemo } = await import('./demo');
    void playDemo(location.hash);
  }
}

void start();

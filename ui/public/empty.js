// The baseline page's only script (keywheel-empty-window, `make bench-app`): after the first two
// animation frames, tell the backend the window has painted, with the page's timings as the app
// sends them (src/lib/firstframe.ts). No inline script: the CSP is `script-src 'self'`.
// `__TAURI_INTERNALS__` is injected even with withGlobalTauri off.
const script = performance.now();
requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    const marks = { origin: performance.timeOrigin, script, frame: performance.now() };
    const nav = performance.getEntriesByType('navigation')[0];
    if (nav) marks.html = nav.responseEnd;
    const tauri = window.__TAURI_INTERNALS__;
    if (tauri) void tauri.invoke('app_ready', { marks }).catch(() => null);
  }),
);

// The baseline page's only script (keywheel-empty-window, `make bench-app`): after the first two
// animation frames, tell the backend the window has painted. No inline script: the CSP is
// `script-src 'self'`. `__TAURI_INTERNALS__` is injected even with withGlobalTauri off.
requestAnimationFrame(() =>
  requestAnimationFrame(() => {
    const tauri = window.__TAURI_INTERNALS__;
    if (tauri) void tauri.invoke('app_ready').catch(() => null);
  }),
);

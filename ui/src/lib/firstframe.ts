// The first frame waits for nothing it does not draw: the calls the shell and the Read images
// view make at start (keys, the staged queue, the capture status, every event subscription) go
// out once the first frame is on screen, so the page's first frame (and `app_ready`, which
// `make bench-app` times) is not queued behind a dozen IPC round trips. The first frame shows
// the shell and the empty view; what those calls bring fills in a frame or two later.

let painted: Promise<void> | null = null;

/**
 * Resolves once the first frame has been drawn: after two animation frames, in a task of its
 * own, so anything the second frame's callbacks send (main.ts's `app_ready`) goes first.
 * Where there are no animation frames (tests in jsdom), after a timer.
 */
export function afterFirstFrame(): Promise<void> {
  painted ??= new Promise((resolve) => {
    const frame =
      typeof requestAnimationFrame === 'function'
        ? (cb: () => void) => requestAnimationFrame(() => cb())
        : (cb: () => void) => setTimeout(cb, 16);
    frame(() => frame(() => setTimeout(resolve, 0)));
  });
  return painted;
}

/**
 * Runs `start` after the first frame unless the component is gone by then; returns the cleanup
 * for `onMount` (it stops whatever `start` returned, if it ran).
 */
export function startAfterFirstFrame(start: () => () => void): () => void {
  let stop: (() => void) | null = null;
  let gone = false;
  void afterFirstFrame().then(() => {
    if (!gone) stop = start();
  });
  return () => {
    gone = true;
    stop?.();
  };
}

/** The page's timings for `app_ready` (ms since `performance.timeOrigin`; `origin` itself as unix ms). */
export function pageMarks(marks: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { origin: performance.timeOrigin, ...marks, frame: performance.now() };
  const nav = performance.getEntriesByType?.('navigation')[0] as PerformanceNavigationTiming | undefined;
  if (nav) {
    out.html = nav.responseEnd;
    out.dom = nav.domInteractive;
  }
  return out;
}

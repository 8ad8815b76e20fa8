// The Markdown renderer (marked + DOMPurify, ~60 kB) loads on first use, not with the app:
// the first screen needs none of it, and the first paint comes sooner without it.

type Render = (md: string | null | undefined) => string;

let render: Render | null = null;
let loading: Promise<Render> | null = null;

/** The renderer if it is already loaded. */
export function loadedRenderer(): Render | null {
  return render;
}

/** Loads the renderer (once). */
export function loadRenderer(): Promise<Render> {
  loading ??= import('./markdown').then((m) => {
    render = m.renderMarkdown;
    return render;
  });
  return loading;
}

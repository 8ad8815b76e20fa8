// Pure helpers for the Keys view.

/** Parses a cap typed by a person: a whole number ≥ 0, or null when it is not one. */
export function parseCap(text: string): number | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/** One model per line → list (blank lines and surrounding spaces dropped). */
export function parseModels(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

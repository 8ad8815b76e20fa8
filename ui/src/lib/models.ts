// Pure helpers for the Models panel (Keys view): which catalogue models a picker offers, how a
// search narrows them, and the sentences about an account's credits and a chain's entries.

import type { CatalogueModel, ChainEntry, Credits } from '../api';

/** The two chains: `chat` (R1 first) and `vision` (reading images). */
export type ChainKind = 'chat' | 'vision';

/** At most this many matches are listed (the rest are reached by typing more). */
export const PICKER_LIMIT = 50;

/** What a picker may offer: models that answer in text; for vision, only those that take images. */
export function pickable(kind: ChainKind, list: CatalogueModel[]): CatalogueModel[] {
  return list.filter((m) => m.text_only && (kind === 'chat' || m.takes_images));
}

/**
 * The models matching `query` (every word must appear in the id or the name, case-insensitive),
 * best first: an id that starts with the query, then one that contains it as typed, then the
 * rest in catalogue order; at most `limit`.
 */
export function filterModels(list: CatalogueModel[], query: string, limit = PICKER_LIMIT): CatalogueModel[] {
  const q = query.trim().toLowerCase();
  if (!q) return list.slice(0, limit);
  const words = q.split(/\s+/);
  const scored: { m: CatalogueModel; score: number; i: number }[] = [];
  list.forEach((m, i) => {
    const id = m.id.toLowerCase();
    const hay = `${id} ${m.name.toLowerCase()}`;
    if (!words.every((w) => hay.includes(w))) return;
    const tail = id.slice(id.indexOf('/') + 1);
    const score = id.startsWith(q) || tail.startsWith(q) ? 0 : id.includes(q) ? 1 : 2;
    scored.push({ m, score, i });
  });
  scored.sort((a, b) => a.score - b.score || a.i - b.i);
  return scored.slice(0, limit).map((s) => s.m);
}

/** The account's credit state in one sentence. */
export function creditsSentence(credits: Credits): string {
  switch (credits) {
    case 'paid':
      return 'This account has credits: paid preferences come first, then free models.';
    case 'free_only':
      return 'This account has no credits on OpenRouter: only free models are used.';
    default:
      return 'Whether this account has credits is not known yet (no key answered); the preferences are used as they are.';
  }
}

/** The price badge of an entry: free, paid, or unknown (no catalogue). */
export function priceLabel(free: boolean | null): 'free' | 'paid' | 'price unknown' {
  return free === null ? 'price unknown' : free ? 'free' : 'paid';
}

/** The entries that are sent, first choice first, and the ones left out (with their reasons). */
export function splitEntries(entries: ChainEntry[]): { included: ChainEntry[]; excluded: ChainEntry[] } {
  return { included: entries.filter((e) => e.included), excluded: entries.filter((e) => !e.included) };
}

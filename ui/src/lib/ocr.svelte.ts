// The OCR queue: staged images, the quota plan, a run's progress and results. Lives outside the
// view so pasting or dropping images from any view, and switching views mid-run, lose nothing.

import {
  clipboardWrite,
  MAX_IMAGE_BYTES,
  ocrCancel,
  ocrPlan,
  ocrRun,
  ocrSave,
  ocrStage,
  ocrStaged,
  ocrUnstage,
  pdfStage,
  toApiError,
  type ImageResult,
  type JobStatus,
  type OcrEvent,
  type OcrPlan,
  type PdfStaged,
  type StagedImage,
} from '../api';
import { joinTexts } from './copyall';
import { formatBytes, num } from './format';

export type OcrItem = {
  id: number;
  name: string;
  bytes: number;
  status: JobStatus;
  /** Tile number → its last status, from `tile` events. */
  tiles: Record<number, JobStatus>;
  /** Tiles the image needs (0 until known). */
  of: number;
  result: ImageResult | null;
  /** Why it is not done, as a sentence. */
  error: string | null;
};

/** Tiles done / tiles, for a progress bar. */
export function tileProgress(item: Pick<OcrItem, 'tiles' | 'of' | 'status'>): { done: number; of: number } {
  const done = Object.values(item.tiles).filter((s) => s === 'done').length;
  if (item.status === 'done') return { done: Math.max(done, item.of, 1), of: Math.max(item.of, 1) };
  return { done, of: item.of };
}

/** The check the UI makes before sending a file; a sentence when it is refused, else null. */
export function refuseFile(file: { name: string; size: number; type: string }): string | null {
  if (file.size > MAX_IMAGE_BYTES) {
    return `${file.name} is ${formatBytes(file.size)}; images over ${formatBytes(MAX_IMAGE_BYTES)} cannot be read. Scale it down or crop it, then add it again.`;
  }
  if (file.size === 0) return `${file.name} is empty.`;
  if (file.type && !file.type.startsWith('image/') && !isPdf(file)) {
    return `${file.name} is not an image or a PDF (${file.type}). Use PNG, JPEG, WebP, GIF, BMP, TIFF or PDF.`;
  }
  return null;
}

/** Whether a picked file is a PDF (read page by page). */
export function isPdf(file: { name: string; type: string }): boolean {
  return file.type === 'application/pdf' || (!file.type && /\.pdf$/i.test(file.name));
}

/** A readable, unique-enough name for a pasted image (the clipboard calls them all image.png). */
export function pastedName(type: string, now: Date = new Date()): string {
  const ext = (type.split('/')[1] ?? 'png').replace('jpeg', 'jpg').replace(/[^a-z0-9]/gi, '');
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(
    now.getMinutes(),
  )}${p(now.getSeconds())}`;
  return `pasted-${stamp}.${ext || 'png'}`;
}

/** Copies text (the Clipboard API, else a hidden field and `execCommand`). */
export async function writeClipboard(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  if (!ok) throw new Error('The clipboard is not available.');
}

export class OcrStore {
  items = $state<OcrItem[]>([]);
  /** Sentences about files refused or failed before reading (too large, not an image, …). */
  notices = $state<string[]>([]);
  plan = $state<OcrPlan | null>(null);
  planError = $state<string | null>(null);
  staging = $state(0);
  running = $state(false);
  /** Notes from the running batch (rotation, waits, local fallback). */
  notes = $state<string[]>([]);
  runError = $state<string | null>(null);
  /** The page plan of each PDF staged ("scan.pdf: 23 pages; 6 read from the text layer …"). */
  pdfPlans = $state<string[]>([]);
  /** A short confirmation (copied, saved to …). */
  flash = $state<string | null>(null);
  /** The last file-picker request the view has honoured (see `app.pickFiles`). */
  pickHandled = 0;

  private planSeq = 0;
  private flashTimer: ReturnType<typeof setTimeout> | null = null;

  /** Images a run would read: everything not done yet. */
  pending = $derived(this.items.filter((i) => i.status !== 'done'));
  done = $derived(this.items.filter((i) => i.status === 'done'));

  item(id: number): OcrItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  /** Picks up images staged before this window loaded. */
  async load(): Promise<void> {
    try {
      this.addStaged(await ocrStaged());
      await this.refreshPlan();
    } catch (e) {
      this.notices = [...this.notices, toApiError(e).message];
    }
  }

  addStaged(list: StagedImage[]): void {
    const fresh = list.filter((s) => !this.items.some((i) => i.id === s.id));
    if (fresh.length === 0) return;
    // Staging answers can arrive out of order (each image is prepared as it is staged), so
    // the queue is kept in staging order: ids grow in the order the files were handed over.
    this.items = [
      ...this.items,
      ...fresh.map((s) => ({
        id: s.id,
        name: s.name,
        bytes: num(s.bytes),
        status: 'queued' as const,
        tiles: {},
        of: 0,
        result: null,
        error: null,
      })),
    ].sort((a, b) => a.id - b.id);
  }

  /** Reads each file and stages it; refused files get a sentence in `notices`. */
  async stageFiles(files: File[]): Promise<void> {
    const staged: StagedImage[] = [];
    for (const file of files) {
      const why = refuseFile(file);
      if (why) {
        this.notices = [...this.notices, why];
        continue;
      }
      this.staging += 1;
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        if (isPdf(file)) {
          const pdf = await pdfStage(file.name, bytes);
          this.addPdf(pdf);
          staged.push(...pdf.staged);
          continue;
        }
        const s = await ocrStage(file.name, bytes);
        staged.push(s);
        this.addStaged([s]);
      } catch (e) {
        this.notices = [...this.notices, `${file.name}: ${toApiError(e).message}`];
      } finally {
        this.staging -= 1;
      }
    }
    if (staged.length > 0) await this.refreshPlan();
  }

  /** A PDF's pages (dropped or picked): one item each; text-layer pages arrive read. */
  addPdf(pdf: PdfStaged): void {
    this.addStaged(pdf.staged);
    for (const r of pdf.read) this.applyResult(r.id, r.result);
    this.pdfPlans = [...this.pdfPlans.filter((p) => p !== pdf.sentence), pdf.sentence];
  }

  dismissNotice(i: number): void {
    this.notices = this.notices.filter((_, j) => j !== i);
  }

  async refreshPlan(): Promise<void> {
    const seq = ++this.planSeq;
    const ids = this.pending.map((i) => i.id);
    if (ids.length === 0) {
      this.plan = null;
      this.planError = null;
      return;
    }
    try {
      const plan = await ocrPlan(ids);
      if (seq === this.planSeq) {
        this.plan = plan;
        this.planError = null;
      }
    } catch (e) {
      if (seq === this.planSeq) {
        this.plan = null;
        this.planError = toApiError(e).message;
      }
    }
  }

  async remove(id: number): Promise<void> {
    try {
      await ocrUnstage(id);
      this.items = this.items.filter((i) => i.id !== id);
    } catch (e) {
      this.notices = [...this.notices, toApiError(e).message];
    }
    await this.refreshPlan();
  }

  async clearDone(): Promise<void> {
    for (const item of this.done) await this.remove(item.id);
    if (this.items.length === 0) this.pdfPlans = [];
  }

  /** Reads the given images (default: all not done). Resolves when the batch ends. */
  async run(ids: number[] = this.pending.map((i) => i.id)): Promise<void> {
    if (this.running || ids.length === 0) return;
    this.running = true;
    this.runError = null;
    this.notes = [];
    for (const id of ids) {
      const item = this.item(id);
      if (!item) continue;
      item.status = 'queued';
      item.error = null;
      item.result = null;
      item.tiles = {};
    }
    try {
      const results = await ocrRun(ids, (ev) => this.onEvent(ev));
      for (const r of results) this.applyResult(r.id, r.result);
    } catch (e) {
      const err = toApiError(e);
      if (err.code === 'cancelled') {
        this.notes = [...this.notes, 'Cancelled. Finished images are kept; the others can be read later.'];
      } else {
        this.runError = err.message;
      }
      for (const id of ids) {
        const item = this.item(id);
        if (item && item.status === 'running') item.status = 'queued';
      }
    } finally {
      this.running = false;
      await this.refreshPlan();
    }
  }

  onEvent(ev: OcrEvent): void {
    // Retries, fallbacks, waits, local reads: the core's note carries its sentence.
    if ('sentence' in ev) {
      this.notes = [...this.notes.slice(-4), ev.sentence];
      return;
    }
    switch (ev.type) {
      case 'tile': {
        const item = this.item(ev.id);
        if (!item) return;
        item.of = num(ev.of);
        item.tiles[num(ev.tile)] = ev.status;
        const { done } = tileProgress(item);
        item.status = ev.status === 'done' && done < item.of ? 'running' : ev.status;
        return;
      }
      case 'image':
        this.applyResult(ev.id, ev.result);
        return;
    }
  }

  private applyResult(id: number, result: ImageResult): void {
    const item = this.item(id);
    if (!item) return;
    item.result = result;
    item.status = result.status;
    item.error = result.error;
    if (num(result.tiles) > 0) item.of = num(result.tiles);
  }

  async cancel(): Promise<void> {
    try {
      await ocrCancel();
    } catch (e) {
      this.runError = toApiError(e).message;
    }
  }

  async copy(id: number): Promise<void> {
    const text = this.item(id)?.result?.text;
    if (!text) return;
    try {
      await writeClipboard(text);
      this.say('Copied the text.');
    } catch (e) {
      this.say(`Could not copy: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** "Copy all": every read image's text, joined as `keywheel ocr` prints several images. */
  async copyAll(): Promise<void> {
    const text = joinTexts(this.done.map((i) => ({ name: i.name, text: i.result?.text })));
    if (!text) return;
    try {
      // The system clipboard through the backend; the page's own clipboard where there is none.
      await clipboardWrite(text).catch(() => writeClipboard(text));
      const n = this.done.filter((i) => i.result?.text).length;
      this.say(`Copied the text of ${n} image${n === 1 ? '' : 's'}.`);
    } catch (e) {
      this.say(`Could not copy: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async save(id: number): Promise<void> {
    try {
      const path = await ocrSave(id);
      if (path) this.say(`Saved to ${path}`);
    } catch (e) {
      this.notices = [...this.notices, toApiError(e).message];
    }
  }

  private say(message: string): void {
    this.flash = message;
    if (this.flashTimer) clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(() => (this.flash = null), 4000);
  }
}

export const ocr = new OcrStore();

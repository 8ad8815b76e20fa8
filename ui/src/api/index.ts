// The one layer that talks to the Rust side. Views import from here, never from
// `@tauri-apps/api`. Every command rejects with an `ApiError` (an `IpcError` with a code the UI
// can branch on and a sentence to show as is).

import { Channel, invoke, type InvokeArgs, type InvokeOptions } from '@tauri-apps/api/core';
import { listen, TauriEvent, type EventCallback } from '@tauri-apps/api/event';
import type {
  AlertRow,
  CaptureRegion,
  CaptureStatus,
  CatalogueModel,
  ChatEvent,
  ChatMessage,
  ErrorCode,
  GatewayStatus,
  IpcError,
  KeyAdded,
  KeyCheck,
  KeyPatch,
  KeyView,
  LedgerInfo,
  LogQuery,
  LogRow,
  ModelChains,
  OcrEvent,
  OcrPlan,
  OcrResult,
  PdfStaged,
  SettingsPatch,
  SettingsView,
  StagedImage,
  StatusView,
  Thread,
  ThreadSummary,
  UsageView,
} from './bindings';

export type * from './bindings';

/** An `IpcError` that is also an `Error` (stack, `instanceof`). */
export class ApiError extends Error implements IpcError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }

  /** The plain `{ code, message }` shape (what `ChatMessage.error` holds). */
  toJSON(): IpcError {
    return { code: this.code, message: this.message };
  }
}

function isIpcErrorShape(e: unknown): e is IpcError {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.code === 'string' && typeof o.message === 'string';
}

/**
 * Normalises anything a command can reject with. The backend rejects with `{ code, message }`;
 * anything else (a Tauri string error, a thrown `Error`) becomes a `storage` error whose message
 * is the text of what was thrown.
 */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (isIpcErrorShape(e)) return new ApiError(e.code, e.message);
  return new ApiError('storage', String(e));
}

async function call<T>(cmd: string, args?: InvokeArgs, options?: InvokeOptions): Promise<T> {
  try {
    return await invoke<T>(cmd, args, options);
  } catch (e) {
    throw toApiError(e);
  }
}

// ---------------------------------------------------------------------------------------- keys

export const keysList = (): Promise<KeyView[]> => call('keys_list');

export const keysAdd = (secret: string, label: string | null, account: string | null): Promise<KeyAdded> =>
  call('keys_add', { secret, label, account });

export const keysUpdate = (id: string, patch: KeyPatch): Promise<KeyView> => call('keys_update', { id, patch });

export const keysRemove = (id: string): Promise<null> => call('keys_remove', { id });

/** Checks one key (or all with `null`) with OpenRouter's `GET /key`; costs no quota. */
export const keysCheck = (id: string | null): Promise<KeyCheck[]> => call('keys_check', { id });

/** A patch that changes nothing; spread the fields to change over it. */
export const emptyKeyPatch = (): KeyPatch => ({
  label: null,
  account: null,
  daily_cap: null,
  minute_cap: null,
  enabled: null,
  reset_caps: false,
});

// --------------------------------------------------------------------------------------- usage

export const status = (): Promise<StatusView> => call('status');

export const usage = (days: number): Promise<UsageView> => call('usage', { days });

/**
 * Newest first; each row says what sent it when known (`via: 'gateway'` and its session) and its
 * outcome in the core's words (`outcome_label`).
 */
export const requestLog = (query: LogQuery): Promise<LogRow[]> => call('request_log', { query });

export const alerts = (days: number): Promise<AlertRow[]> => call('alerts', { days });

/**
 * Which ledger is in use: the file, or the team ledger with its live instances per machine (the
 * core's sentences), and `team_cache` as saved. Switching ledgers needs a restart.
 */
export const ledgerView = (): Promise<LedgerInfo> => call('ledger_view');

// ------------------------------------------------------------------------------------ settings

export const settingsGet = (): Promise<SettingsView> => call('settings_get');

export const settingsSet = (patch: SettingsPatch): Promise<SettingsView> => call('settings_set', { patch });

/** Pins `model` for the chat or vision chain (`null` unpins: back to the resolved chain). */
export const settingsPin = (kind: 'chat' | 'vision', model: string | null): Promise<SettingsView> =>
  settingsSet({
    rotate_after: null,
    chat_models: null,
    vision_models: null,
    [kind === 'chat' ? 'chat_pin' : 'vision_pin']: model ?? '',
  });

/** Saves `team_cache` (share OCR text and answers with the team ledger's people); from the next start. */
export const settingsTeamCache = (on: boolean): Promise<SettingsView> =>
  settingsSet({ rotate_after: null, chat_models: null, vision_models: null, team_cache: on });

// -------------------------------------------------------------------------------------- models

/** Both chains as they resolve now, each entry with its reason (no quota spent). */
export const modelsChains = (): Promise<ModelChains> => call('models_chains');

/** OpenRouter's models for the picker (cached a day; `refresh` fetches again). No quota spent. */
export const modelsCatalogue = (refresh = false): Promise<CatalogueModel[]> => call('models_catalogue', { refresh });

/** Whether the OS lets the app show desktop notifications (alerts are sent by the Rust side). */
export async function notificationsAllowed(): Promise<boolean | null> {
  try {
    return await invoke<boolean>('plugin:notification|is_permission_granted');
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------- gateway

/** The local gateway (`keywheel serve` in the app): running?, address, masked token, sessions. */
export const gatewayStatus = (): Promise<GatewayStatus> => call('gateway_status');

/** Turns the local gateway on (loopback only); already on: unchanged. */
export const gatewayStart = (): Promise<GatewayStatus> => call('gateway_start');

/** Turns it off; answers in flight finish first. */
export const gatewayStop = (): Promise<GatewayStatus> => call('gateway_stop');

/**
 * The local `kw-…` token, for a copy button only: write it to the clipboard and drop it, never
 * into the page. (It opens only this gateway; it is not an OpenRouter key.)
 */
export const gatewayToken = (): Promise<string> => call('gateway_token');

// ---------------------------------------------------------------------------------------- chat

export const threadsList = (): Promise<ThreadSummary[]> => call('threads_list');

export const threadCreate = (): Promise<Thread> => call('thread_create');

export const threadGet = (id: string): Promise<Thread> => call('thread_get', { id });

export const threadDelete = (id: string): Promise<null> => call('thread_delete', { id });

/**
 * Sends a prompt; `onEvent` receives the stream (reasoning, answer, retries, fallbacks). Resolves
 * with the assistant message once it is saved in the thread.
 */
export function chatSend(threadId: string, prompt: string, onEvent: (e: ChatEvent) => void): Promise<ChatMessage> {
  const channel = new Channel<ChatEvent>();
  channel.onmessage = onEvent;
  return call('chat_send', { threadId, prompt, onEvent: channel });
}

export const chatStop = (threadId: string): Promise<null> => call('chat_stop', { threadId });

// ----------------------------------------------------------------------------------------- ocr

/** The backend refuses larger files; the UI says so before sending. */
export const MAX_IMAGE_BYTES = 40 * 1024 * 1024;

/** Sends one image's bytes (raw body, the name in a header) to the staging area. */
export const ocrStage = (name: string, bytes: Uint8Array): Promise<StagedImage> =>
  call('ocr_stage', bytes, { headers: { 'x-keywheel-name': encodeURIComponent(name) } });

/** Sends a picked PDF's bytes; its pages are staged one item each (text-layer pages come read). */
export const pdfStage = (name: string, bytes: Uint8Array): Promise<PdfStaged> =>
  call('pdf_stage', bytes, { headers: { 'x-keywheel-name': encodeURIComponent(name) } });

export const ocrStaged = (): Promise<StagedImage[]> => call('ocr_staged');

export const ocrUnstage = (id: number): Promise<null> => call('ocr_unstage', { id });

export const ocrPlan = (ids: number[]): Promise<OcrPlan> => call('ocr_plan', { ids });

export function ocrRun(ids: number[], onEvent: (e: OcrEvent) => void): Promise<OcrResult[]> {
  const channel = new Channel<OcrEvent>();
  channel.onmessage = onEvent;
  return call('ocr_run', { ids, onEvent: channel });
}

export const ocrCancel = (): Promise<null> => call('ocr_cancel');

/** Opens a native save dialog for the image's Markdown; the path written, or null if cancelled. */
export const ocrSave = (id: number): Promise<string | null> => call('ocr_save', { id });

// ------------------------------------------------------------------------------------- capture

/** The capture shortcut as saved, and whether the desktop registered it. */
export const captureStatus = (): Promise<CaptureStatus> => call('capture_status');

/** Sets the capture shortcut (`''`: none); registered before it is saved. */
export const captureSetShortcut = (shortcut: string): Promise<CaptureStatus> =>
  call('capture_set_shortcut', { shortcut });

/** Hides the window and grabs the whole screen; the grab as PNG bytes (the window stays hidden). */
export const captureStart = async (): Promise<Uint8Array> => new Uint8Array(await call<ArrayBuffer>('capture_start'));

/** Shows the window over the whole screen (once the page shows the frozen grab). */
export const captureShow = (): Promise<null> => call('capture_show');

/** Cancels: the window goes back as it was. */
export const captureCancel = (): Promise<null> => call('capture_cancel');

/** Crops the region (in the grab's pixels) and stages it like any image; the window goes back. */
export const captureRegion = (region: CaptureRegion): Promise<StagedImage> => call('capture_region', { region });

/** Puts a read image's text on the clipboard (with a desktop notification); the sentence. */
export const captureCopy = (id: number): Promise<string> => call('capture_copy', { id });

/** Puts text on the system clipboard from the Rust side (kept while the app runs). */
export const clipboardWrite = (text: string): Promise<null> => call('clipboard_write', { text });

// -------------------------------------------------------------------------------------- window

/**
 * Reports the first painted frame (logged by the backend; timed by `make bench-app`), with the
 * page's timings (ms since `performance.timeOrigin`, which is `origin`), printed by the bench.
 */
export const appReady = (marks: Record<string, number> = {}): Promise<null> =>
  call<null>('app_ready', { marks }).catch(() => null);

// -------------------------------------------------------------------------------------- events

/** Stops listening. Safe to call before the listener is registered, and more than once. */
export type Unsubscribe = () => void;

function subscribe<T>(event: string, handler: EventCallback<T>): Unsubscribe {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  listen<T>(event, handler)
    .then((fn) => {
      if (stopped) fn();
      else unlisten = fn;
    })
    .catch(() => {
      // Not running inside Tauri (or not allowed): nothing to listen to.
    });
  return () => {
    stopped = true;
    unlisten?.();
    unlisten = null;
  };
}

/** Any process changed the shared ledger (counts, keys, log): re-fetch what is shown. */
export const onLedgerChanged = (cb: () => void): Unsubscribe => subscribe<null>('ledger-changed', () => cb());

/** An alert fired (a key is nearly spent, a key went invalid, …). */
export const onAlert = (cb: (alert: AlertRow) => void): Unsubscribe =>
  subscribe<AlertRow>('alert', (e) => cb(e.payload));

/** Files were dropped on the window and staged by the Rust side. */
export const onOcrStaged = (cb: (images: StagedImage[]) => void): Unsubscribe =>
  subscribe<StagedImage[]>('ocr-staged', (e) => cb(e.payload));

/** A file dropped on the window could not be staged (too large, unreadable, …). */
export const onDropError = (cb: (error: ApiError) => void): Unsubscribe =>
  subscribe<IpcError>('drop-error', (e) => cb(toApiError(e.payload)));

/** A PDF dropped on the window was staged page by page by the Rust side. */
export const onPdfStaged = (cb: (pdf: PdfStaged) => void): Unsubscribe =>
  subscribe<PdfStaged>('pdf-staged', (e) => cb(e.payload));

/** The capture shortcut was pressed (anywhere on the desktop). */
export const onCaptureShortcut = (cb: () => void): Unsubscribe => subscribe<null>('capture-shortcut', () => cb());

/** Files are being dragged over the window (true) or left / were dropped (false). */
export function onDragHover(cb: (hovering: boolean) => void): Unsubscribe {
  const subs = [
    subscribe(TauriEvent.DRAG_ENTER, () => cb(true)),
    subscribe(TauriEvent.DRAG_LEAVE, () => cb(false)),
    subscribe(TauriEvent.DRAG_DROP, () => cb(false)),
  ];
  return () => subs.forEach((s) => s());
}

// Keyboard shortcuts as data: one pure function maps a key press to an action, so the shell and
// the help overlay agree and tests can check the mapping.

export type ViewName = 'ocr' | 'chat' | 'usage' | 'keys';

export const VIEWS: { id: ViewName; label: string; key: string }[] = [
  { id: 'ocr', label: 'Read images', key: '1' },
  { id: 'chat', label: 'Chat', key: '2' },
  { id: 'usage', label: 'Usage', key: '3' },
  { id: 'keys', label: 'Keys', key: '4' },
];

export type Action =
  | { type: 'view'; view: ViewName }
  | { type: 'open-files' }
  | { type: 'new-chat' }
  | { type: 'escape' }
  | { type: 'help' };

export type KeyPress = Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>;

/** Whether the focus is somewhere a person types text (shortcuts without a modifier stay off). */
export function isTypingTarget(el: EventTarget | null): boolean {
  if (!(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = (el as HTMLInputElement).type;
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'range', 'color'].includes(type);
  }
  return false;
}

/** The app-wide action for a key press, or null. Ctrl and Cmd are the same modifier. */
export function shortcutFor(e: KeyPress, typing: boolean): Action | null {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.altKey && !e.shiftKey) {
    const view = VIEWS.find((v) => v.key === e.key);
    if (view) return { type: 'view', view: view.id };
    const k = e.key.toLowerCase();
    if (k === 'o') return { type: 'open-files' };
    if (k === 'n') return { type: 'new-chat' };
    return null;
  }
  if (!mod && !e.altKey && e.key === 'Escape') return { type: 'escape' };
  if (!mod && !e.altKey && e.key === '?' && !typing) return { type: 'help' };
  return null;
}

/** `Ctrl` or `⌘`, for labels. */
export const MOD_LABEL =
  typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)
    ? '⌘'
    : 'Ctrl';

export const SHORTCUTS: { keys: string; what: string }[] = [
  ...VIEWS.map((v) => ({ keys: `${MOD_LABEL}+${v.key}`, what: `Go to ${v.label}` })),
  { keys: `${MOD_LABEL}+O`, what: 'Choose images to read' },
  { keys: `${MOD_LABEL}+V`, what: 'Paste images (from anywhere) to read them' },
  { keys: `${MOD_LABEL}+N`, what: 'New chat' },
  { keys: 'Enter', what: 'Send the message (Shift+Enter: new line)' },
  { keys: `${MOD_LABEL}+Enter`, what: 'Send the message' },
  { keys: 'Esc', what: 'Stop the answer being written; close this help' },
  { keys: '?', what: 'Show or hide this help' },
];

import { describe, expect, it } from 'vitest';
import { isTypingTarget, shortcutFor, type KeyPress } from '../src/lib/shortcuts';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe('shortcutFor', () => {
  it('Ctrl or Cmd + 1..4 switch views', () => {
    expect(shortcutFor(press('1', { ctrlKey: true }), false)).toEqual({ type: 'view', view: 'ocr' });
    expect(shortcutFor(press('2', { metaKey: true }), true)).toEqual({ type: 'view', view: 'chat' });
    expect(shortcutFor(press('3', { ctrlKey: true }), false)).toEqual({ type: 'view', view: 'usage' });
    expect(shortcutFor(press('4', { ctrlKey: true }), false)).toEqual({ type: 'view', view: 'keys' });
    expect(shortcutFor(press('5', { ctrlKey: true }), false)).toBeNull();
    expect(shortcutFor(press('1'), false)).toBeNull();
  });

  it('Ctrl+O, Ctrl+N (any case), Escape', () => {
    expect(shortcutFor(press('o', { ctrlKey: true }), true)).toEqual({ type: 'open-files' });
    expect(shortcutFor(press('N', { ctrlKey: true }), false)).toEqual({ type: 'new-chat' });
    expect(shortcutFor(press('Escape'), true)).toEqual({ type: 'escape' });
    expect(shortcutFor(press('n', { ctrlKey: true, shiftKey: true }), false)).toBeNull();
  });

  it('? opens help only when not typing', () => {
    expect(shortcutFor(press('?', { shiftKey: true }), false)).toEqual({ type: 'help' });
    expect(shortcutFor(press('?', { shiftKey: true }), true)).toBeNull();
  });
});

describe('isTypingTarget', () => {
  it('text fields yes, buttons and checkboxes no', () => {
    const text = document.createElement('input');
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isTypingTarget(text)).toBe(true);
    expect(isTypingTarget(document.createElement('textarea'))).toBe(true);
    expect(isTypingTarget(box)).toBe(false);
    expect(isTypingTarget(document.createElement('button'))).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});

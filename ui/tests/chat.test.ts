import type { Channel } from '@tauri-apps/api/core';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChatEvent, ChatMessage, Thread } from '../src/api';
import { applyChatEvent, chatMessage, ChatStore, noteFor, type Streaming } from '../src/lib/chat.svelte';

afterEach(() => clearMocks());

const fresh = (): Streaming => ({ threadId: 't', reasoning: '', content: '', notes: [], stopping: false });

describe('applyChatEvent', () => {
  it('appends reasoning and content apart', () => {
    const s = fresh();
    applyChatEvent(s, { type: 'reasoning', text: 'Let me ' });
    applyChatEvent(s, { type: 'reasoning', text: 'think.' });
    applyChatEvent(s, { type: 'content', text: 'Answer' });
    expect(s).toMatchObject({ reasoning: 'Let me think.', content: 'Answer', notes: [] });
  });

  it('a retry discards what streamed so far and leaves a note', () => {
    const s = fresh();
    applyChatEvent(s, { type: 'reasoning', text: 'half' });
    applyChatEvent(s, { type: 'content', text: 'partial' });
    applyChatEvent(s, {
      type: 'retry',
      attempt: 2,
      wait_ms: 1500,
      class: 'transient',
      reason: 'the stream was cut',
      about: null,
      sentence: 'Retrying (attempt 2) in 1.5 s: the stream was cut',
    });
    expect(s.reasoning).toBe('');
    expect(s.content).toBe('');
    expect(s.notes).toEqual(['Retrying (attempt 2) in 1.5 s: the stream was cut']);
  });

  // The sentences are the core's (progress.rs); the view shows them as they come.
  it('fallbacks, waits and alerts are notes', () => {
    const note = (n: object, sentence: string) => ({ ...n, about: null, sentence }) as ChatEvent;
    expect(
      noteFor(note({ type: 'fallback', from: 'k1', to: 'k2', class: 'key_invalid' }, 'Switched from k1 to k2: daily cap reached')),
    ).toBe('Switched from k1 to k2: daily cap reached');
    expect(noteFor(note({ type: 'waiting', wait_ms: 20_000 }, 'Waiting 20 s for the per-minute limit…'))).toMatch(/^Waiting 20 s/);
    expect(noteFor(note({ type: 'alert', message: 'Key Work has 5 requests left.' }, 'Key Work has 5 requests left.'))).toBe(
      'Key Work has 5 requests left.',
    );
    expect(noteFor({ type: 'content', text: 'x' })).toBeNull();
  });
});

const thread = (id: string, messages: ChatMessage[] = []): Thread => ({
  id,
  title: '',
  created_at: '2026-11-26T10:00:00Z',
  updated_at: '2026-11-26T10:00:00Z',
  messages,
});

describe('ChatStore.send', () => {
  it('creates a thread when none is open, streams, then keeps the saved answer', async () => {
    const seen: string[] = [];
    let streamedMid: Streaming | null = null;
    const store = new ChatStore();
    mockIPC((cmd, args) => {
      seen.push(cmd);
      if (cmd === 'thread_create') return thread('t1');
      if (cmd === 'threads_list') return [];
      if (cmd === 'chat_send') {
        const ch = (args as { onEvent: Channel<ChatEvent> }).onEvent;
        ch.onmessage({ type: 'reasoning', text: 'think' });
        ch.onmessage({ type: 'content', text: 'Paris' });
        streamedMid = JSON.parse(JSON.stringify(store.streaming)) as Streaming;
        return chatMessage('assistant', 'Paris', {
          reasoning: 'think',
          model: 'deepseek/deepseek-r1',
          key_id: 'k1',
          at: '2026-11-26T10:00:01Z',
        });
      }
      return null;
    });
    await store.send('  Capital of France?  ');
    expect(seen).toEqual(['thread_create', 'chat_send', 'threads_list']);
    expect(streamedMid).toMatchObject({ threadId: 't1', reasoning: 'think', content: 'Paris' });
    expect(store.streaming).toBeNull();
    expect(store.current?.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'Capital of France?'],
      ['assistant', 'Paris'],
    ]);
  });

  it('a rejected send shows the sentence on an assistant message when none was saved', async () => {
    const store = new ChatStore();
    const user = chatMessage('user', 'hi', { at: '2026-11-26T10:00:00Z' });
    mockIPC((cmd) => {
      if (cmd === 'thread_create') return thread('t2');
      if (cmd === 'chat_send') throw { code: 'quota_exhausted', message: 'All keys are spent until 00:00 UTC.' };
      if (cmd === 'thread_get') return thread('t2', [user]);
      return [];
    });
    await store.send('hi');
    const last = store.current?.messages.at(-1);
    expect(last?.role).toBe('assistant');
    expect(last?.error).toEqual({ code: 'quota_exhausted', message: 'All keys are spent until 00:00 UTC.' });
    expect(last?.stopped).toBe(false);
  });
});

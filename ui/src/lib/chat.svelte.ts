// Chat threads and the answer being streamed. Lives outside the view so a stream keeps going
// (and Escape still stops it) while the person looks at another view.

import {
  chatSend,
  chatStop,
  threadCreate,
  threadDelete,
  threadGet,
  threadsList,
  toApiError,
  type ChatEvent,
  type ChatMessage,
  type Thread,
  type ThreadSummary,
} from '../api';

export type Streaming = {
  threadId: string;
  reasoning: string;
  content: string;
  /** Retries, fallbacks and waits, as short sentences. */
  notes: string[];
  stopping: boolean;
};

/** A message as the UI first writes it: just the role and text, stamped now (`over` sets the rest). */
export function chatMessage(role: ChatMessage['role'], content: string, over: Partial<ChatMessage> = {}): ChatMessage {
  return {
    role,
    content,
    reasoning: null,
    model: null,
    key_id: null,
    cached: false,
    stopped: false,
    error: null,
    at: new Date().toISOString(),
    notes: [],
    ...over,
  };
}

/** A streamed event's note for the person (the core's sentence), or null for text events. */
export function noteFor(ev: ChatEvent): string | null {
  return 'sentence' in ev ? ev.sentence : null;
}

/** Applies one streamed event to the message being written (a retry starts it over). */
export function applyChatEvent(s: Streaming, ev: ChatEvent): void {
  switch (ev.type) {
    case 'reasoning':
      s.reasoning += ev.text;
      return;
    case 'content':
      s.content += ev.text;
      return;
    case 'retry':
      s.reasoning = '';
      s.content = '';
      break;
    default:
      break;
  }
  const note = noteFor(ev);
  if (note) s.notes.push(note);
}

export class ChatStore {
  threads = $state<ThreadSummary[]>([]);
  current = $state<Thread | null>(null);
  streaming = $state<Streaming | null>(null);
  error = $state<string | null>(null);
  loaded = $state(false);

  async loadThreads(): Promise<void> {
    try {
      this.threads = await threadsList();
      this.error = null;
    } catch (e) {
      this.error = toApiError(e).message;
    } finally {
      this.loaded = true;
    }
  }

  async open(id: string): Promise<void> {
    try {
      this.current = await threadGet(id);
      this.error = null;
    } catch (e) {
      this.error = toApiError(e).message;
    }
  }

  /** Starts an empty thread (reuses the current one if it has no messages yet). */
  async newThread(): Promise<void> {
    if (this.current && this.current.messages.length === 0) return;
    try {
      this.current = await threadCreate();
      this.error = null;
      await this.loadThreads();
    } catch (e) {
      this.error = toApiError(e).message;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await threadDelete(id);
      this.threads = this.threads.filter((t) => t.id !== id);
      if (this.current?.id === id) this.current = null;
      await this.loadThreads();
    } catch (e) {
      this.error = toApiError(e).message;
    }
  }

  /** Sends a prompt in the current thread (creating one if needed) and streams the answer. */
  async send(prompt: string): Promise<void> {
    const text = prompt.trim();
    if (!text || this.streaming) return;
    if (!this.current) {
      try {
        this.current = await threadCreate();
      } catch (e) {
        this.error = toApiError(e).message;
        return;
      }
    }
    const threadId = this.current.id;
    this.current.messages.push(chatMessage('user', text));
    this.streaming = { threadId, reasoning: '', content: '', notes: [], stopping: false };
    try {
      const message = await chatSend(threadId, text, (ev) => {
        if (this.streaming?.threadId === threadId) applyChatEvent(this.streaming, ev);
      });
      if (this.current?.id === threadId) this.current.messages.push(message);
    } catch (e) {
      await this.settleFailure(threadId, e);
    } finally {
      this.streaming = null;
      await this.loadThreads();
    }
  }

  /** After a rejected send: show what was saved, else the partial answer with the error. */
  private async settleFailure(threadId: string, e: unknown): Promise<void> {
    const err = toApiError(e);
    const partial = this.streaming;
    try {
      const saved = await threadGet(threadId);
      if (this.current?.id === threadId) this.current = saved;
    } catch {
      // keep what is shown
    }
    if (this.current?.id !== threadId) return;
    const last = this.current.messages.at(-1);
    if (last && last.role === 'assistant') return;
    const cancelled = err.code === 'cancelled';
    this.current.messages.push(
      chatMessage('assistant', partial?.content ?? '', {
        reasoning: partial?.reasoning || null,
        stopped: cancelled,
        error: cancelled ? null : err.toJSON(),
      }),
    );
  }

  async stop(): Promise<void> {
    const s = this.streaming;
    if (!s || s.stopping) return;
    s.stopping = true;
    try {
      await chatStop(s.threadId);
    } catch (e) {
      s.stopping = false;
      this.error = toApiError(e).message;
    }
  }
}

export const chat = new ChatStore();

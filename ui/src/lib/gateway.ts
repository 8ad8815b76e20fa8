// Pure helpers of the "Local gateway" card (Keys → settings) and of the request log's "via".

import type { GatewaySession, KeyView } from '../api';
import { keyName } from './format';

/** The line that points OpenAI-compatible tools at the gateway (`token` masked for display). */
export function exportLine(baseUrl: string, token: string): string {
  return `export OPENAI_BASE_URL=${baseUrl} OPENAI_API_KEY=${token}`;
}

/** `none yet`, or each session with the key it holds: `nightly-3 (Work · sk-or-v1-…a1b2)`. */
export function sessionsText(sessions: GatewaySession[], keys: KeyView[]): string {
  if (sessions.length === 0) return 'none yet';
  const names = new Map(keys.map((k) => [k.id as string, k]));
  return sessions
    .map((s) => {
      const k = s.key_id ? names.get(s.key_id) : undefined;
      const key = k ? keyName(k) : s.key_id;
      return key ? `${s.id} (${key})` : s.id;
    })
    .join(', ');
}

/** `10 minutes`, `45 seconds`. */
export function idleText(secs: number): string {
  if (secs >= 60 && secs % 60 === 0) {
    const m = secs / 60;
    return `${m} minute${m === 1 ? '' : 's'}`;
  }
  return `${secs} second${secs === 1 ? '' : 's'}`;
}

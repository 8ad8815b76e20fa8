// Dev-only (`npm run dev` in a browser, over the fake backend): `#usage`, `#keys`, `#chat` open
// a view; `#ocr-demo` and `#chat-demo` also play a short scene; `#ocr-empty` etc. start with no
// keys. Used for screenshots.

import { app } from './lib/app.svelte';
import { chat } from './lib/chat.svelte';
import { ocr } from './lib/ocr.svelte';
import { VIEWS } from './lib/shortcuts';

function png(w: number): File {
  return new File([new Uint8Array(w)], `scan-${w}.png`, { type: 'image/png' });
}

export async function playDemo(hash: string): Promise<void> {
  const [view, scene] = hash.replace(/^#/, '').split('-');
  const v = VIEWS.find((x) => x.id === view);
  if (v) app.go(v.id);
  if (scene === 'help') app.helpOpen = true;
  if (scene === 'alert') {
    app.pushAlert({
      day: '2026-11-26',
      rule: 'near_cap',
      subject: 'k',
      at: new Date().toISOString(),
      message: 'Work (sk-or-v1-…13d1) has 5 requests left today; Keywheel moves to the next key after it.',
    });
  }
  if (scene !== 'demo') return;
  if (v?.id === 'ocr') {
    await ocr.stageFiles([png(120_000), png(300_000), png(90_000)]);
    await ocr.run([ocr.items[0].id, ocr.items[1].id]);
  }
  if (v?.id === 'chat') {
    await chat.send('How do I read the text of a screenshot?');
    void chat.send('And in bulk?');
  }
}

// Markdown → sanitized HTML. Model output is untrusted: everything goes through DOMPurify, and
// nothing in it may load remote content or navigate the app window.

import DOMPurify from 'dompurify';
import { Marked } from 'marked';

const marked = new Marked({ gfm: true, breaks: false, async: false });

const FORBID_TAGS = [
  'style',
  'link',
  'meta',
  'base',
  'form',
  'input',
  'button',
  'select',
  'textarea',
  'iframe',
  'frame',
  'object',
  'embed',
  'img',
  'picture',
  'video',
  'audio',
  'source',
  'svg',
  'math',
];

let hooked = false;

function ensureHooks(): void {
  if (hooked) return;
  hooked = true;
  // Links stay readable but inert: the Markdown component cancels clicks, and this keeps them
  // from carrying anything but http(s)/mailto targets.
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? '';
      if (!/^(https?:|mailto:)/i.test(href)) node.removeAttribute('href');
      else node.setAttribute('title', href);
      node.setAttribute('rel', 'noopener noreferrer');
      node.removeAttribute('target');
    }
  });
}

/** Renders Markdown to HTML that is safe to put in `{@html}`. */
export function renderMarkdown(md: string | null | undefined): string {
  if (!md) return '';
  ensureHooks();
  const html = marked.parse(md) as string;
  return DOMPurify.sanitize(html, {
    FORBID_TAGS,
    FORBID_ATTR: ['style', 'class', 'id', 'srcset', 'formaction'],
    ALLOW_DATA_ATTR: false,
  });
}

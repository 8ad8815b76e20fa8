import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../src/lib/markdown';

describe('renderMarkdown', () => {
  it('renders Markdown', () => {
    const html = renderMarkdown('# Title\n\n**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |');
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<table>');
  });

  it('strips scripts and event handlers', () => {
    const html = renderMarkdown('hi <script>alert(1)</script> <img src=x onerror="alert(2)"> <b onclick="x()">b</b>');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/onerror/i);
    expect(html).not.toMatch(/onclick/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).toContain('<b>b</b>');
  });

  it('keeps no javascript: links, styles or iframes', () => {
    const html = renderMarkdown(
      '[x](javascript:alert(1)) <a href="JaVaScRiPt:alert(1)">y</a> <iframe src="https://e.com"></iframe> <style>*{}</style> <p style="color:red">z</p>',
    );
    expect(html).not.toMatch(/javascript:/i);
    expect(html).not.toMatch(/<iframe/i);
    expect(html).not.toMatch(/<style/i);
    expect(html).not.toMatch(/style=/i);
  });

  it('keeps http links inert-ready (no target, rel noopener)', () => {
    const html = renderMarkdown('<a href="https://openrouter.ai" target="_blank">site</a>');
    expect(html).toContain('href="https://openrouter.ai"');
    expect(html).toContain('rel="noopener noreferrer"');
    expect(html).not.toContain('target=');
  });

  it('empty input renders nothing', () => {
    expect(renderMarkdown(null)).toBe('');
    expect(renderMarkdown('')).toBe('');
  });
});

// "Copy all": the texts of a batch joined as `keywheel ocr` prints several images — a
// `## name` heading per image, a blank line, the text, a blank line; one image alone is its
// text without a heading.

export type Read = { name: string; text: string | null | undefined };

/** The batch's texts joined as the CLI joins them (images without text are left out). */
export function joinTexts(items: Read[]): string {
  const read = items.filter((i): i is { name: string; text: string } => !!i.text && i.text.trim() !== '');
  if (read.length === 0) return '';
  if (read.length === 1) return `${read[0].text.trimEnd()}\n`;
  return read.map((i) => `## ${i.name}\n\n${i.text.trimEnd()}\n\n`).join('');
}

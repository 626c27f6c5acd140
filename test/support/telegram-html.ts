// A strict reading of Telegram's `parse_mode: "HTML"` (modelled on tdlib's parse_html).
// It is deliberately stricter than Telegram in one place: a bare `&` that does not start one of
// the supported entities is an error here (Telegram passes it through), so a test catches user
// text that reached a message without escaping.

export interface TgEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export interface ParsedHtml {
  /** Visible text, tags removed and entities decoded (what Telegram stores as `text`). */
  text: string;
  entities: TgEntity[];
}

export class HtmlParseError extends Error {
  constructor(readonly reason: string) {
    super(`can't parse entities: ${reason}`);
    this.name = 'HtmlParseError';
  }
}

const TAG_TYPES: Record<string, string> = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

interface Frame {
  tag: string;
  offset: number;
  entity: TgEntity | null;
  /** `<code class="language-x">` directly inside `<pre>`: the language goes onto the pre. */
  languageFor: Frame | null;
}

function byteOffset(s: string, index: number): number {
  return Buffer.byteLength(s.slice(0, index), 'utf8');
}

/** Decodes one entity at `i` (which holds `&`); returns [decoded, length] or null. */
function decodeEntityAt(s: string, i: number): [string, number] | null {
  const m = /^&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([a-zA-Z]+));/.exec(s.slice(i, i + 14));
  if (!m) return null;
  if (m[3] !== undefined) {
    const named = NAMED[m[3]];
    return named === undefined ? null : [named, m[0].length];
  }
  const cp = m[1] !== undefined ? Number.parseInt(m[1], 10) : Number.parseInt(m[2] ?? '', 16);
  if (!Number.isFinite(cp) || cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return [String.fromCodePoint(cp), m[0].length];
}

function decodeAttr(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    if (s[i] === '&') {
      const d = decodeEntityAt(s, i);
      if (d) {
        out += d[0];
        i += d[1];
        continue;
      }
    }
    out += s[i];
    i++;
  }
  return out;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t';
const isNameChar = (c: string | undefined): boolean => c !== undefined && /[a-zA-Z0-9_-]/.test(c);

export function parseTelegramHtml(html: string): ParsedHtml {
  let text = '';
  const entities: TgEntity[] = [];
  const stack: Frame[] = [];
  let i = 0;
  while (i < html.length) {
    const c = html[i];
    if (c === '&') {
      const d = decodeEntityAt(html, i);
      if (!d) {
        throw new HtmlParseError(
          `unescaped "&" or unsupported character entity at byte offset ${byteOffset(html, i)} ` +
            '(use &amp; &lt; &gt; &quot; or a numeric entity)',
        );
      }
      text += d[0];
      i += d[1];
      continue;
    }
    if (c !== '<') {
      text += c;
      i++;
      continue;
    }

    const start = i;
    if (html[i + 1] === '/') {
      let j = i + 2;
      while (isNameChar(html[j])) j++;
      const name = html.slice(i + 2, j).toLowerCase();
      while (isSpace(html[j])) j++;
      if (html[j] !== '>') {
        throw new HtmlParseError(`Unclosed end tag at byte offset ${byteOffset(html, start)}`);
      }
      const frame = stack.pop();
      if (!frame) {
        throw new HtmlParseError(`Unexpected end tag at byte offset ${byteOffset(html, start)}`);
      }
      if (frame.tag !== name) {
        throw new HtmlParseError(
          `Unmatched end tag at byte offset ${byteOffset(html, start)}, expected "</${frame.tag}>", found "</${name}>"`,
        );
      }
      const length = text.length - frame.offset;
      if (frame.languageFor) {
        const pre = frame.languageFor.entity;
        if (pre && frame.entity?.language) pre.language = frame.entity.language;
      } else if (frame.entity && length > 0) {
        entities.push({ ...frame.entity, offset: frame.offset, length });
      }
      i = j + 1;
      continue;
    }

    let j = i + 1;
    while (isNameChar(html[j])) j++;
    const name = html.slice(i + 1, j).toLowerCase();
    const type = TAG_TYPES[name];
    if (type === undefined) {
      throw new HtmlParseError(`Unsupported start tag "${name}" at byte offset ${byteOffset(html, start)}`);
    }
    const attrs = new Map<string, string>();
    for (;;) {
      while (isSpace(html[j])) j++;
      if (j >= html.length) {
        throw new HtmlParseError(`Unclosed start tag at byte offset ${byteOffset(html, start)}`);
      }
      if (html[j] === '>') break;
      const attrStart = j;
      while (isNameChar(html[j])) j++;
      const attrName = html.slice(attrStart, j).toLowerCase();
      if (attrName === '') {
        throw new HtmlParseError(`Expected attribute name at byte offset ${byteOffset(html, j)}`);
      }
      while (isSpace(html[j])) j++;
      if (html[j] !== '=') {
        attrs.set(attrName, '');
        continue;
      }
      j++;
      while (isSpace(html[j])) j++;
      const q = html[j];
      let value: string;
      if (q === '"' || q === "'") {
        const end = html.indexOf(q, j + 1);
        if (end < 0) throw new HtmlParseError(`Unclosed start tag at byte offset ${byteOffset(html, start)}`);
        value = html.slice(j + 1, end);
        j = end + 1;
      } else {
        const vs = j;
        while (j < html.length && !isSpace(html[j]) && html[j] !== '>') j++;
        value = html.slice(vs, j);
      }
      attrs.set(attrName, decodeAttr(value));
    }
    i = j + 1;

    let entity: TgEntity | null = { type, offset: 0, length: 0 };
    let languageFor: Frame | null = null;
    if (name === 'a') {
      const href = attrs.get('href');
      entity = href ? { type, offset: 0, length: 0, url: href } : null;
    } else if (name === 'span') {
      if (attrs.get('class') !== 'tg-spoiler') {
        throw new HtmlParseError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(html, start)}`);
      }
    } else if (name === 'tg-emoji') {
      const id = attrs.get('emoji-id');
      if (!id || !/^\d+$/.test(id)) {
        throw new HtmlParseError(`Custom emoji entity must contain a valid custom emoji identifier`);
      }
      entity = { type, offset: 0, length: 0, custom_emoji_id: id };
    } else if (name === 'blockquote') {
      if (attrs.has('expandable')) entity = { type: 'expandable_blockquote', offset: 0, length: 0 };
    } else if (name === 'code') {
      const parent = stack.at(-1);
      const cls = attrs.get('class');
      if (parent?.tag === 'pre' && parent.offset === text.length && cls?.startsWith('language-')) {
        entity = { type, offset: 0, length: 0, language: cls.slice('language-'.length) };
        languageFor = parent;
      }
    }
    stack.push({ tag: name, offset: text.length, entity, languageFor });
  }
  const open = stack.at(-1);
  if (open) throw new HtmlParseError(`Can't find end tag corresponding to start tag "${open.tag}"`);
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
  return { text, entities };
}

/** Escapes text for `parse_mode: "HTML"` (what the bot under test should be doing). */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

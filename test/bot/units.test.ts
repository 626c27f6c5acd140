import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cb, codec } from '../../src/bot/callback-data.js';
import { escapeHtml, formatBytes, formatTime } from '../../src/bot/format.js';
import { negotiateLocale, Translator } from '../../src/bot/i18n.js';

describe('callback data codecs', () => {
  it('round-trips and rejects anything malformed or foreign', () => {
    expect(cb.approve.pack({ userId: 123 })).toBe('apr:123');
    expect(cb.approve.unpack('apr:123')).toEqual({ userId: 123 });
    expect(cb.captcha.unpack(cb.captcha.pack({ nonce: 'Ab_9-x', answer: 12 }))).toEqual({ nonce: 'Ab_9-x', answer: 12 });
    for (const bad of ['apr:', 'apr:12x', 'apr:1:2', 'rej:1', 'apr', undefined, 'apr:1e3', "apr:1' OR 1=1"]) {
      expect(cb.approve.unpack(bad)).toBeNull();
    }
    expect(cb.captcha.unpack('cap:no/slash:1')).toBeNull();
    expect(cb.approve.filter.test('apr:1')).toBe(true);
    expect(cb.approve.filter.test('aprx:1')).toBe(false);
  });

  it('refuses to pack more than Telegram\'s 64 bytes', () => {
    const wide = codec('x', { a: 'id', b: 'id' });
    expect(() => wide.pack({ a: 'a'.repeat(32), b: 'b'.repeat(32) })).toThrow(/64 bytes/);
    expect(Buffer.byteLength(cb.users.pack({ page: 2 ** 52, sort: 2 }))).toBeLessThanOrEqual(64);
  });
});

describe('translations', () => {
  const t = new Translator();
  // Each locale is a folder of .ftl files (one per feature); all of them together.
  const ids = (locale: string) =>
    fs
      .readdirSync(path.resolve('locales', locale))
      .filter((f) => f.endsWith('.ftl'))
      .map((f) => fs.readFileSync(path.resolve('locales', locale, f), 'utf8'))
      .join('\n')
      .split('\n')
      .filter((l) => /^[a-z][a-z0-9-]* =/.test(l))
      .map((l) => l.split(' ')[0])
      .sort();

  it('every message is well formed: no entry swallowed by the one before it', () => {
    for (const locale of ['en', 'ru']) {
      for (const f of fs.readdirSync(path.resolve('locales', locale))) {
        const text = fs.readFileSync(path.resolve('locales', locale, f), 'utf8');
        expect(text, `${locale}/${f}`).not.toMatch(/[^\w\s-][a-z][a-z0-9-]* =\s*$/m);
      }
    }
  });

  it('ru and en define the same messages', () => {
    expect(ids('ru')).toEqual(ids('en'));
    expect(ids('en').length).toBeGreaterThan(50);
  });

  it('escapes every parameter and keeps ids unformatted', () => {
    const text = t.t('en', 'approval-request', { name: '<i>&amp;', username: '@x', id: 1234567890 });
    expect(text).toContain('Name: &lt;i&gt;&amp;amp;');
    expect(text).toContain('<code>1234567890</code>');
    expect(text).not.toMatch(/[\u2068\u2069]/); // no Fluent bidi isolation marks
  });

  it('picks the user language, English otherwise', () => {
    expect(negotiateLocale('ru')).toBe('ru');
    expect(negotiateLocale('ru-RU')).toBe('ru');
    expect(negotiateLocale('de')).toBe('en');
    expect(negotiateLocale(undefined)).toBe('en');
  });
});

describe('formatting', () => {
  it('formats byte counts and escapes HTML', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.00 GiB');
    expect(formatBytes(123 * 1024 ** 2)).toBe('123 MiB');
    expect(escapeHtml('<a href="x">&</a>')).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  });
});

describe('locale formatting', () => {
  it('bytes keep KiB/MiB/GiB with the locale decimal separator; times are UTC in the locale style', () => {
    expect(formatBytes(5 * 1024 ** 2 + 1024 ** 2 / 2, 'ru')).toBe('5,50 MiB');
    expect(formatBytes(5 * 1024 ** 2 + 1024 ** 2 / 2, 'en')).toBe('5.50 MiB');
    const t = Date.UTC(2026, 8, 21, 10, 7);
    expect(formatTime(t, 'en')).toBe('2026-09-21 10:07 UTC');
    expect(formatTime(t, 'ru')).toBe('21.09.2026, 10:07 UTC');
  });
});

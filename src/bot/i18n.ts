import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FluentBundle, FluentResource } from '@fluent/bundle';
import { escapeHtml } from './format.js';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

// Same relative path from src/bot and dist/bot.
const LOCALES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../locales');

export type Params = Record<string, string | number | null | undefined>;

/**
 * Fluent translations for HTML messages: one bundle per locale, from all the .ftl files of its
 * folder; a message missing in a locale comes from DEFAULT_LOCALE. Every parameter is turned into
 * an escaped string here, once, so no call site can forget: user names and config values may
 * contain `<`, `>` and `&`. (Strings also keep Fluent from formatting ids as 1,234,567.)
 */
export class Translator {
  private readonly bundles = new Map<string, FluentBundle>();

  constructor(dir = LOCALES_DIR) {
    for (const locale of LOCALES) {
      const folder = path.join(dir, locale);
      const files = fs.readdirSync(folder).filter((f) => f.endsWith('.ftl')).sort();
      const bundle = new FluentBundle(locale, { useIsolating: false });
      const errors = bundle.addResource(new FluentResource(files.map((f) => fs.readFileSync(path.join(folder, f), 'utf8')).join('\n')));
      if (errors.length) throw new Error(`${folder}: ${errors.map((e) => e.message).join('; ')}`);
      this.bundles.set(locale, bundle);
    }
  }

  t(locale: string, key: string, params: Params = {}): string {
    const vars: Record<string, string> = {};
    for (const k in params) {
      const v = params[k];
      vars[k] = escapeHtml(v == null ? '' : String(v));
    }
    return this.format(locale, key, vars);
  }

  /** Text that is already HTML (built from escaped parts) goes in unescaped. */
  tRaw(locale: string, key: string, params: Record<string, string>): string {
    return this.format(locale, key, params);
  }

  private format(locale: string, key: string, vars: Record<string, string>): string {
    for (const bundle of [this.bundles.get(locale), this.bundles.get(DEFAULT_LOCALE)]) {
      const message = bundle?.getMessage(key);
      if (message) return message.value ? bundle!.formatPattern(message.value, vars) : '';
    }
    return `{${key}}`;
  }
}

export function negotiateLocale(languageCode: string | undefined): Locale {
  const base = languageCode?.toLowerCase().split('-')[0];
  return (LOCALES as readonly string[]).includes(base ?? '') ? (base as Locale) : DEFAULT_LOCALE;
}

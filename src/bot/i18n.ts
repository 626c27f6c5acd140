import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { I18n } from '@grammyjs/i18n';
import { escapeHtml } from './format.js';

export const LOCALES = ['en', 'ru'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'en';

// Same relative path from src/bot and dist/bot.
const LOCALES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../locales');

export type Params = Record<string, string | number | null | undefined>;

/**
 * Fluent translations for HTML messages. Every parameter is turned into an escaped
 * string here, once, so no call site can forget: user names and config values may
 * contain `<`, `>` and `&`. (Strings also keep Fluent from formatting ids as 1,234,567.)
 */
export class Translator {
  private readonly i18n: I18n;

  constructor(dir = LOCALES_DIR) {
    this.i18n = new I18n({ defaultLocale: DEFAULT_LOCALE, fluentBundleOptions: { useIsolating: false } });
    this.i18n.loadLocalesDirSync(dir);
  }

  t(locale: string, key: string, params: Params = {}): string {
    const vars = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, escapeHtml(v == null ? '' : String(v))]));
    return this.i18n.t(locale, key, vars);
  }

  /** Text that is already HTML (built from escaped parts) goes in unescaped. */
  tRaw(locale: string, key: string, params: Record<string, string>): string {
    return this.i18n.t(locale, key, params);
  }
}

export function negotiateLocale(languageCode: string | undefined): Locale {
  const base = languageCode?.toLowerCase().split('-')[0];
  return (LOCALES as readonly string[]).includes(base ?? '') ? (base as Locale) : DEFAULT_LOCALE;
}

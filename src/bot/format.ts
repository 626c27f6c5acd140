export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** KiB/MiB/GiB in every language; the decimal separator follows the locale (5.00 / 5,00). */
export function formatBytes(n: number, locale = 'en'): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  const number = new Intl.NumberFormat(locale, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false }).format(v);
  return `${number} ${UNITS[i]}`;
}

/** UTC, minute precision, the same for every admin whatever their clock: 2026-09-21 10:00 UTC, or 21.09.2026, 10:00 UTC. */
export function formatTime(ms: number, locale = 'en'): string {
  if (locale === 'en') return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `${new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short', timeZone: 'UTC' }).format(ms)} UTC`;
}

export function fullName(u: { first_name: string; last_name?: string | null | undefined }): string {
  return [u.first_name, u.last_name].filter(Boolean).join(' ');
}

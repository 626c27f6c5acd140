// Server-side traffic chart: a hand-built SVG rasterized to PNG by resvg (no browser,
// no system fonts). The font ships in an npm package and is loaded explicitly, so the
// output is byte-identical on every machine, with Latin and Cyrillic glyphs.
import { createRequire } from 'node:module';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { formatBytes } from './format.js';

export interface DayTraffic {
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** Bytes, from the user's side. */
  upload: number;
  download: number;
}

export interface ChartLabels {
  title: string;
  upload: string;
  download: string;
  noData: string;
}

const req = createRequire(import.meta.url);
/** The rasterizer (a native module), loaded for the first chart: most runs never draw one. */
const resvg = (): typeof import('@resvg/resvg-js') => req('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
/** PT Sans (ParaType, SIL OFL 1.1): designed for Latin + Cyrillic. */
export const FONT_FAMILY = 'PT Sans';
export const FONT_FILES = [
  req.resolve('@expo-google-fonts/pt-sans/400Regular/PTSans_400Regular.ttf'),
  req.resolve('@expo-google-fonts/pt-sans/700Bold/PTSans_700Bold.ttf'),
];
const RESVG: ResvgRenderOptions = {
  font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: FONT_FAMILY },
  logLevel: 'off',
};

const UPLOAD_COLOR = '#f08c00';
const DOWNLOAD_COLOR = '#1c7ed6';
const TEXT_COLOR = '#212529';
const MUTED_COLOR = '#495057';
const GRID_COLOR = '#e9ecef';
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Y-axis scale: a round step in the unit of the maximum (1, 2, 2.5 or 5 × 10ⁿ), 4–6 ticks. */
export function niceScale(max: number): { top: number; ticks: { value: number; label: string }[] } {
  let unit = 0;
  while (max >= 1024 ** (unit + 1) && unit < UNITS.length - 1) unit++;
  const base = 1024 ** unit;
  const m = max / base;
  const raw = m / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  let step = ([1, 2, 2.5, 5, 10].find((f) => f * pow >= raw) ?? 10) * pow;
  if (unit === 0) step = Math.max(1, Math.ceil(step));
  const count = Math.max(1, Math.ceil(m / step - 1e-9));
  const ticks = Array.from({ length: count + 1 }, (_, i) => {
    const v = Number((i * step).toFixed(6));
    return { value: v * base, label: i === 0 ? '0' : `${v} ${UNITS[unit]}` };
  });
  return { top: count * step * base, ticks };
}

/** Cut a label to about maxChars characters (code points, so Cyrillic/emoji stay whole). */
function clip(s: string, maxChars: number): string {
  const chars = Array.from(s);
  return chars.length <= maxChars ? s : `${chars.slice(0, Math.max(1, maxChars - 1)).join('')}…`;
}

const f1 = (n: number): string => n.toFixed(1);

/** Drawn width of a line of text, measured by laying it out with the same font. */
function textWidth(s: string, fontSize: number): number {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text x="0" y="50" font-family="${FONT_FAMILY}" font-size="${fontSize}">${escapeXml(s)}</text></svg>`;
  return new (resvg().Resvg)(svg, RESVG).getBBox()?.width ?? 0;
}

export function buildTrafficSvg(
  input: DayTraffic[],
  labels: ChartLabels,
  width = 1000,
  height = 500,
): string {
  const bytes = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);
  const days = input.map((d) => ({ day: d.day, upload: bytes(d.upload), download: bytes(d.download) }));
  const left = 84;
  const right = 24;
  const top = 92;
  const bottom = height - 42;
  const plotW = width - left - right;
  const plotH = bottom - top;
  const out: string[] = [];
  const text = (x: number, y: number, s: string, attrs = ''): void => {
    out.push(`<text x="${f1(x)}" y="${f1(y)}" ${attrs}>${escapeXml(s)}</text>`);
  };

  text(width / 2, 34, clip(labels.title, Math.floor(width / 13)), 'font-size="24" font-weight="bold" text-anchor="middle"');

  // Legend: colour swatch + "label (total)" per series, centred as a whole.
  const items = [
    { color: DOWNLOAD_COLOR, label: labels.download, total: days.reduce((s, d) => s + d.download, 0) },
    { color: UPLOAD_COLOR, label: labels.upload, total: days.reduce((s, d) => s + d.upload, 0) },
  ].map((it) => {
    const str = `${clip(it.label, 40)} (${formatBytes(it.total)})`;
    return { ...it, str, w: 22 + textWidth(str, 18) };
  });
  let lx = (width - items.reduce((s, it) => s + it.w, 0) - 32 * (items.length - 1)) / 2;
  for (const it of items) {
    out.push(`<rect x="${f1(lx)}" y="54" width="15" height="15" rx="2" fill="${it.color}"/>`);
    text(lx + 22, 68, it.str, `font-size="18" fill="${MUTED_COLOR}"`);
    lx += it.w + 32;
  }

  const max = days.reduce((m, d) => Math.max(m, d.upload, d.download), 0);
  if (max <= 0) {
    out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="${GRID_COLOR}" stroke-width="2"/>`);
    text(left + plotW / 2, top + plotH / 2 + 8, labels.noData, `font-size="22" text-anchor="middle" fill="${MUTED_COLOR}"`);
  } else {
    const scale = niceScale(max);
    const y = (v: number): number => bottom - (v / scale.top) * plotH;
    for (const t of scale.ticks) {
      out.push(`<line x1="${left}" x2="${width - right}" y1="${f1(y(t.value))}" y2="${f1(y(t.value))}" stroke="${GRID_COLOR}"/>`);
      text(left - 10, y(t.value) + 5, t.label, 'font-size="16" text-anchor="end"');
    }
    const slot = plotW / days.length;
    const bar = Math.max(1, (slot * 0.8) / 2);
    const labelEvery = Math.max(Math.ceil(days.length / 7), Math.ceil(48 / slot));
    days.forEach((d, i) => {
      const x0 = left + i * slot + (slot - 2 * bar) / 2;
      for (const [k, v, color] of [[0, d.download, DOWNLOAD_COLOR], [1, d.upload, UPLOAD_COLOR]] as const) {
        if (v <= 0) continue;
        const h = Math.max(1, bottom - y(v)); // a used day never disappears
        out.push(`<rect x="${f1(x0 + k * bar)}" y="${f1(bottom - h)}" width="${f1(bar)}" height="${f1(h)}" fill="${color}"/>`);
      }
      // Label from the newest day backwards so "today" is always labelled.
      if ((days.length - 1 - i) % labelEvery === 0) {
        const cx = left + (i + 0.5) * slot;
        out.push(`<line x1="${f1(cx)}" x2="${f1(cx)}" y1="${bottom}" y2="${bottom + 5}" stroke="${MUTED_COLOR}"/>`);
        const [, mm = '', dd = ''] = d.day.split('-');
        text(cx, bottom + 24, `${dd}.${mm}`, 'font-size="16" text-anchor="middle"');
      }
    });
    out.push(`<line x1="${left}" x2="${width - right}" y1="${bottom}" y2="${bottom}" stroke="${MUTED_COLOR}"/>`);
  }

  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${FONT_FAMILY}" fill="${TEXT_COLOR}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>${out.join('')}</svg>`
  );
}

/** PNG of upload/download per day; `days` are exactly the days shown, oldest first. */
export async function renderTrafficChart(
  days: DayTraffic[],
  labels: ChartLabels,
  opts: { width?: number; height?: number } = {},
): Promise<Buffer> {
  const { width = 1000, height = 500 } = opts;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 300 && height >= 200 && width * height <= 2 ** 24)) {
    throw new RangeError(`bad chart size ${width}x${height}`);
  }
  const svg = buildTrafficSvg(days, labels, width, height);
  return (await resvg().renderAsync(svg, RESVG)).asPng();
}

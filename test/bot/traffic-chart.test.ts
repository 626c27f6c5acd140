import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildTrafficSvg,
  FONT_FILES,
  niceScale,
  renderTrafficChart,
  type ChartLabels,
  type DayTraffic,
} from '../../src/bot/traffic-chart.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const LABELS: ChartLabels = { title: 'Traffic: Olga', upload: 'Upload', download: 'Download', noData: 'No data' };
const EMPTY: ChartLabels = { title: '', upload: '', download: '', noData: '' };

/** 30 days ending 2025-06-18, deterministic pseudo-random traffic with a few idle days. */
function month(): DayTraffic[] {
  return Array.from({ length: 30 }, (_, i) => ({
    day: new Date(Date.UTC(2025, 4, 20 + i)).toISOString().slice(0, 10),
    upload: i % 7 === 3 ? 0 : ((i * 37) % 11) * 25 * MiB,
    download: i % 7 === 3 ? 0 : (((i * 53) % 17) / 8) * GiB,
  }));
}

function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('renderTrafficChart', () => {
  it('ships a font file that resolves and exists', () => {
    expect(FONT_FILES.length).toBeGreaterThan(0);
    for (const f of FONT_FILES) {
      expect(f).toMatch(/\.ttf$/);
      expect(fs.statSync(f).size).toBeGreaterThan(10_000);
    }
  });

  it('renders a PNG of the default size 1000x500', async () => {
    expect(pngSize(await renderTrafficChart(month(), LABELS))).toEqual({ width: 1000, height: 500 });
  });

  it('renders a PNG of a custom size', async () => {
    expect(pngSize(await renderTrafficChart(month(), LABELS, { width: 640, height: 360 }))).toEqual({ width: 640, height: 360 });
  });

  it('rejects a nonsensical size', async () => {
    await expect(renderTrafficChart(month(), LABELS, { width: 0 })).rejects.toThrow(RangeError);
    await expect(renderTrafficChart(month(), LABELS, { height: 10.5 })).rejects.toThrow(RangeError);
  });

  it('renders zero days and all-zero data with the noData label', async () => {
    const zeros = month().map((d) => ({ ...d, upload: 0, download: 0 }));
    for (const days of [[], zeros]) {
      expect(buildTrafficSvg(days, LABELS)).toContain('>No data<');
      expect(pngSize(await renderTrafficChart(days, LABELS))).toEqual({ width: 1000, height: 500 });
    }
    expect(buildTrafficSvg(month(), LABELS)).not.toContain('No data');
  });

  it('survives bad numbers (negative, NaN, Infinity) as zero', async () => {
    const days = [
      { day: '2025-06-01', upload: -5, download: Number.NaN },
      { day: '2025-06-02', upload: Number.POSITIVE_INFINITY, download: 3 * MiB },
    ];
    expect(pngSize(await renderTrafficChart(days, LABELS)).width).toBe(1000);
  });

  it('escapes markup in every label and renders Cyrillic', async () => {
    const evil: ChartLabels = {
      title: `Трафик: Андрей <script>&amp; "q" 'a'</script>`,
      upload: 'Отдано <b>',
      download: 'Получено &',
      noData: 'Нет данных <x/>',
    };
    const svg = buildTrafficSvg(month(), evil);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<b>');
    expect(svg).toContain('&#60;script&#62;&#38;amp; &#34;q&#34; &#39;a&#39;');
    expect(pngSize(await renderTrafficChart(month(), evil)).width).toBe(1000);
    expect(pngSize(await renderTrafficChart([], evil)).width).toBe(1000);
  });

  it('is deterministic', async () => {
    const a = await renderTrafficChart(month(), LABELS);
    const b = await renderTrafficChart(month(), LABELS);
    expect(a.equals(b)).toBe(true);
  });

  it('actually draws text (the font loads, Latin and Cyrillic)', async () => {
    // Without a usable font resvg silently draws no glyphs, so these pairs would be identical.
    const none = await renderTrafficChart(month(), EMPTY);
    expect((await renderTrafficChart(month(), LABELS)).equals(none)).toBe(false);
    const cyr = await renderTrafficChart(month(), { ...EMPTY, title: 'Трафик за месяц' });
    expect(cyr.equals(none)).toBe(false);
  });

  it('labels the x axis as DD.MM, newest day included', () => {
    const svg = buildTrafficSvg(month(), LABELS);
    expect(svg).toContain('>18.06<');
    expect(svg).toContain('>13.06<');
    expect(svg).not.toContain('>17.06<');
  });
});

describe('niceScale', () => {
  it('picks round steps in the unit of the maximum', () => {
    expect(niceScale(3.7 * GiB).ticks.map((t) => t.label)).toEqual(['0', '1 GiB', '2 GiB', '3 GiB', '4 GiB']);
    expect(niceScale(1.1 * GiB).ticks.map((t) => t.label)).toEqual([
      '0', '0.25 GiB', '0.5 GiB', '0.75 GiB', '1 GiB', '1.25 GiB',
    ]);
    expect(niceScale(700 * MiB).ticks.map((t) => t.label)).toEqual([
      '0', '200 MiB', '400 MiB', '600 MiB', '800 MiB',
    ]);
    expect(niceScale(1).ticks.map((t) => t.label)).toEqual(['0', '1 B']);
    expect(niceScale(3).ticks.map((t) => t.label)).toEqual(['0', '1 B', '2 B', '3 B']);
  });

  it('always covers the maximum', () => {
    for (const max of [1, 7, 999, 1024, 5000, 123456789, 1.5 * GiB, 9.99 * GiB, 2 ** 50 * 3]) {
      const s = niceScale(max);
      expect(s.top).toBeGreaterThanOrEqual(max);
      expect(s.ticks.length).toBeGreaterThanOrEqual(2);
      expect(s.ticks.length).toBeLessThanOrEqual(11);
      expect(s.ticks.at(-1)?.value).toBe(s.top);
    }
  });
});

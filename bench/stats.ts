// The pure part of the benchmark: statistics, the targets, and the table. No I/O here, so the
// test in test/bench keeps it compiling and correct.

/** The q-quantile (0..1) of the samples, linearly interpolated between the closest ranks. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error('quantile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
}

export function summarize(samples: readonly number[]): Summary {
  return { n: samples.length, p50: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
}

/** Milliseconds as people read them: 0.42 ms, 4.2 ms, 42 ms, 4.20 s. */
export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtSummary(s: Summary): string {
  return `${fmtMs(s.p50)} / ${fmtMs(s.p95)}`;
}

export function fmtRatio(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}×`;
}

/** One line of the results table. */
export interface Row {
  measurement: string;
  /** Size, variant. */
  case: string;
  /** Our number (p50 / p95 where asked). */
  value: string;
  /** The comparison on the same machine, in the same run. */
  reference?: string;
  ratio?: string;
  target?: string;
  /** Set when the row carries a target. */
  met?: boolean;
}

export function renderTable(rows: readonly Row[]): string {
  const head = ['measurement', 'case', 'ours', 'reference', 'ratio', 'target', 'verdict'];
  const lines = rows.map((r) => [r.measurement, r.case, r.value, r.reference ?? '', r.ratio ?? '', r.target ?? '', r.met === undefined ? '' : r.met ? 'met' : '**MISSED**']);
  const cell = (s: string) => s.replaceAll('|', '\\|');
  return [head, head.map(() => '---'), ...lines].map((l) => `| ${l.map(cell).join(' | ')} |`).join('\n');
}

// ---------------------------------------------------------------- targets (issue 8)

/** Peer change: p50 at the largest size ≤ 1.5× p50 at the smallest. */
export const flatEnough = (p50Smallest: number, p50Largest: number): boolean => p50Largest <= 1.5 * p50Smallest;
/** Peer change: regenerate + syncconf takes ≥ 10× as long as our change at the largest size. */
export const tenTimesFaster = (ours: number, reference: number): boolean => reference >= 10 * ours;
/** Monitor tick ≤ 2× the bare dump call. */
export const tickCheap = (tick: number, bareDump: number): boolean => tick <= 2 * bareDump;
/** Bot throughput ≥ 50 % of the bare bot's rate. */
export const halfTheBareRate = (ours: number, bare: number): boolean => ours >= 0.5 * bare;
export const RSS_LIMIT_MB = 150;
export const STARTUP_LIMIT_MS = 3000;
/** Broadcast time ≤ 1.15× the ceiling of `users` messages at `perSecond`. */
export const broadcastCeilingMs = (users: number, perSecond: number): number => (users / perSecond) * 1000;
export const nearCeiling = (ms: number, users: number, perSecond: number): boolean => ms <= 1.15 * broadcastCeilingMs(users, perSecond);

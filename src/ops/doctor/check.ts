import type { Config } from '../../config.js';
import type { DoctorEnv } from './host.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  /** Extra lines printed under the check (e.g. each configuration problem). */
  more?: string[];
}

export interface DoctorReport {
  ok: boolean;
  results: CheckResult[];
  lines: string[];
}

/** A check that needs a valid configuration; several results when it covers several things (the bot token and each admin). */
export type Check = (denv: DoctorEnv, config: Config) => Promise<CheckResult | CheckResult[]>;

export const pass = (name: string, detail: string): CheckResult => ({ name, status: 'pass', detail });
export const warn = (name: string, detail: string): CheckResult => ({ name, status: 'warn', detail });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: 'fail', detail, fix });
export const skip = (name: string, reason: string): CheckResult => ({ name, status: 'skip', detail: reason });

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
export const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

// One line per check (plus its `more` lines, indented):
//   ✔ name — detail                  passed
//   ! name — detail                  warning: worth knowing, but the bot handles it (does not fail)
//   ✘ name — problem. Fix: how       failed
//   - name — skipped (reason)        not checked because an earlier check failed (counts as failed)
export function formatResult(r: CheckResult): string[] {
  const mark = { pass: '✔', warn: '!', fail: '✘', skip: '-' }[r.status];
  const detail = r.status === 'skip' ? `skipped (${r.detail})` : r.detail;
  const line = `${mark} ${r.name} — ${detail}${r.fix ? `. Fix: ${r.fix}` : ''}`;
  return [line, ...(r.more ?? []).map((m) => `    ${m}`)];
}

// npm run bench [-- --quick] — see bench/options.ts for the flags and BENCHMARKS.md for results.
//
// The outer process (root namespace) makes a lab (network namespaces with unique names, see
// test/support/netns.ts), runs this same file inside its server namespace, and always removes
// the lab afterwards (also on Ctrl-C). Inside, every interface is a real wireguard-go one and
// every interface name carries the lab's suffix.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { NetnsLab, realPartsAvailable, run } from '../test/support/netns.js';
import { broadcast, broadcastRows } from './broadcast.js';
import { burst, burstRows } from './burst.js';
import { startup, startupRows, throughput, throughputRows } from './bot.js';
import { Lab, type LabInfo, mkdirPrivate } from './lab.js';
import { monitorRows, monitorTicks } from './monitor-tick.js';
import { type BenchOptions, type Phase, PHASES, parseOptions, USAGE } from './options.js';
import { peerChange, type PeerChangeResult, peerChangeRows } from './peer-change.js';
import { replicasRows, replicasThroughput } from './replicas.js';
import { renderTable, type Row } from './stats.js';

const SELF = fileURLToPath(import.meta.url);

async function outer(argv: string[], opts: BenchOptions): Promise<number> {
  const parts = await realPartsAvailable();
  if (!parts.ok) {
    console.error(`npm run bench needs: ${parts.missing.join(', ')}`);
    return 2;
  }
  const lab = await NetnsLab.create();
  let child: ReturnType<typeof spawn> | undefined;
  const stop = () => {
    child?.kill('SIGTERM');
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (opts.profileDir) await mkdirPrivate(opts.profileDir);
    const info: LabInfo = { suffix: lab.suffix, dir: lab.tmpDir };
    const prof = opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
    child = spawn('ip', ['netns', 'exec', lab.serverNs, process.execPath, '--import', 'tsx', ...prof, SELF, ...argv], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_LAB: JSON.stringify(info), WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    return await new Promise<number>((resolve) => child!.once('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1))));
  } finally {
    await lab.cleanup();
  }
}

async function machine(): Promise<string> {
  const version = async (argv: string[]) => (await run(argv).catch((e: Error) => ({ stdout: e.message }))).stdout.split('\n')[0]!.trim();
  const cpu = os.cpus();
  return [
    `CPU: ${cpu[0]?.model ?? '?'}, ${cpu.length} cores; RAM ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node ${process.version}; ${await version(['wireguard-go', '--version'])}; ${await version(['wg', '--version'])}; kernel ${os.release()}`,
  ].join('\n');
}

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function inner(opts: BenchOptions, info: LabInfo): Promise<number> {
  const lab = new Lab(info);
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  const loadBefore = load();
  const started = Date.now();
  console.error(`bench${opts.quick ? ' --quick' : ''}: ${opts.phases.join(', ')}; load average ${loadBefore}`);
  const phases: Record<Phase, () => Promise<[unknown, Row[]]>> = {
    peer: () => peerChange(lab, opts.peerSizes, opts.peerSamples, opts.baselineSamples).then((r) => [r, peerChangeRows(r)]),
    monitor: () => monitorTicks(lab, opts.monitorSizes, opts.monitorSamples).then((r) => [r, monitorRows(r)]),
    bot: () => throughput(lab, { users: opts.startUsers, dbUsers: opts.dbUsers, rounds: opts.rounds, profileDir: opts.profileDir }).then((r) => [r, throughputRows(r)]),
    startup: () => startup(lab, opts.startupPeers, opts.profileDir).then((r) => [r, startupRows(r)]),
    broadcast: () => broadcast(lab, opts.broadcastUsers, opts.floodLimit).then((r) => [r, broadcastRows(r)]),
    burst: () =>
      burst(lab, { approvals: opts.approvals, newcomers: opts.burstNewcomers, members: opts.members, profileDir: opts.profileDir }).then((r) => [
        r,
        burstRows(r, (results.peer as PeerChangeResult[] | undefined)?.[0]?.ours.p50),
      ]),
    replicas: () => replicasThroughput(lab, { newcomers: opts.replicaNewcomers, members: opts.members, rounds: opts.rounds, profileDir: opts.profileDir }).then((r) => [r, replicasRows(r)]),
  };
  for (const phase of PHASES.filter((p) => opts.phases.includes(p))) {
    const [result, phaseRows] = await phases[phase]();
    results[phase] = result;
    rows.push(...phaseRows);
  }
  const header = `${await machine()}\nLoad average (1/5/15 min): ${loadBefore} at the start, ${load()} at the end; ${((Date.now() - started) / 1000).toFixed(0)} s`;
  console.log(`\n${header}\n\n${renderTable(rows)}\n`);
  if (opts.json) await fs.writeFile(opts.json, JSON.stringify({ header, options: opts, results, rows }, null, 2));
  return rows.some((r) => r.met === false) ? 1 : 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help')) {
    console.log(USAGE);
    return 0;
  }
  let opts: BenchOptions;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const lab = process.env.BENCH_LAB;
  return lab ? inner(opts, JSON.parse(lab) as LabInfo) : outer(argv, opts);
}

process.exit(await main());

import { parseArgs } from 'node:util';

export const PHASES = ['peer', 'monitor', 'bot', 'startup', 'broadcast', 'burst', 'replicas'] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  phases: Phase[];
  /** Existing peers for the peer-change measurement. */
  peerSizes: number[];
  /** Approvals timed per size (ours), and regenerate+syncconf changes timed per size. */
  peerSamples: number;
  baselineSamples: number;
  monitorSizes: number[];
  monitorSamples: number;
  /** New users sending /start per round, users already in the bot's database, rounds per bot. */
  startUsers: number;
  dbUsers: number;
  rounds: number;
  startupPeers: number;
  broadcastUsers: number;
  /** Burst: approvals one by one, newcomers at once, members already in the database. */
  approvals: number;
  burstNewcomers: number;
  members: number;
  /** Replicas: newcomers per round through nginx to one replica and to two. */
  replicaNewcomers: number;
  /** The stand-in's flood limit for the broadcast. */
  floodLimit: number;
  /** Directory for `node --cpu-prof` profiles of the bench and the bot processes. */
  profileDir: string | null;
  /** Where the results go as JSON too. */
  json: string | null;
  quick: boolean;
}

const FULL = {
  peerSizes: [10, 1000, 5000],
  peerSamples: 100,
  baselineSamples: 20,
  monitorSizes: [1000, 5000, 10_000],
  monitorSamples: 10,
  startUsers: 1000,
  dbUsers: 10_000,
  rounds: 3,
  startupPeers: 5000,
  broadcastUsers: 1000,
  approvals: 150,
  burstNewcomers: 1000,
  members: 1000,
  replicaNewcomers: 1000,
};

/** Small sizes: the whole run in under two minutes. */
const QUICK: typeof FULL = {
  peerSizes: [10, 300],
  peerSamples: 20,
  baselineSamples: 5,
  monitorSizes: [300, 1000],
  monitorSamples: 5,
  startUsers: 100,
  dbUsers: 1000,
  rounds: 1,
  startupPeers: 1000,
  broadcastUsers: 150,
  approvals: 40,
  burstNewcomers: 200,
  members: 200,
  replicaNewcomers: 200,
};

export const USAGE = `npm run bench -- [--quick] [--only ${PHASES.join(',')}]
  [--peer-sizes 10,1000,5000] [--peer-samples 100] [--baseline-samples 20]
  [--monitor-sizes 1000,5000,10000] [--monitor-samples 10]
  [--start-users 1000] [--db-users 10000] [--rounds 3] [--startup-peers 5000]
  [--broadcast-users 1000] [--flood-limit 30] [--approvals 150] [--burst-newcomers 1000] [--members 1000]
  [--replica-newcomers 1000]
  [--profile DIR] [--json FILE]
Runs as root (network namespaces, wireguard-go). --quick: small sizes, under two minutes.
A table of the results goes to stdout, progress to stderr; the exit code is 1 when a target is missed.`;

const sizes = (s: string, flag: string): number[] => {
  const list = s.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${flag}: expected positive whole numbers separated by commas, got ${JSON.stringify(s)}`);
  return list.sort((a, b) => a - b);
};

const count = (s: string, flag: string): number => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a positive whole number, got ${JSON.stringify(s)}`);
  return n;
};

export function parseOptions(argv: string[]): BenchOptions {
  const str = { type: 'string' } as const;
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      only: str,
      'peer-sizes': str,
      'peer-samples': str,
      'baseline-samples': str,
      'monitor-sizes': str,
      'monitor-samples': str,
      'start-users': str,
      'db-users': str,
      rounds: str,
      'startup-peers': str,
      'broadcast-users': str,
      'flood-limit': str,
      approvals: str,
      'burst-newcomers': str,
      members: str,
      'replica-newcomers': str,
      profile: str,
      json: str,
    },
    strict: true,
  });
  const d = values.quick ? QUICK : FULL;
  const phases = values.only ? values.only.split(',').map((p) => p.trim()) : [...PHASES];
  for (const p of phases) if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--only: unknown phase ${JSON.stringify(p)} (phases: ${PHASES.join(', ')})`);
  const given = values as Record<string, string | undefined>;
  const opt = (flag: string, fallback: number) => (given[flag] === undefined ? fallback : count(given[flag], flag));
  const list = (flag: string, fallback: number[]) => (given[flag] === undefined ? fallback : sizes(given[flag], flag));
  return {
    phases: phases as Phase[],
    peerSizes: list('peer-sizes', d.peerSizes),
    peerSamples: opt('peer-samples', d.peerSamples),
    baselineSamples: opt('baseline-samples', d.baselineSamples),
    monitorSizes: list('monitor-sizes', d.monitorSizes),
    monitorSamples: opt('monitor-samples', d.monitorSamples),
    startUsers: opt('start-users', d.startUsers),
    dbUsers: opt('db-users', d.dbUsers),
    rounds: opt('rounds', d.rounds),
    startupPeers: opt('startup-peers', d.startupPeers),
    broadcastUsers: opt('broadcast-users', d.broadcastUsers),
    approvals: opt('approvals', d.approvals),
    burstNewcomers: opt('burst-newcomers', d.burstNewcomers),
    members: opt('members', d.members),
    replicaNewcomers: opt('replica-newcomers', d.replicaNewcomers),
    floodLimit: opt('flood-limit', 30),
    profileDir: values.profile ?? null,
    json: values.json ?? null,
    quick: values.quick ?? false,
  };
}

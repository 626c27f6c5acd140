import path from 'node:path';
import { checkPath, vpnCommands } from './argv.js';
import { parseDefaultRoute } from './nat.js';
import { renderPeerSections } from './render.js';
import { checkShapeArgv, parseIfindex, upTimeoutMs, type VpnRunner } from './runner.js';
import { tempFileName } from './run-dir.js';
import { type SshConnectionOptions, type SshTarget, sshConnection } from './ssh-connection.js';
import type { VpnFlavor } from './types.js';

// The VPN commands of runner.ts, run on a node over SSH (ssh-connection.ts). Fixed sh scripts
// take their values as positional parameters; secrets (preshared keys, the server config) go on stdin.

// timeoutMs is per command; *-quick up gets at least 30 s (upTimeoutMs).
export type SshRunnerOptions = SshConnectionOptions & {
  /** On the node: *-quick logs (0700). Default /var/log/andreyvpn. */
  logDir?: string;
  /** On the node: preshared keys live here for one `set` call (0700). Default /run/andreyvpn. */
  secretsDir?: string;
};

export type SshRunner = VpnRunner & {
  /** Drops the connection; calls after it reject. */
  close(): Promise<void>;
};

// Fixed scripts, run as `sh -c SCRIPT sh ARGS…`; the values only ever arrive as "$1", "$2", "$@".

// A signal ends the script through exit, so the EXIT trap still removes the temp file.
const ON_SIGNAL_EXIT = `trap 'exit 129' HUP INT TERM PIPE`;

/** $1 dir, $2 file in it: stdin → $2 (0600, created exclusively), then "$@" runs, then $2 is removed. */
const WITH_STDIN_FILE = `umask 077; d=$1; f=$2; shift 2; mkdir -p -- "$d" || exit 1; trap 'rm -f -- "$f"' EXIT; ${ON_SIGNAL_EXIT}; (set -C; cat >"$f") || exit 1; "$@"`;

/** $1 file: stdin replaces it atomically (temp file in the same directory, 0600, mv); directories 0700. */
const WRITE_FILE = `umask 077; f=$1; mkdir -p -- "$(dirname -- "$f")" || exit 1; t=$(mktemp -- "$f.XXXXXXXX") || exit 1; trap 'rm -f -- "$t"' EXIT; ${ON_SIGNAL_EXIT}; cat >"$t" && chmod 600 -- "$t" && mv -f -- "$t" "$f"`;

/**
 * $1 dir, $2 log file: "$@" runs with stdin from /dev/null and output to the log, so a daemon it
 * leaves running (wireguard-go) does not hold the channel open; on failure the log's tail goes to stderr.
 */
const LOGGED = `umask 077; mkdir -p -- "$1" || exit 1; log=$2; shift 2; "$@" </dev/null >"$log" 2>&1 && exit 0; rc=$?; tail -c 2000 -- "$log" >&2; exit $rc`;

/** $1 file: its content, nothing when it does not exist. */
const CAT_IF_EXISTS = `[ ! -e "$1" ] || cat -- "$1"`;

/** The fixed scripts (exported for their tests). */
export const remoteScripts = { WITH_STDIN_FILE, WRITE_FILE, LOGGED, CAT_IF_EXISTS } as const;

/** The argv that runs one of them with these positional parameters. */
export const script = (text: string, ...args: string[]): string[] => ['sh', '-c', text, 'sh', ...args];

export function createSshRunner(flavor: VpnFlavor, target: SshTarget, opts: SshRunnerOptions = {}): SshRunner {
  const cmd = vpnCommands(flavor);
  const logDir = checkPath(opts.logDir ?? '/var/log/andreyvpn');
  const secretsDir = checkPath(opts.secretsDir ?? '/run/andreyvpn');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const { exec, close } = sshConnection(target, opts);

  return {
    dump: async (iface) => exec(cmd.dump(iface), cmd.dump(iface)),
    async setPeer(iface, p) {
      const file = path.posix.join(secretsDir, tempFileName('psk'));
      const argv = cmd.setPeer(iface, p, file);
      await exec(argv, script(WITH_STDIN_FILE, secretsDir, file, ...argv), `${p.presharedKey}\n`);
    },
    async setPeers(iface, peers) {
      const file = path.posix.join(secretsDir, tempFileName('psk'));
      const argv = cmd.addConf(iface, file);
      await exec(argv, script(WITH_STDIN_FILE, secretsDir, file, ...argv), renderPeerSections(peers));
    },
    async removePeer(iface, publicKey) {
      const argv = cmd.removePeer(iface, publicKey);
      await exec(argv, argv);
    },
    async ifindex(iface) {
      const file = cmd.ifindexFile(iface);
      return parseIfindex(await exec(['cat', file], script(CAT_IF_EXISTS, file)));
    },
    async up(confPath) {
      const argv = cmd.up(confPath);
      await exec(argv, script(LOGGED, logDir, cmd.upLogFile(logDir, confPath), ...argv), '', upTimeoutMs(timeoutMs));
    },
    defaultRouteInterface: async () => parseDefaultRoute(await exec(cmd.defaultRoute(), cmd.defaultRoute())),
    async writeConfig(file, text) {
      checkPath(file);
      await exec(['write', file], script(WRITE_FILE, file), text);
    },
    shape: async (argv, input) => exec(argv, checkShapeArgv(argv), input),
    close,
  };
}

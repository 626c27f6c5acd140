// deploy/andreyvpn-bot.service: it runs what `npm run build` produces, restarts the bot, stops it
// within the bot's own shutdown time, and its hardening leaves interface management possible.
// (`systemd-analyze verify deploy/andreyvpn-bot.service` also accepts it; not run here, because
// CI machines need not have systemd.)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (rel: string): string => fs.readFileSync(path.join(ROOT, rel), 'utf8');

type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = new Map();
      unit.set(s[1]!, section);
      return;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) throw new Error(`line ${i + 1}: cannot read ${line}`);
    section.set(kv[1]!, [...(section.get(kv[1]!) ?? []), kv[2]!.trim()]);
  });
  return unit;
}

const unit = parseUnit(read('deploy/andreyvpn-bot.service'));
const service = unit.get('Service') ?? new Map<string, string[]>();
const one = (key: string): string | undefined => service.get(key)?.at(-1);
const all = (key: string): string[] => (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

describe('deploy/andreyvpn-bot.service', () => {
  it('has the three sections and starts after the network is online', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(unit.get('Unit')?.get('After')).toContain('network-online.target');
    expect(unit.get('Unit')?.get('Wants')).toContain('network-online.target');
    expect(unit.get('Install')?.get('WantedBy')).toContain('multi-user.target');
  });

  it('runs the built bot (dist/main.js from src/main.ts) in /opt/andreyvpn-bot with its .env', () => {
    expect(one('WorkingDirectory')).toBe('/opt/andreyvpn-bot');
    const exec = one('ExecStart')?.split(/\s+/) ?? [];
    expect(exec[0]).toMatch(/^\/.*\/node$/);
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { compilerOptions?: { rootDir?: string; outDir?: string } };
    const outDir = tsconfig.compilerOptions?.outDir ?? 'dist';
    const rootDir = tsconfig.compilerOptions?.rootDir ?? 'src';
    expect(exec.slice(1).find((a) => !a.startsWith('--'))).toBe(`${outDir}/main.js`);
    expect(fs.existsSync(path.join(ROOT, rootDir, 'main.ts'))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { scripts?: Record<string, string> };
    expect(pkg.scripts?.build).toMatch(/tsconfig\.build\.json/);
    // The bot reads .env itself (ENV_FILE, default ./.env); systemd's EnvironmentFile syntax differs
    // from dotenv, so a file given there is optional and only for overrides.
    expect(service.get('Environment')).toContain('ENV_FILE=/opt/andreyvpn-bot/.env');
    for (const f of service.get('EnvironmentFile') ?? []) expect(f.startsWith('-'), `EnvironmentFile=${f} should be optional`).toBe(true);
    expect(read('src/main.ts')).toMatch(/process\.env\.ENV_FILE/);
  });

  it('restarts the bot and stops it with SIGTERM within a timeout longer than its shutdown', () => {
    expect(one('Restart')).toBe('always');
    expect(one('RestartSec')).toBe('5');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThanOrEqual(10);
    // The bot's own deadline, after which it exits by itself.
    const deadline = /SHUTDOWN_DEADLINE_MS = ([\d_]+)/.exec(read('src/main.ts'))?.[1];
    if (deadline) expect(Number(one('TimeoutStopSec')) * 1000).toBeGreaterThan(Number(deadline.replace(/_/g, '')));
  });

  it('runs as root (awg-quick re-executes itself through sudo otherwise)', () => {
    expect(['root', undefined]).toContain(one('User'));
    expect(service.has('DynamicUser')).toBe(false);
  });

  it('is hardened: UMask 0077, NoNewPrivileges, PrivateTmp, ProtectHome, ProtectSystem=full', () => {
    expect(one('UMask')).toBe('0077');
    expect(one('NoNewPrivileges')).toBe('true');
    expect(one('PrivateTmp')).toBe('true');
    expect(one('ProtectHome')).toBe('true');
    expect(one('ProtectSystem')).toBe('full');
  });

  it('can still write the server config under a read-only /etc', () => {
    // ProtectSystem=full makes /etc read-only: the config directory must be created before the
    // sandbox is set up (ConfigurationDirectory) and be writable (ReadWritePaths).
    expect(all('ConfigurationDirectory')).toContain('amnezia/amneziawg');
    expect(one('ConfigurationDirectoryMode')).toBe('0700');
    expect(all('ReadWritePaths')).toContain('/etc/amnezia/amneziawg');
    // /etc/wireguard is optional (VPN_FLAVOR=wireguard): '-' so a missing directory is no error.
    expect(all('ReadWritePaths')).toContain('-/etc/wireguard');
    // The data directory (./data by default) is under /opt, which ProtectSystem=full leaves writable.
    expect(one('WorkingDirectory')!.startsWith('/opt/')).toBe(true);
  });

  it('has no setting that would stop it from managing the interface', () => {
    // Own network namespace, no /dev/net/tun, read-only /proc/sys, no module loading, no netlink,
    // or a capability set without CAP_NET_ADMIN would each break awg-quick, amneziawg-go or NAT.
    for (const key of ['PrivateNetwork', 'PrivateDevices', 'ProtectKernelTunables', 'ProtectKernelModules', 'PrivateUsers', 'RestrictNamespaces']) {
      expect(one(key) ?? 'false', `${key} must stay off`).toMatch(/^(false|no|0)$/);
    }
    const families = all('RestrictAddressFamilies');
    if (families.length) expect(families).toEqual(expect.arrayContaining(['AF_NETLINK', 'AF_INET', 'AF_UNIX']));
    const caps = all('CapabilityBoundingSet');
    if (caps.length) expect(caps).toEqual(expect.arrayContaining(['CAP_NET_ADMIN', 'CAP_NET_RAW']));
    expect(service.has('DeviceAllow')).toBe(false);
  });
});

describe('deploy/README.md', () => {
  const doc = read('deploy/README.md');

  it('gives the commands for Docker and for systemd', () => {
    expect(doc).toMatch(/cp \.env\.example \.env/);
    expect(doc).toMatch(/docker compose up -d --build/);
    expect(doc).toMatch(/cp deploy\/andreyvpn-bot\.service \/etc\/systemd\/system\//);
    expect(doc).toMatch(/systemctl daemon-reload && systemctl enable --now andreyvpn-bot/);
    expect(doc).toContain('/opt/andreyvpn-bot');
    expect(doc).toMatch(/npm ci && npm run build/);
  });

  it('explains NAT, the kernel module fallback and where state lives', () => {
    for (const s of ['VPN_NAT', 'VPN_WAN_INTERFACE', 'MASQUERADE', 'amneziawg-go', '/lib/modules:/lib/modules:ro', './data', './amneziawg', '/healthz']) {
      expect(doc, `deploy/README.md should mention ${s}`).toContain(s);
    }
  });
});

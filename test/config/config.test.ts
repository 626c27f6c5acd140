import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';

const GOOD = { BOT_TOKEN: '123456:ABC-def_ghi', ADMIN_IDS: '1, 22', VPN_ENDPOINT: 'vpn.example.com' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(GOOD);
    expect(c.adminIds).toEqual([1, 22]);
    expect(c.telegramApiRoot).toBe('https://api.telegram.org');
    expect(c.databasePath).toBe(path.resolve('data/bot.db'));
    expect(c.vpn).toMatchObject({
      flavor: 'amneziawg',
      iface: 'awg0',
      configDir: '/etc/amnezia/amneziawg',
      endpoint: 'vpn.example.com:51820',
      port: 51820,
      subnet: '10.8.0.0/24',
      dns: ['1.1.1.1', '1.0.0.1'],
      allowedIps: ['0.0.0.0/0'],
      mtu: undefined,
      awgProtocol: 1,
    });
    expect(c.captcha).toBe(true);
    expect(c.monitorIntervalMs).toBe(60_000);
  });

  it('wireguard flavor changes the interface and config dir defaults; explicit values win', () => {
    const c = loadConfig({ ...GOOD, VPN_FLAVOR: 'wireguard', VPN_ENDPOINT: '203.0.113.5:443', DATA_DIR: '/srv/x', AWG_PROTOCOL: '2', CAPTCHA: 'off', VPN_MTU: '1280' });
    expect(c.vpn).toMatchObject({ iface: 'wg0', configDir: '/etc/wireguard', endpoint: '203.0.113.5:443', awgProtocol: 2, mtu: 1280 });
    expect(c.databasePath).toBe('/srv/x/bot.db');
    expect(c.captcha).toBe(false);
    expect(loadConfig({ ...GOOD, DATABASE_URL: 'sqlite:/tmp/a.db' }).databasePath).toBe('/tmp/a.db');
  });

  it('DEFAULT_SPEED_MBIT: unset or 0 = unlimited, one number both ways, down/up; anything else stops the bot', () => {
    expect(loadConfig(GOOD).vpn.defaultSpeed).toBeUndefined();
    expect(loadConfig({ ...GOOD, DEFAULT_SPEED_MBIT: '20' }).vpn.defaultSpeed).toEqual({ downKbit: 20_000, upKbit: 20_000 });
    expect(loadConfig({ ...GOOD, DEFAULT_SPEED_MBIT: '20/5' }).vpn.defaultSpeed).toEqual({ downKbit: 20_000, upKbit: 5000 });
    expect(loadConfig({ ...GOOD, DEFAULT_SPEED_MBIT: '0' }).vpn.defaultSpeed).toEqual({ downKbit: null, upKbit: null });
    for (const bad of ['fast', '20/5/1', '-3']) expect(() => loadConfig({ ...GOOD, DEFAULT_SPEED_MBIT: bad })).toThrow(/DEFAULT_SPEED_MBIT/);
  });

  it('DATABASE_URL: sqlite:<path> or a postgres(ql):// URL', () => {
    expect(loadConfig({ ...GOOD, DATA_DIR: '/srv/x' }).database).toEqual({ kind: 'sqlite', path: '/srv/x/bot.db' });
    expect(loadConfig({ ...GOOD, DATABASE_URL: 'sqlite:/tmp/a.db' }).database).toEqual({ kind: 'sqlite', path: '/tmp/a.db' });
    for (const url of ['postgres://bot:pw@db:5432/vpn', 'postgresql://db/vpn?sslmode=require']) {
      expect(loadConfig({ ...GOOD, DATABASE_URL: url }).database).toEqual({ kind: 'postgres', url, connectTimeoutMs: 10_000, statementTimeoutMs: 30_000 });
    }
    expect(() => loadConfig({ ...GOOD, DATABASE_URL: 'mysql://db/vpn' })).toThrow(/DATABASE_URL/);
  });

  it('PostgreSQL timeouts and METRICS_TOKEN', () => {
    const pg = { ...GOOD, DATABASE_URL: 'postgres://db/vpn' };
    expect(loadConfig({ ...pg, PG_CONNECT_TIMEOUT_SECONDS: '3', PG_STATEMENT_TIMEOUT_SECONDS: '120' }).database).toMatchObject({ connectTimeoutMs: 3_000, statementTimeoutMs: 120_000 });
    expect(problems({ ...pg, PG_CONNECT_TIMEOUT_SECONDS: '0', PG_STATEMENT_TIMEOUT_SECONDS: '1.5' }).map((x) => x.split(':')[0])).toEqual(['PG_CONNECT_TIMEOUT_SECONDS', 'PG_STATEMENT_TIMEOUT_SECONDS']);

    expect(loadConfig(GOOD).http.metricsToken).toBeNull();
    const token = 'J8mQ2+x/Zp0_~.-kT9wLs3vB1nYc4RdA=';
    expect(loadConfig({ ...GOOD, METRICS_TOKEN: token }).http.metricsToken).toBe(token);
    for (const bad of ['short-token', 'has space in the middle of it', 'ünïcödé-token-0123456']) {
      // A bad token is named, never shown.
      expect(problems({ ...GOOD, METRICS_TOKEN: bad })).toEqual([expect.stringMatching(/^METRICS_TOKEN: .*\(given\)$/)]);
    }
  });

  it('REMINDERS: all by default (also when empty), a list switches the others off, none switches all off', () => {
    expect([...loadConfig(GOOD).reminders]).toEqual(['quota', 'expiry', 'never-connected', 'weekly-digest']);
    expect([...loadConfig({ ...GOOD, REMINDERS: '' }).reminders]).toHaveLength(4);
    expect([...loadConfig({ ...GOOD, REMINDERS: ' expiry, weekly-digest ' }).reminders]).toEqual(['expiry', 'weekly-digest']);
    expect(loadConfig({ ...GOOD, REMINDERS: 'none' }).reminders.size).toBe(0);
    expect(problems({ ...GOOD, REMINDERS: 'quota,birthday' })[0]).toMatch(/^REMINDERS: each entry must be one of quota, expiry, never-connected, weekly-digest, none/);
    expect(problems({ ...GOOD, REMINDERS: 'none,quota' })[0]).toMatch(/^REMINDERS: none cannot be combined/);
  });

  it('names every bad variable at once', () => {
    const p = problems({
      ADMIN_IDS: '12,abc',
      VPN_FLAVOR: 'openvpn',
      VPN_PORT: '70000',
      VPN_SUBNET: '10.8.0.0/31',
      VPN_INTERFACE: 'this-name-is-way-too-long',
      AWG_PROTOCOL: '3',
      CAPTCHA: 'maybe',
      MONITOR_INTERVAL_SECONDS: '0',
      DATABASE_URL: 'mysql://x',
      VPN_DNS: '1.1.1.1, dns.google',
      LOG_LEVEL: 'loud',
    });
    const named = p.map((x) => x.split(':')[0]);
    for (const v of ['BOT_TOKEN', 'ADMIN_IDS', 'VPN_ENDPOINT', 'VPN_FLAVOR', 'VPN_PORT', 'VPN_SUBNET', 'VPN_INTERFACE', 'AWG_PROTOCOL', 'CAPTCHA', 'MONITOR_INTERVAL_SECONDS', 'DATABASE_URL', 'VPN_DNS', 'LOG_LEVEL']) {
      expect(named).toContain(v);
    }
    expect(p.join('\n')).toContain('BOT_TOKEN: is required (missing)');
  });

  it('README and .env.example document every variable', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const example = fs.readFileSync('.env.example', 'utf8');
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(30);
    for (const v of CONFIG_VARIABLES) {
      expect(readme, `README config table lacks ${v}`).toMatch(new RegExp(`^\\| [^|]*\`${v}\`[^|]*\\|`, 'm'));
      expect(example, `.env.example lacks ${v}`).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
    }
  });

  it('imitation packets: dns by default with protocol 2, off with 1; AWG_I1…AWG_I5 checked against the grammar, the protocol and the MTU', () => {
    expect(loadConfig(GOOD).vpn.imitation).toEqual({ preset: 'off', overrides: null, maxBytes: 1452 });
    expect(loadConfig({ ...GOOD, AWG_PROTOCOL: '2' }).vpn.imitation).toEqual({ preset: 'dns', overrides: null, maxBytes: 1452 });
    expect(loadConfig({ ...GOOD, AWG_PROTOCOL: '2', AWG_IMITATE: 'quic', VPN_MTU: '1280' }).vpn.imitation).toMatchObject({ preset: 'quic', maxBytes: 1312 });
    expect(loadConfig({ ...GOOD, AWG_PROTOCOL: '2', AWG_I1: ' <b 0xc0ffee00> <r 24> <t> ', AWG_I3: '<rc 8>' }).vpn.imitation.overrides).toEqual({ i1: '<b 0xc0ffee00> <r 24> <t>', i3: '<rc 8>' });
    expect(problems({ ...GOOD, AWG_IMITATE: 'dns' })).toEqual(['AWG_IMITATE: needs AWG_PROTOCOL=2 (protocol 1 clients have no imitation packets) ("dns")']);
    expect(problems({ ...GOOD, AWG_IMITATE: 'off' })).toEqual([]);
    expect(problems({ ...GOOD, AWG_PROTOCOL: '2', VPN_FLAVOR: 'wireguard', AWG_I2: '<r 8>' })).toEqual(['AWG_I2: needs VPN_FLAVOR=amneziawg ("<r 8>")']);
    expect(problems({ ...GOOD, AWG_PROTOCOL: '2', AWG_IMITATE: 'tls' })).toEqual([expect.stringMatching(/^AWG_IMITATE: must be one of off, dns, quic/)]);
    expect(problems({ ...GOOD, AWG_PROTOCOL: '2', AWG_I1: '<b 0x01><c>', AWG_I5: '<r 1400>', VPN_MTU: '1280' })).toEqual([
      'AWG_I1: <c> (a packet counter) is no longer accepted by amneziawg-go ("<b 0x01><c>")',
      'AWG_I5: makes a 1400-byte packet, more than the 1312 bytes that fit the path MTU ("<r 1400>")',
    ]);
  });

  it('the process exits with code 2 and starts nothing on a bad env', async () => {
    const main = path.resolve('dist/main.js');
    const err = await promisify(execFile)(process.execPath, [main], {
      env: { PATH: process.env.PATH, ENV_FILE: '/nonexistent', ADMIN_IDS: 'x' },
      timeout: 10_000,
    }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('BOT_TOKEN');
    expect(err.stderr).toContain('ADMIN_IDS');
    expect(err.stderr).toContain('VPN_ENDPOINT');
    const badI1 = await promisify(execFile)(process.execPath, [main], {
      env: { PATH: process.env.PATH, ENV_FILE: '/nonexistent', ...GOOD, AWG_PROTOCOL: '2', AWG_I1: '<r 2> junk' },
      timeout: 10_000,
    }).catch((e) => e);
    expect(badI1.code).toBe(2);
    expect(badI1.stderr).toContain('AWG_I1: has text outside a tag at character 6');
  });
});

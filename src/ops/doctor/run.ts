// `npm run doctor`: checks everything the bot needs on this host and explains each finding in
// one line, with the fix. The report is ok (exit 0) only when nothing failed or was skipped.
import { type Check, type CheckResult, type DoctorReport, errorText, fail, formatResult, pass, skip } from './check.js';
import { checkDatabase } from './database.js';
import { checkConfig, checkDataDir, checkNode } from './environment.js';
import type { DoctorEnv } from './host.js';
import { checkTelegram } from './telegram.js';
import { checkIpForward, checkInterface, checkNat, checkUdpPort } from './vpn-network.js';
import { checkVpnNodes } from './vpn-nodes.js';
import { checkWebhookCertificate } from './webhook.js';
import { checkBinaries, checkKernelOrUserspace, checkPrivileges, checkTun } from './vpn-tools.js';

/** The checks that need a valid configuration, in output order; local: a check of this host's own VPN node, not needed when VPN_LOCAL=off. */
export const CONFIG_CHECKS: { name: string; check: Check; local?: true }[] = [
  { name: 'binaries', check: checkBinaries, local: true },
  { name: 'privileges', check: checkPrivileges, local: true },
  { name: 'tun device', check: checkTun, local: true },
  { name: 'vpn backend', check: checkKernelOrUserspace, local: true },
  { name: 'interface', check: checkInterface, local: true },
  { name: 'ip_forward', check: checkIpForward, local: true },
  { name: 'nat', check: checkNat, local: true },
  { name: 'udp port', check: checkUdpPort, local: true },
  { name: 'vpn nodes', check: checkVpnNodes },
  { name: 'data dir', check: checkDataDir },
  { name: 'database', check: checkDatabase },
  { name: 'telegram', check: checkTelegram },
  { name: 'webhook certificate', check: checkWebhookCertificate },
];

export async function runDoctor(denv: DoctorEnv): Promise<DoctorReport> {
  const results: CheckResult[] = [checkNode(denv)];
  const { result, config } = checkConfig(denv);
  results.push(result);
  if (!config) {
    results.push(...CONFIG_CHECKS.map((c) => skip(c.name, 'the configuration is invalid')));
  } else {
    // Independent of each other, so they run together; results keep the listed order.
    const found = await Promise.all(
      CONFIG_CHECKS.map(({ name, check, local }) =>
        (local && !config.vpn.local ? Promise.resolve(pass(name, 'not needed: VPN_LOCAL=off, this host runs no VPN node')) : check(denv, config)).catch((e: unknown) => fail(name, `could not check: ${errorText(e)}`, 'run the doctor as the user that runs the bot (usually root)')),
      ),
    );
    results.push(...found.flat());
  }
  const ok = results.every((r) => r.status === 'pass' || r.status === 'warn');
  return { ok, results, lines: results.flatMap(formatResult) };
}

import path from 'node:path';
import type { Config } from '../../config.js';
import { type Check, errorText, fail, pass, warn } from './check.js';
import { type DoctorEnv, exists, findOnPath } from './host.js';

const flavorNames = (config: Config) =>
  config.vpn.flavor === 'amneziawg'
    ? { tool: 'awg', quick: 'awg-quick', module: 'amneziawg', userspace: 'amneziawg-go', pkg: 'amneziawg-tools' }
    : { tool: 'wg', quick: 'wg-quick', module: 'wireguard', userspace: 'wireguard-go', pkg: 'wireguard-tools' };

/** The first line of `<file> --version` (`awg`: "amneziawg-tools v1.0.20260223"), or why it did not run. */
async function versionOf(denv: DoctorEnv, file: string): Promise<{ version: string } | { problem: string }> {
  try {
    const first = (await denv.run(file, ['--version'])).split('\n').find((l) => l.trim()) ?? '';
    // The tools add " - <homepage>" after the version.
    return { version: first.trim().replace(/ - https?:\/\/\S*$/, '') || 'no version printed' };
  } catch (e) {
    return { problem: `${path.basename(file)} --version failed: ${errorText(e).slice(0, 200)}` };
  }
}

export const checkBinaries: Check = async (denv, config) => {
  const { tool, quick, pkg } = flavorNames(config);
  const [toolFile, quickFile] = await Promise.all([tool, quick].map((b) => findOnPath(denv, b)));
  if (!toolFile || !quickFile) {
    const missing = [toolFile ? '' : tool, quickFile ? '' : quick].filter(Boolean);
    return fail('binaries', `${missing.join(' and ')} not found on PATH`, `install ${pkg} (it provides ${tool} and ${quick})`);
  }
  const v = await versionOf(denv, toolFile);
  if ('problem' in v) return fail('binaries', `${toolFile} does not run: ${v.problem}`, `reinstall ${pkg} for this machine`);
  // Speed limits are shaped with tc; without a default, only users an admin limits need it.
  const limited = config.vpn.defaultSpeed && (config.vpn.defaultSpeed.downKbit !== null || config.vpn.defaultSpeed.upKbit !== null);
  if (limited && !(await findOnPath(denv, 'tc'))) return fail('binaries', 'tc not found on PATH: DEFAULT_SPEED_MBIT cannot be applied', 'install iproute2 (it provides tc and ip), or unset DEFAULT_SPEED_MBIT');
  return pass('binaries', `${toolFile} (${v.version}), ${quickFile}`);
};

const CAP_NET_ADMIN = 12n;

export const checkPrivileges: Check = async (denv) => {
  if (denv.uid === 0) return pass('privileges', 'running as root');
  const fix = 'run the bot (and this check) as root, e.g. sudo npm run doctor, or grant CAP_NET_ADMIN (systemd: AmbientCapabilities=CAP_NET_ADMIN)';
  let status: string;
  try {
    status = await denv.readFile(denv.paths.procSelfStatus);
  } catch (e) {
    return fail('privileges', `not root (uid ${denv.uid}) and cannot read ${denv.paths.procSelfStatus}: ${errorText(e)}`, fix);
  }
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(status);
  if (m && (BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) return pass('privileges', `uid ${denv.uid} with CAP_NET_ADMIN`);
  return fail('privileges', `not root (uid ${denv.uid}) and no CAP_NET_ADMIN: the bot cannot manage the interface`, fix);
};

export const checkTun: Check = async (denv, config) => {
  if (await exists(denv, denv.paths.devNetTun)) return pass('tun device', `${denv.paths.devNetTun} exists`);
  // /dev/net/tun only matters for the userspace fallback; with the kernel module loaded it is not used.
  const { module } = flavorNames(config);
  if (await exists(denv, path.join(denv.paths.sysModule, module))) {
    return warn('tun device', `${denv.paths.devNetTun} is missing; not needed while the ${module} kernel module is loaded`);
  }
  return fail(
    'tun device',
    `${denv.paths.devNetTun} is missing (the userspace fallback needs it)`,
    'modprobe tun; in Docker pass --device /dev/net/tun (compose: devices: ["/dev/net/tun"])',
  );
};

export const checkKernelOrUserspace: Check = async (denv, config) => {
  const { module, userspace } = flavorNames(config);
  const name = 'vpn backend';
  if (await exists(denv, path.join(denv.paths.sysModule, module))) {
    // Modules that declare a version show it here; the in-tree wireguard does not.
    const version = (await denv.readFile(path.join(denv.paths.sysModule, module, 'version')).catch(() => '')).trim();
    return pass(name, `${module} kernel module ${version ? `${version} ` : ''}loaded`);
  }
  // Installed but not loaded yet: the first `ip link add type <module>` loads it.
  const modinfo = await findOnPath(denv, 'modinfo');
  if (modinfo) {
    try {
      await denv.run(modinfo, ['-F', 'filename', module]);
      return pass(name, `${module} kernel module installed (loaded on first use)`);
    } catch {
      // not installed; look for the userspace implementation
    }
  }
  const go = await findOnPath(denv, userspace);
  if (go) {
    const v = await versionOf(denv, go);
    if ('problem' in v) return fail(name, `no ${module} kernel module, and ${go} does not run: ${v.problem}`, `reinstall ${userspace} for this machine, or install the ${module} kernel module`);
    return pass(name, `userspace ${go} (${v.version}; no ${module} kernel module)`);
  }
  const fix =
    module === 'amneziawg'
      ? 'install the amneziawg kernel module (DKMS package from the Amnezia PPA) or put amneziawg-go on PATH'
      : 'modprobe wireguard (Linux ≥ 5.6 has it), or apt-get install wireguard-go';
  return fail(name, `neither the ${module} kernel module nor ${userspace} found`, fix);
};

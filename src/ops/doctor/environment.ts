import path from 'node:path';
import { type Config, ConfigError, loadConfig } from '../../config.js';
import { type Check, type CheckResult, fail, octal, pass } from './check.js';
import type { DoctorEnv } from './host.js';

export function checkNode(denv: DoctorEnv): CheckResult {
  const m = /^v?(\d+)\.(\d+)/.exec(denv.nodeVersion);
  const [major, minor] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (major > 20 || (major === 20 && minor >= 12)) return pass('node', `Node.js ${denv.nodeVersion}`);
  return fail('node', `Node.js ${denv.nodeVersion} is too old, the bot needs ≥ 20.12`, 'install Node.js 20 LTS or newer (nodejs.org or NodeSource packages)');
}

export function checkConfig(denv: DoctorEnv): { result: CheckResult; config: Config | null } {
  try {
    const config = loadConfig(denv.env);
    const v = config.vpn;
    return { result: pass('config', `valid (${v.flavor}, interface ${v.iface}, endpoint ${v.endpoint})`), config };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.problems.length;
    return {
      result: {
        ...fail('config', `${n} problem${n === 1 ? '' : 's'} in the configuration`, `edit ${denv.envFile} (see .env.example) or run npm run setup`),
        more: e.problems,
      },
      config: null,
    };
  }
}

export const checkDataDir: Check = async (denv, config) => {
  const dir = config.dataDir;
  const name = 'data dir';
  const info = await denv.stat(dir);
  if (!info) {
    // The bot creates it (0700) on start; that only needs the nearest existing parent to be writable.
    let parent = path.dirname(dir);
    while (!(await denv.stat(parent)) && parent !== path.dirname(parent)) parent = path.dirname(parent);
    if (await denv.canWrite(parent)) return pass(name, `${dir} does not exist yet (created 0700 on first start)`);
    return fail(name, `${dir} does not exist and ${parent} is not writable`, `mkdir -m 700 -p ${dir} as the user that runs the bot`);
  }
  if (!info.isDirectory) return fail(name, `${dir} is not a directory`, 'set DATA_DIR to a directory');
  if (!(await denv.canWrite(dir))) return fail(name, `${dir} is not writable by uid ${denv.uid}`, `run the bot as the owner of ${dir}, or chown it to that user`);
  if ((info.mode & 0o777) !== 0o700) {
    return fail(name, `${dir} has mode ${octal(info.mode)}, it holds private keys`, `chmod 700 ${dir}`);
  }
  return pass(name, `${dir} (0700)`);
};

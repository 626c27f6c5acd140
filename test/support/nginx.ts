// Real nginx (Debian package) serving deploy/nginx/andreyvpn.conf.template, for the deploy tests
// and the bench: the template rendered as the official image renders it, a self-signed
// certificate, and one root nginx process in the foreground in a prefix of its own.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const NGINX_TEMPLATE = 'deploy/nginx/andreyvpn.conf.template';
export const NGINX = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
/** The access log line of the template; the image's file, replaced by one in the prefix here. */
export const TEMPLATE_ACCESS_LOG = 'access_log /var/log/nginx/access.log andreyvpn;';
export const TEMPLATE_LISTEN = 'listen 443 ssl;';

export interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

/** argv, no shell; resolves with the exit code (rejects only when it cannot run at all). */
export function runCode(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<Exit> {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const works = (cmd: string, argv: string[]): Promise<boolean> => runCode(cmd, argv).then((r) => r.code === 0, () => false);
/** nginx and openssl are installed (.ci/run installs both). */
export const nginxAvailable = async (): Promise<boolean> => (await works(NGINX, ['-v'])) && (await works('openssl', ['version']));

export function readTemplate(): string {
  return fs.readFileSync(path.join(ROOT, NGINX_TEMPLATE), 'utf8');
}

/** What the nginx image's envsubst does with the variables it is given: ${NAME} and $NAME of those names only. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a?: string, b?: string) => vars[(a ?? b)!] ?? m);
}

/** A self-signed certificate (its own CA) in `dir`/fullchain.pem + privkey.pem, for `name` (a DNS name or an IPv4 address). */
export async function selfSignedCert(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'fullchain.pem');
  const key = path.join(dir, 'privkey.pem');
  const san = /^\d+\.\d+\.\d+\.\d+$/.test(name) ? `IP:${name}` : `DNS:${name}`;
  const r = await runCode('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert]);
  if (r.code !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { cert, key };
}

/**
 * Writes the rendered server config (access log moved into `dir`) and a main nginx.conf that
 * includes it inside http {} as the image's conf.d does; returns the main file's path.
 */
export function writeNginxConf(dir: string, conf: string, extraMain = ''): string {
  if (!conf.includes(TEMPLATE_ACCESS_LOG)) throw new Error('the template no longer has its access_log line');
  fs.writeFileSync(path.join(dir, 'andreyvpn.conf'), conf.replace(TEMPLATE_ACCESS_LOG, `access_log ${dir}/access.log andreyvpn;`));
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n${extraMain}events {}\nhttp {\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  include ${dir}/andreyvpn.conf;\n}\n`,
  );
  return path.join(dir, 'nginx.conf');
}

/** argv of nginx in the foreground as one root process (no workers switching to another user), on `dir`'s config. */
export function nginxArgv(dir: string, conf: string): string[] {
  return [NGINX, '-p', dir, '-c', writeNginxConf(dir, conf, 'daemon off;\nmaster_process off;\n')];
}


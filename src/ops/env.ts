import fs from 'node:fs/promises';
import { parseEnv } from 'node:util';

export interface LoadedEnv {
  env: Record<string, string | undefined>;
  /** The .env file the bot would read (`ENV_FILE` or `.env`). */
  envFile: string;
  /** Whether that file exists. */
  found: boolean;
}

/**
 * The environment exactly as src/main.ts sees it: `.env` (or `ENV_FILE`) under the variables
 * already set, which win. Parsed into a copy, so process.env is left alone.
 */
export async function loadEnvLayers(processEnv: Record<string, string | undefined>): Promise<LoadedEnv> {
  const envFile = processEnv.ENV_FILE ?? '.env';
  let text: string;
  try {
    text = await fs.readFile(envFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { env: { ...processEnv }, envFile, found: false };
    throw e;
  }
  return { env: { ...parseEnv(text), ...processEnv }, envFile, found: true };
}

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Files in the data directory that let local processes find each other. All are 0600:
 * - `agent-token`: the shared secret of the agent's control API;
 * - `agent.json`: where the agent's control API listens (written by the agent);
 * - `cli.json`: the API URL and the admin token shown once at first start, for the local CLI.
 */
async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function ensureAgentToken(dataDir: string): Promise<string> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'agent-token');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(24).toString('base64url');
  try {
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw error;
  }
}

export async function writeAgentEndpoint(dataDir: string, url: string): Promise<void> {
  await writeFile(join(dataDir, 'agent.json'), JSON.stringify({ url }) + '\n', { mode: 0o600 });
}

export async function readAgentEndpoint(dataDir: string): Promise<string | undefined> {
  return (await readJson<{ url?: string }>(join(dataDir, 'agent.json')))?.url;
}

export interface CliCredentials {
  url: string;
  token?: string;
}

export async function readCliCredentials(dataDir: string): Promise<CliCredentials | undefined> {
  return readJson<CliCredentials>(join(dataDir, 'cli.json'));
}

/** Records the API URL (and, on first start, the admin token) for the local CLI. */
export async function writeCliCredentials(dataDir: string, url: string, token?: string): Promise<void> {
  const previous = await readCliCredentials(dataDir);
  const kept = token ?? previous?.token; // the admin token is shown once; later starts keep it
  const next: CliCredentials = { url, ...(kept ? { token: kept } : {}) };
  await writeFile(join(dataDir, 'cli.json'), JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
}

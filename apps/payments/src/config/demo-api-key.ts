import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './app-config';

/** Where the demo merchant's key is kept between runs, next to the default SQLite file. */
export const DEMO_API_KEY_PATH = resolve(process.cwd(), 'data', 'demo-api-key');

const DEMO_KEY = /^sk_demo_[A-Za-z0-9_-]{24}$/;

/**
 * The demo merchant's API key when API_KEYS is unset: made once and kept in `data/demo-api-key` (readable by its
 * owner only), so the key someone copied from the first start's log still works after a restart, as the
 * customers it created are still there in the SQLite file beside it. A file that holds anything else is refused
 * rather than silently replaced.
 */
export function demoApiKey(path = DEMO_API_KEY_PATH): string {
  const existing = read(path);
  if (existing !== undefined) return existing;
  const key = `sk_demo_${randomBytes(18).toString('base64url')}`;
  mkdirSync(dirname(path), { recursive: true });
  try {
    // 'wx': two instances starting at once do not overwrite each other's key; the second reads the first's.
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return read(path) ?? key;
  }
}

function read(path: string): string | undefined {
  let content: string;
  try {
    content = readFileSync(path, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (!DEMO_KEY.test(content)) {
    throw new ConfigError(
      'API_KEYS',
      `unset, and ${path} does not hold a demo API key (sk_demo_ and 24 characters); set API_KEYS, or delete the file to make a new key`,
    );
  }
  return content;
}

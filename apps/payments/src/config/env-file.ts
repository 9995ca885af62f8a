import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Loads `.env` from the working directory into `process.env`, if there is one (`.env.example` lists every
 * variable). A variable already set in the environment wins over the file, so a deployment's settings are never
 * overridden by a file left on disk. Node's own parser (`process.loadEnvFile`, Node 20.12+): no dependency.
 */
export function loadEnvFile(path = resolve(process.cwd(), '.env')): boolean {
  if (!existsSync(path)) return false;
  process.loadEnvFile(path);
  return true;
}

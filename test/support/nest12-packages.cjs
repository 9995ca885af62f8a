// The packages the NestJS 12 test run takes from test/nest12 rather than from the repository: exactly the
// dependencies test/nest12/package.json names (every package that imports @nestjs/*). One list for the two loaders
// that must agree on it: Vitest's aliases (nest-major.mts) and require() (nest12-resolution.cjs).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const NEST12_ROOT = join(__dirname, '..', 'nest12');
const NEST12_PACKAGES = Object.keys(JSON.parse(readFileSync(join(NEST12_ROOT, 'package.json'), 'utf8')).dependencies);

module.exports = { NEST12_ROOT, NEST12_PACKAGES };

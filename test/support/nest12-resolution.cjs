// Preloaded (`node --require`, through NODE_OPTIONS) into every process of the NestJS 12 test run: Vitest's workers
// and every child a suite starts (apps, fault scenarios, scripts). A require() of a package that imports @nestjs/*
// resolves from test/nest12, the NestJS 12 install, instead of the repository's NestJS 11; every other package stays
// the repository's single copy. Vitest's own import graph gets the same mapping from test/support/nest-major.mts.
const Module = require('node:module');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const NEST12_ROOT = join(__dirname, '..', 'nest12');
const PACKAGE_NAME = /^(@nestjs\/[^/]+|@nestjs-cls\/[^/]+|nestjs-cls|@nats-io\/transport-node)(?:\/|$)/;

const installed = new Map();
function inNest12(name) {
  if (!installed.has(name)) installed.set(name, existsSync(join(NEST12_ROOT, 'node_modules', name, 'package.json')));
  return installed.get(name);
}

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  const match = PACKAGE_NAME.exec(request);
  if (match && inNest12(match[1])) return resolveFilename.call(this, request, parent, isMain, { paths: [NEST12_ROOT] });
  return resolveFilename.call(this, request, parent, isMain, options);
};

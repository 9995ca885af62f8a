// Preloaded (`node --require`, through NODE_OPTIONS) into every process of the NestJS 12 test run: Vitest's workers
// and every child a suite starts (apps, fault scenarios, scripts). A require() of a package that imports @nestjs/*
// resolves from test/nest12, the NestJS 12 install, instead of the repository's NestJS 11; every other package stays
// the repository's single copy. Vitest's own import graph gets the same mapping from test/support/nest-major.mts.
const Module = require('node:module');
const { NEST12_ROOT, NEST12_PACKAGES } = require('./nest12-packages.cjs');

const fromNest12 = new Set(NEST12_PACKAGES);
// A request's package name: `@scope/name` or `name`, before any subpath.
const PACKAGE_NAME = /^(?:@[^/]+\/)?[^/]+/;

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  if (fromNest12.has(PACKAGE_NAME.exec(request)?.[0])) {
    return resolveFilename.call(this, request, parent, isMain, { paths: [NEST12_ROOT] });
  }
  return resolveFilename.call(this, request, parent, isMain, options);
};

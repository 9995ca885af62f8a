// Preloaded with `node -r` by specs that need an application as it would be without some packages, or that need to
// know which packages a module loads, in a real Node.js require graph rather than a test runner's module mocks:
//   WITHOUT_MODULES=a,b   require('a') fails with MODULE_NOT_FOUND, as when the package was never installed;
//   WATCH_MODULES=a,b     each of them that is loaded is printed as `loaded: <name>`.
const Module = require('node:module');

const missing = new Set((process.env.WITHOUT_MODULES ?? '').split(',').filter(Boolean));
const watched = new Set((process.env.WATCH_MODULES ?? '').split(',').filter(Boolean));
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (missing.has(request)) {
    throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
  }
  if (watched.has(request)) {
    watched.delete(request);
    console.log(`loaded: ${request}`);
  }
  return resolveFilename.call(this, request, ...rest);
};

'use strict';
// Smoke test of the packed @nest-idempotency/core on NestJS 12 (ESM-only), over real HTTP.
//
// Plain CommonJS run by plain `node` (>= 20.19, require(esm) on by default); run.sh builds, packs and
// installs everything first. No TypeScript, so decorators are applied by calling them (Reflect.decorate).
// NestJS is loaded from this directory's node_modules, the library from the installed tarball, and the
// library's own require('@nestjs/...') must land on the very same NestJS 12 files.

const GLOBAL_TIMEOUT_MS = Number(process.env.SMOKE_GLOBAL_TIMEOUT_MS || 30_000);
const REQUEST_TIMEOUT_MS = 5_000;
const SLOW_HANDLER_MS = 400;

const globalTimer = setTimeout(() => {
  console.error(`smoke nest12: TIMEOUT after ${GLOBAL_TIMEOUT_MS} ms`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

const path = require('node:path');
const assert = require('node:assert/strict');

let passed = 0;
let failed = 0;
function check(name, fn) {
  try {
    fn();
    passed++;
    console.log(`ok   - ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL - ${name}\n       ${String((error && error.message) || error).split('\n').join('\n       ')}`);
  }
}

const HERE = __dirname;
const OWN_MODULES = path.join(HERE, 'node_modules') + path.sep;

function main() {
  return run().then(
    () => finish(),
    (error) => {
      failed++;
      console.log(`FAIL - unexpected error: ${(error && error.stack) || error}`);
      finish();
    },
  );
}

function finish() {
  clearTimeout(globalTimer);
  console.log(`smoke nest12: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

async function run() {
  // ---- Where everything resolves from -------------------------------------------------------------
  const libEntry = require.resolve('@nest-idempotency/core');
  const libDir = path.dirname(require.resolve('@nest-idempotency/core/package.json'));
  const libPkg = require('@nest-idempotency/core/package.json');
  console.log(`library: ${libPkg.name}@${libPkg.version} from ${libEntry}`);
  check('library is loaded from the installed tarball (test/smoke-nest12/node_modules)', () => {
    assert.ok(libEntry.startsWith(OWN_MODULES), `resolved to ${libEntry}`);
    assert.ok(libEntry.endsWith(path.join('dist', 'index.js')), `entry is ${libEntry}`);
  });

  const fromLib = (id) => require.resolve(id, { paths: [libDir] });
  for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express']) {
    const versionFromLib = require(fromLib(`${name}/package.json`)).version;
    const versionHere = require(`${name}/package.json`).version;
    console.log(`${name}: ${versionHere} here, ${versionFromLib} as the library resolves it (${fromLib(name)})`);
    check(`${name} is NestJS 12, here and as resolved from the library`, () => {
      assert.match(versionHere, /^12\./);
      assert.match(versionFromLib, /^12\./);
    });
    if (name !== '@nestjs/platform-express') {
      check(`the library's require('${name}') is the same file as ours, under test/smoke-nest12/node_modules`, () => {
        assert.equal(fromLib(name), require.resolve(name));
        assert.ok(fromLib(name).startsWith(OWN_MODULES), `resolved to ${fromLib(name)}`);
      });
    }
  }
  check("the library's subpath import '@nestjs/common/constants' resolves in NestJS 12", () => {
    const file = fromLib('@nestjs/common/constants');
    assert.ok(file.startsWith(OWN_MODULES), `resolved to ${file}`);
  });
  check("the library's own dependency safe-stable-stringify was installed from its packed manifest", () => {
    const file = fromLib('safe-stable-stringify');
    assert.ok(file.startsWith(OWN_MODULES), `resolved to ${file}`);
  });

  // ---- Load NestJS 12 (ESM, through require(esm)) and the library ---------------------------------
  require('reflect-metadata');
  const { Body, Controller, Module, Post } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  const { ExpressAdapter } = require('@nestjs/platform-express');
  const lib = require('@nest-idempotency/core');
  const { IdempotencyModule, IdempotencyService, IdempotencyStore, Idempotent } = lib;

  check('require(esm) gives the NestJS 12 namespaces (Controller, NestFactory, ExpressAdapter)', () => {
    assert.equal(typeof Controller, 'function');
    assert.equal(typeof NestFactory.create, 'function');
    assert.equal(typeof ExpressAdapter, 'function');
  });
  check('the library exports IdempotencyModule.forRoot, Idempotent, IdempotencyService, IdempotencyStore', () => {
    assert.equal(typeof IdempotencyModule.forRoot, 'function');
    assert.equal(typeof Idempotent, 'function');
    assert.equal(typeof IdempotencyService, 'function');
    assert.equal(typeof IdempotencyStore, 'function');
  });

  // ---- The app: one idempotent POST route that counts its calls -----------------------------------
  const calls = { count: 0 };
  class PaymentsController {
    async create(body) {
      calls.count++;
      const n = calls.count;
      if (body && body.slow) await new Promise((resolve) => setTimeout(resolve, SLOW_HANDLER_MS));
      return { id: `pay_${n}`, amount: body && body.amount, call: n };
    }
  }
  Body()(PaymentsController.prototype, 'create', 0); // @Body() body
  Reflect.decorate(
    [Post(), Idempotent()],
    PaymentsController.prototype,
    'create',
    Object.getOwnPropertyDescriptor(PaymentsController.prototype, 'create'),
  );
  Reflect.decorate([Controller('payments')], PaymentsController);

  class AppModule {}
  Reflect.decorate([Module({ imports: [IdempotencyModule.forRoot({})], controllers: [PaymentsController] })], AppModule);

  const app = await NestFactory.create(AppModule, new ExpressAdapter(), {
    logger: ['error', 'warn'],
    forceCloseConnections: true,
    abortOnError: false,
  });
  try {
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address();
    const base = `http://127.0.0.1:${address.port}`;
    console.log(`listening on ${base}`);

    check('IdempotencyModule.forRoot({}) provides IdempotencyService and the default store', () => {
      assert.ok(app.get(IdempotencyService) instanceof IdempotencyService);
      assert.ok(app.get(IdempotencyStore));
    });

    const post = async (body, key) => {
      const headers = { 'content-type': 'application/json' };
      if (key !== undefined) headers['idempotency-key'] = key;
      const res = await fetch(`${base}/payments`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    };
    const describe = (r) => `${r.status} ${r.text}`;

    // 1. First request with a key: runs the handler, 201.
    const first = await post({ amount: 100 }, 'k1');
    check('first request with Idempotency-Key k1 -> 201, handler ran once', () => {
      assert.equal(first.status, 201, describe(first));
      assert.deepEqual(first.json, { id: 'pay_1', amount: 100, call: 1 });
      assert.equal(first.headers.get('idempotent-replayed'), null);
      assert.equal(calls.count, 1);
    });

    // 2. Same key, same body: the stored response comes back, the handler does not run.
    const replay = await post({ amount: 100 }, 'k1');
    check('same key and body again -> same status and body, Idempotent-Replayed: true, handler not run again', () => {
      assert.equal(replay.status, first.status, describe(replay));
      assert.equal(replay.text, first.text);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.match(replay.headers.get('content-type') || '', /^application\/json/);
      assert.equal(calls.count, 1);
    });

    // 3. Same key, another body: 422, nothing executed.
    const mismatch = await post({ amount: 999 }, 'k1');
    check('same key with another body -> 422, handler not run', () => {
      assert.equal(mismatch.status, 422, describe(mismatch));
      assert.equal(calls.count, 1);
    });

    // 4. No key on a route that requires one: 400.
    const missing = await post({ amount: 100 }, undefined);
    check('no Idempotency-Key -> 400, handler not run', () => {
      assert.equal(missing.status, 400, describe(missing));
      assert.equal(calls.count, 1);
    });

    // 5. Two concurrent requests with a new key: the handler runs once; the other gets 409 + Retry-After
    //    (default onConflict 'reject') or the replay.
    const before = calls.count;
    const [a, b] = await Promise.all([post({ amount: 7, slow: true }, 'k2'), post({ amount: 7, slow: true }, 'k2')]);
    check('two concurrent requests with key k2 -> handler ran once', () => {
      assert.equal(calls.count - before, 1, `handler ran ${calls.count - before} times`);
    });
    check('... one got 201, the other 409 with Retry-After or the replay', () => {
      const [winner, other] = a.status === 201 && a.headers.get('idempotent-replayed') === null ? [a, b] : [b, a];
      assert.equal(winner.status, 201, `statuses ${describe(a)} | ${describe(b)}`);
      assert.equal(winner.json && winner.json.call, before + 1);
      if (other.status === 409) {
        const retryAfter = other.headers.get('retry-after');
        assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter), `Retry-After is ${retryAfter}`);
        console.log(`       (the other got 409, Retry-After: ${retryAfter})`);
      } else {
        assert.equal(other.status, 201, describe(other));
        assert.equal(other.headers.get('idempotent-replayed'), 'true');
        assert.equal(other.text, winner.text);
        console.log('       (the other got the replay)');
      }
    });

    // 6. After the race, the key replays the winner's response.
    const after = await post({ amount: 7, slow: true }, 'k2');
    check('after the race, key k2 replays the stored 201', () => {
      assert.equal(after.status, 201, describe(after));
      assert.equal(after.headers.get('idempotent-replayed'), 'true');
      assert.equal(calls.count - before, 1);
    });
  } finally {
    await app.close();
    console.log('app closed');
  }
}

main();

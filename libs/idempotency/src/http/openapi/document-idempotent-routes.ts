import { INestApplicationContext, RequestMethod } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { ApiExtraModels, ApiHeader, ApiResponse, DECORATORS, getSchemaPath } from '@nestjs/swagger';
import { IDEMPOTENCY_MAX_KEY_LENGTH, IDEMPOTENCY_REPLAYED_HEADER } from '../../options/idempotency.constants';
import { declaredRouteOptions } from '../../options/idempotency-options';
import { ResolvedIdempotencyOptions } from '../../options/idempotency-options.interface';
import { IdempotencyService } from '../../core/idempotency.service';
import { PROBLEM_JSON_CONTENT_TYPE } from '../problem-details';
import { IdempotencyErrorBody, IdempotencyProblemBody } from './idempotency-error-body';
import { messageHandlerPatterns } from '../../core/message-handler-metadata';
import { safeRouteMethod } from '../safe-methods';

const RETRY_AFTER = {
  'Retry-After': {
    description: 'Seconds to wait before retrying with the same key and body',
    schema: { type: 'integer', minimum: 1 },
  },
};

const REPLAYED = {
  [IDEMPOTENCY_REPLAYED_HEADER]: {
    description: 'Present, and `true`, when this answer is the stored answer of an earlier request with the same key',
    schema: { type: 'string', enum: ['true'] },
  },
};

// Routes already documented, so calling this twice (two documents, a test app rebuilt) adds nothing twice.
const documented = new WeakSet<Function>();

/**
 * Adds what the library does to every `@Idempotent()` route of the application's OpenAPI document: the key
 * header (its name, whether it is required, its format), the library's 400/409/422/503 answers with their
 * body schema and `Retry-After`, and the `Idempotent-Replayed` header of the route's success answers. Call it
 * once before `SwaggerModule.createDocument()`:
 *
 * ```ts
 * documentIdempotentRoutes(app);
 * const document = SwaggerModule.createDocument(app, config);
 * ```
 *
 * Each route is described with the options it runs with (module, controller and method options merged), so the
 * document cannot drift from the behaviour. Answers a route declares itself keep their descriptions; the
 * library's are added to them.
 */
export function documentIdempotentRoutes(app: INestApplicationContext): void {
  const discovery = app.get(DiscoveryService, { strict: false });
  const idempotency = app.get(IdempotencyService, { strict: false });
  const scanner = new MetadataScanner();
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as Function | undefined;
    if (!controller || typeof controller !== 'function') continue;
    const prototype = controller.prototype as Record<string, Function>;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name];
      const declared = declaredRouteOptions(controller, handler);
      // Message handlers (@MessagePattern, @EventPattern) have no HTTP operation to document, and a controller-wide
      // decorator leaves its GET, HEAD and OPTIONS routes unguarded.
      if (!declared || documented.has(handler) || messageHandlerPatterns(handler) || safeRouteMethod(handler)) continue;
      documented.add(handler);
      document(prototype, name, handler, idempotency.handlers.optionsOf(controller, handler).resolved);
    }
  }
}

function document(prototype: object, name: string, handler: Function, options: ResolvedIdempotencyOptions): void {
  const descriptor = Object.getOwnPropertyDescriptor(prototype, name) ?? { value: handler };
  const apply = (decorator: MethodDecorator) => decorator(prototype, name, descriptor);

  apply(
    ApiHeader({
      name: options.headerName,
      required: options.required,
      description:
        'A unique key per logical request (a UUID, say). Retrying with the same key and body answers with the first ' +
        "request's answer instead of running it again; the same key with another body is refused (422)." +
        (options.required ? '' : ' Without it the request runs unprotected.'),
      // The quoted form `"abc"` (an RFC 8941 sf-string) is accepted too and means the same key.
      schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_MAX_KEY_LENGTH + 2, pattern: '^[\\x21-\\x7E]+$' },
    }),
  );

  markSuccessAnswers(handler, apply);
  // The body as the route answers it: Nest's shape, or problem details under their own media type.
  const body =
    options.errorFormat === 'problem+json'
      ? { content: { [PROBLEM_JSON_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(IdempotencyProblemBody) } } } }
      : { type: IdempotencyErrorBody };
  if (options.errorFormat === 'problem+json') apply(ApiExtraModels(IdempotencyProblemBody) as MethodDecorator);
  const error = (status: number, description: string, headers?: typeof RETRY_AFTER) =>
    apply(ApiResponse({ status, description, ...body, ...(headers ? { headers } : {}) }));
  error(
    400,
    options.required
      ? `The ${options.headerName} header is missing, malformed, or sent more than once`
      : `The ${options.headerName} header is malformed or sent more than once`,
  );
  error(
    409,
    'A request with this key is still being processed: retry with the same key after Retry-After',
    RETRY_AFTER,
  );
  error(422, 'This key was already used for a different request (method, path, body or fingerprinted headers)');
  error(
    503,
    'The idempotency store is unavailable; the request was not processed: retry with the same key',
    RETRY_AFTER,
  );
}

/**
 * Adds `Idempotent-Replayed` to the 2xx answers the route documents, or documents the one Nest sends by default
 * when it documents none. The declared answers are extended in place: `ApiResponse` would merge its own
 * (undefined) `type` over theirs.
 */
function markSuccessAnswers(handler: Function, apply: (decorator: MethodDecorator) => void): void {
  const responses = (Reflect.getMetadata(DECORATORS.API_RESPONSE, handler) ?? {}) as Record<
    string,
    { headers?: object }
  >;
  const declared = Object.keys(responses).filter((status) => Number(status) >= 200 && Number(status) < 300);
  if (declared.length) {
    const marked = { ...responses };
    for (const status of declared)
      marked[status] = { ...responses[status], headers: { ...responses[status].headers, ...REPLAYED } };
    Reflect.defineMetadata(DECORATORS.API_RESPONSE, marked, handler);
    return;
  }
  const code = Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined;
  const status = code ?? (Reflect.getMetadata(METHOD_METADATA, handler) === RequestMethod.POST ? 201 : 200);
  apply(ApiResponse({ status, description: '', headers: REPLAYED }));
}

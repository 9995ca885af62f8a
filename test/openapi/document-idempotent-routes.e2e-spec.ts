import { Body, Controller, Get, HttpCode, INestApplication, Post } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import {
  ApiCreatedResponse,
  ApiProperty,
  ApiResponse,
  DECORATORS,
  DocumentBuilder,
  SwaggerModule,
} from '@nestjs/swagger';
import request from 'supertest';
import { Idempotent, IdempotencyModule, sharedScope } from '@nest-idempotency/core';
import { documentIdempotentRoutes } from '@nest-idempotency/core/swagger';

class OrderView {
  @ApiProperty()
  id: string;
}

@Controller('orders')
class OrdersController {
  @Post()
  @Idempotent()
  @ApiCreatedResponse({ type: OrderView, description: 'The order' })
  @ApiResponse({ status: 400, description: 'Invalid body' })
  create(@Body() _body: unknown) {
    return { id: 'o1' };
  }

  @Post('import')
  @HttpCode(202)
  @Idempotent({ headerName: 'X-Request-Id', required: false })
  import() {
    return {};
  }

  @Get()
  list() {
    return [];
  }

  @EventPattern('order.cancelled')
  @Idempotent()
  cancelled() {}
}

@Controller('refunds')
class RefundsController {
  @Post()
  @Idempotent({ errorFormat: 'problem+json' })
  refund() {
    return {};
  }
}

@Idempotent()
@Controller('captures')
class CapturesController {
  @Post()
  capture() {
    return {};
  }

  /** A read: the controller-wide decorator does not guard it, so it documents no key. */
  @Get()
  list() {
    return [];
  }
}

type Operation = {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Record<string, unknown> }>;
  responses: Record<
    string,
    { description: string; headers?: Record<string, unknown>; content?: Record<string, { schema: { $ref?: string } }> }
  >;
};

describe('documentIdempotentRoutes (@nest-idempotency/core/swagger)', () => {
  let app: INestApplication;
  let paths: Record<string, Record<string, Operation>>;
  let schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }>;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [IdempotencyModule.forRoot({ scope: sharedScope })],
      controllers: [OrdersController, CapturesController, RefundsController],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    documentIdempotentRoutes(app);
    documentIdempotentRoutes(app); // twice: nothing is added twice
    SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, new DocumentBuilder().build()));
    await app.init();
    // The document as a client downloads it, over HTTP.
    const { body } = await request(app.getHttpServer()).get('/docs-json').expect(200);
    paths = body.paths;
    schemas = body.components.schemas;
  });

  afterAll(() => app.close());

  it('documents the key header of every guarded route, required or not, with its format', () => {
    const header = (operation: Operation, name: string) =>
      operation.parameters?.filter((p) => p.in === 'header' && p.name === name) ?? [];
    expect(header(paths['/orders'].post, 'Idempotency-Key')).toEqual([
      expect.objectContaining({
        required: true,
        schema: expect.objectContaining({ type: 'string', minLength: 1, pattern: '^[\\x21-\\x7E]+$' }),
      }),
    ]);
    expect(header(paths['/orders/import'].post, 'X-Request-Id')).toEqual([
      expect.objectContaining({ required: false }),
    ]);
    expect(header(paths['/captures'].post, 'Idempotency-Key')).toHaveLength(1);
    expect(paths['/orders'].get.parameters ?? []).toEqual([]);
    expect(paths['/captures'].get.parameters ?? []).toEqual([]);
    expect(paths['/captures'].get.responses['409']).toBeUndefined();
  });

  it('documents the 400, 409, 422 and 503 answers with their body schema, and Retry-After on 409 and 503', () => {
    for (const path of ['/orders', '/orders/import', '/captures']) {
      const { responses } = paths[path].post;
      for (const status of ['400', '409', '422', '503']) {
        expect(responses[status].content?.['application/json'].schema.$ref).toBe(
          '#/components/schemas/IdempotencyErrorBody',
        );
      }
      expect(Object.keys(responses['409'].headers ?? {})).toEqual(['Retry-After']);
      expect(Object.keys(responses['503'].headers ?? {})).toEqual(['Retry-After']);
    }
    expect(schemas.IdempotencyErrorBody.required).toEqual(['statusCode', 'error', 'message']);
    expect(Object.keys(paths['/orders'].get.responses)).toEqual(['200']);
  });

  it("documents a problem+json route's errors as problem details under their media type", () => {
    const { responses } = paths['/refunds'].post;
    for (const status of ['400', '409', '422', '503']) {
      expect(Object.keys(responses[status].content ?? {})).toEqual(['application/problem+json']);
      expect(responses[status].content?.['application/problem+json'].schema.$ref).toBe(
        '#/components/schemas/IdempotencyProblemBody',
      );
    }
    expect(schemas.IdempotencyProblemBody.required).toEqual(['type', 'title', 'status', 'detail']);
  });

  it("marks the route's success answers with Idempotent-Replayed, keeping what the route declared", () => {
    const created = paths['/orders'].post.responses['201'];
    expect(created.description).toBe('The order');
    expect(created.content?.['application/json'].schema.$ref).toBe('#/components/schemas/OrderView');
    expect(Object.keys(created.headers ?? {})).toEqual(['Idempotent-Replayed']);
    expect(Object.keys(paths['/orders/import'].post.responses['202'].headers ?? {})).toEqual(['Idempotent-Replayed']);
    expect(Object.keys(paths['/captures'].post.responses['201'].headers ?? {})).toEqual(['Idempotent-Replayed']);
    // The route's own 400 keeps its description, with the library's added.
    expect(paths['/orders'].post.responses['400'].description).toMatch(
      /^Invalid body\n\nThe Idempotency-Key header is missing/,
    );
  });

  it('leaves message handlers alone: they have no HTTP operation', () => {
    expect(Reflect.getMetadata(DECORATORS.API_HEADERS, OrdersController.prototype.cancelled)).toBeUndefined();
    expect(Reflect.getMetadata(DECORATORS.API_RESPONSE, OrdersController.prototype.cancelled)).toBeUndefined();
  });
});

import { ApiProperty } from '@nestjs/swagger';

/** The body of every error the library answers: Nest's own `{statusCode, error, message}` shape. */
export class IdempotencyErrorBody {
  @ApiProperty({ description: 'The HTTP status, repeated in the body', example: 409 })
  statusCode: number;

  @ApiProperty({ description: "The status's reason phrase", example: 'Conflict' })
  error: string;

  @ApiProperty({
    description: 'What happened and what the client should do',
    example: 'A request with this idempotency key is already being processed. Retry later.',
  })
  message: string;
}

/** The body of the library's errors with `errorFormat: 'problem+json'`: RFC 9457 problem details. */
export class IdempotencyProblemBody {
  @ApiProperty({
    description: 'Identifies the kind of problem; compare this, not the title',
    example:
      'https://github.com/nest-idempotency/nest-idempotency/blob/main/docs/protocol.md#4-acquire-one-atomic-step-one-round-trip',
  })
  type: string;

  @ApiProperty({
    description: 'A short summary of the kind of problem',
    example: 'A request is outstanding for this Idempotency-Key',
  })
  title: string;

  @ApiProperty({ description: 'The HTTP status, repeated in the body', example: 409 })
  status: number;

  @ApiProperty({
    description: 'What happened this time and what the client should do',
    example: 'A request with this idempotency key is already being processed. Retry later.',
  })
  detail: string;
}

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

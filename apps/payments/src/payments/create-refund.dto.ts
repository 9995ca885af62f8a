import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { MAX_MINOR_UNITS } from '../customers/create-customer.dto';

/** Body of `POST /payments/:id/refunds`. */
export class CreateRefundDto {
  @ApiProperty({
    description: 'Minor units, > 0; all refunds together never exceed the payment',
    minimum: 1,
    example: 500,
  })
  @IsInt()
  @Min(1)
  @Max(MAX_MINOR_UNITS)
  amount: number;
}

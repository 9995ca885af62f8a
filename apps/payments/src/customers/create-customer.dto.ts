import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, Length, Max, Min } from 'class-validator';

/** Upper bound of any amount or balance (minor units); far below 2^53, so arithmetic stays exact. */
export const MAX_MINOR_UNITS = 1_000_000_000_000;

/** Body of `POST /customers`. */
export class CreateCustomerDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Ada Lovelace' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ description: 'Starting balance in minor units (cents)', minimum: 0, example: 10000 })
  @IsInt()
  @Min(0)
  @Max(MAX_MINOR_UNITS)
  balance: number;
}

import { ApiProperty } from '@nestjs/swagger';
import { IsInt, IsString, IsUUID, Length, Matches, Max, Min } from 'class-validator';
import { MAX_MINOR_UNITS } from '../customers/create-customer.dto';

/** Body of `POST /payments`. */
export class CreatePaymentDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  customerId: string;

  @ApiProperty({ description: 'Minor units (cents), > 0', minimum: 1, example: 2500 })
  @IsInt()
  @Min(1)
  @Max(MAX_MINOR_UNITS)
  amount: number;

  @ApiProperty({ description: 'ISO 4217 code, three upper-case letters', example: 'EUR' })
  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be three upper-case letters' })
  currency: string;

  @ApiProperty({
    description: "The merchant's own reference; unique per merchant",
    minLength: 1,
    maxLength: 64,
    example: 'order-1042',
  })
  @IsString()
  @Length(1, 64)
  reference: string;
}

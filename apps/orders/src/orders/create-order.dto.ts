import { IsInt, IsString, IsUUID, Matches, Max, Min } from 'class-validator';

/** Body of `POST /orders`: what to charge which customer of the payments service. */
export class CreateOrderDto {
  /** The customer's id at the payments service. */
  @IsUUID()
  customerId: string;

  /** Minor units (cents), > 0; the payments service's bound. */
  @IsInt()
  @Min(1)
  @Max(1_000_000_000_000)
  amount: number;

  @IsString()
  @Matches(/^[A-Z]{3}$/, { message: 'currency must be three upper-case letters' })
  currency: string;
}

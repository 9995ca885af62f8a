/** What the test publishes: a debit under a unique reference; the consumer that gets it first dies mid-handler. */
export interface PaymentMessage {
  reference: string;
  amount: number;
}

/** The patterns, one per queue: the transactional mode, and the Redis store beside the business database. */
export const TRANSACTIONAL_PAYMENTS = 'kr.transactional.pay';
export const REDIS_PAYMENTS = 'kr.redis.pay';

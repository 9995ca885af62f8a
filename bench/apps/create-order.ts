/*
 * The trivial app's handler, shared by every controller of bench/apps/trivial-app.ts and by the SQL floors
 * (bench/apps/sql-floor.ts), so that a guarded variant and its floor run the very same handler.
 */
import { lineItems } from './order-document';

/** What the bench posts: a small order. */
export interface OrderBody {
  amount: number;
  currency: string;
  reference: string;
}

let sequence = 0;
const responseBytes = positiveInteger('BENCH_RESPONSE_BYTES');

// The handler's whole work: build a small JSON answer (about 100 bytes), as a create endpoint would; or, with
// BENCH_RESPONSE_BYTES, the order with its line items.
export function createOrder(body: OrderBody) {
  const id = ++sequence;
  const order = { id, amount: body.amount, currency: body.currency, reference: body.reference, status: 'created' };
  return responseBytes === undefined ? order : { ...order, items: lineItems(id, responseBytes) };
}

export function positiveInteger(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/*
 * Deterministic stored responses (status, replayable headers, JSON body, as the HTTP transport stores them) at the
 * sizes docs/capacity.md plans with: the bench's trivial record, a payment, a resource representation (~1.5 KB) and
 * a list of them (~6-8 KB). Ids and timestamps come from a seeded generator, so every run measures the same bytes, and
 * they are as incompressible as real ones (random hex), not repeated text that flatters a compressor.
 */

/** A stored response as `serialise()` would write it, with a name for tables. */
export interface SampleResponse {
  name: string;
  /** The stored form, as JSON. */
  json: string;
}

/** Mulberry32: a small seeded generator, so the samples are the same bytes on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(random: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(random() * 16).toString(16);
  return out;
}

function uuid(random: () => number): string {
  const h = hex(random, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

function isoDate(random: () => number): string {
  return new Date(Date.UTC(2026, 10, 1) + Math.floor(random() * 30 * 86_400_000)).toISOString();
}

/** The bench's trivial handler's record: `{ id, amount, currency, reference, status }` (~124 bytes stored). */
export function benchRecord(n = 1): string {
  // Nest sets content-type after the interceptor has taken the stored form, so the record has no headers.
  const body = { id: 1000 + n, amount: 2500, currency: 'EUR', reference: `order-${100_000 + n}`, status: 'created' };
  return JSON.stringify({ status: 201, headers: {}, body });
}

/** A payment as `POST /payments` of apps/payments answers it (`PaymentView`), (~300 bytes). */
export function paymentRecord(n = 1): string {
  const random = seeded(7 + n);
  const id = uuid(random);
  const body = {
    id,
    customerId: uuid(random),
    amount: 1 + Math.floor(random() * 100_000),
    currency: 'EUR',
    reference: `invoice-2026-${String(n).padStart(6, '0')}`,
    status: 'succeeded',
    refundedAmount: 0,
    createdAt: isoDate(random),
  };
  return JSON.stringify({ status: 201, headers: {}, body });
}

const PRODUCTS = ['Espresso machine', 'Burr grinder', 'Milk jug', 'Tamper', 'Descaler', 'Filter papers', 'Kettle'];
const STREETS = ['Rue de Rivoli', 'Kastanienallee', 'Calle Mayor', 'Via Roma', 'High Street', 'Damrak'];
const CITIES = ['Paris', 'Berlin', 'Madrid', 'Rome', 'London', 'Amsterdam'];

/** An order as an API shows it: customer, addresses, lines, totals and links (~1.5 KB of JSON). */
function order(random: () => number, n: number, lineCount = 4): Record<string, unknown> {
  const id = uuid(random);
  const lines = Array.from({ length: lineCount }, (_, index) => {
    const quantity = 1 + Math.floor(random() * 4);
    const unitPrice = 500 + Math.floor(random() * 50_000);
    return {
      id: uuid(random),
      sku: `SKU-${hex(random, 8).toUpperCase()}`,
      name: PRODUCTS[Math.floor(random() * PRODUCTS.length)],
      quantity,
      unitPrice,
      total: quantity * unitPrice,
      position: index + 1,
    };
  });
  const address = () => ({
    line1: `${1 + Math.floor(random() * 200)} ${STREETS[Math.floor(random() * STREETS.length)]}`,
    city: CITIES[Math.floor(random() * CITIES.length)],
    postalCode: String(10_000 + Math.floor(random() * 89_999)),
    country: 'FR',
  });
  const subtotal = lines.reduce((sum, line) => sum + line.total, 0);
  return {
    id,
    number: `ORD-2026-${String(n).padStart(7, '0')}`,
    status: 'confirmed',
    customer: { id: uuid(random), email: `customer.${hex(random, 6)}@example.com`, name: 'Camille Martin' },
    shippingAddress: address(),
    billingAddress: address(),
    lines,
    currency: 'EUR',
    subtotal,
    tax: Math.round(subtotal * 0.2),
    total: Math.round(subtotal * 1.2),
    paymentId: uuid(random),
    createdAt: isoDate(random),
    updatedAt: isoDate(random),
    links: { self: `/orders/${id}`, payment: `/orders/${id}/payment`, invoice: `/orders/${id}/invoice` },
  };
}

/** One order as its create route stores it (~1.5 KB with four lines; ~170 bytes less per line fewer). */
export function resourceRecord(n = 1, lineCount = 4): string {
  const random = seeded(1_000 + n);
  const body = order(random, n, lineCount);
  return JSON.stringify({ status: 201, headers: { location: (body.links as { self: string }).self }, body });
}

/** A page of orders with its paging (~8 KB). */
export function listRecord(n = 1): string {
  const random = seeded(100_000 + n);
  const data = Array.from({ length: 6 }, (_, index) => order(random, n * 10 + index));
  const body = { data, page: { size: 6, next: `/orders?cursor=${hex(random, 24)}`, total: 1_000 + n } };
  return JSON.stringify({ status: 200, headers: {}, body });
}

/** Responses between the payment and the resource, where compression starts to pay: for the threshold. */
export function thresholdSamples(): SampleResponse[] {
  const payments = (count: number) =>
    JSON.stringify({
      status: 200,
      headers: {},
      body: { data: Array.from({ length: count }, (_, index) => JSON.parse(paymentRecord(index + 1)).body) },
    });
  return [
    { name: 'two payments', json: payments(2) },
    { name: 'order, no lines', json: resourceRecord(1, 0) },
    { name: 'order, 1 line', json: resourceRecord(1, 1) },
    { name: 'order, 2 lines', json: resourceRecord(1, 2) },
    { name: 'order, 3 lines', json: resourceRecord(1, 3) },
  ];
}

/** The four samples, for tables. */
export function sampleResponses(n = 1): SampleResponse[] {
  return [
    { name: 'bench record', json: benchRecord(n) },
    { name: 'payment', json: paymentRecord(n) },
    { name: 'resource (~1.5 KB)', json: resourceRecord(n) },
    { name: 'list (~8 KB)', json: listRecord(n) },
  ];
}

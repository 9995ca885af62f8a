/*
 * BENCH_RESPONSE_BYTES for the trivial app: an order answered with its line items, about that many bytes of JSON,
 * so that the stored response is large enough for compression (and its cost) to matter. The items are built from a
 * fixed pseudo-random sequence over realistic fields (SKUs, product names, prices), not repeated text, so that
 * the JSON compresses as an API's documents do rather than as a run of one string would.
 */

const PRODUCTS = [
  'Espresso beans, dark roast',
  'Oat milk, barista edition',
  'Ceramic pour-over dripper',
  'Paper filters, size 02',
  'Gooseneck kettle, 1 l',
  'Burr grinder, conical',
  'Travel mug, insulated',
  'Cold brew bottle',
  'Milk frother, handheld',
  'Descaling tablets',
];

/** Line items for an order, deterministic per order number, adding up to about `bytes` of JSON. */
export function lineItems(order: number, bytes: number): Array<Record<string, unknown>> {
  let seed = (order * 2654435761) >>> 0;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const items: Array<Record<string, unknown>> = [];
  let size = 2;
  while (size < bytes) {
    const product = PRODUCTS[next() % PRODUCTS.length];
    const item = {
      sku: `SKU-${(next() % 900000) + 100000}`,
      name: product,
      quantity: (next() % 5) + 1,
      unitPrice: (next() % 5000) + 199,
      currency: 'EUR',
      warehouse: `WH-${next() % 40}`,
    };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  return items;
}

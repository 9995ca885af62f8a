import { Order, OrderStatus } from './order.entity';

/** What `POST /orders` answers: the order and where its payment stands. */
export interface PlacedOrderView {
  id: string;
  status: OrderStatus;
  paymentId?: string;
  declineReason?: string;
}

/** An order as `GET /orders/:id` shows it. */
export interface OrderView extends PlacedOrderView {
  customerId: string;
  amount: number;
  currency: string;
}

/** The answer of `POST /orders` (and so its replay) for `order`. */
export function placedOrderView(order: Order): PlacedOrderView {
  return {
    id: order.id,
    status: order.status,
    ...(order.paymentId !== null && { paymentId: order.paymentId }),
    ...(order.declineReason !== null && { declineReason: order.declineReason }),
  };
}

/** The answer of `GET /orders/:id` for `order`. */
export function orderView(order: Order): OrderView {
  const { id, status, ...payment } = placedOrderView(order);
  return { id, status, customerId: order.customerId, amount: order.amount, currency: order.currency, ...payment };
}

import { Injectable } from '@nestjs/common';

export interface Order {
  order: number;
  item: string;
}

@Injectable()
export class OrdersService {
  /** Orders really created: a replayed request must not add one. */
  created = 0;
  private pending: Promise<void> = Promise.resolve();

  async create(item: string): Promise<Order> {
    const order = ++this.created;
    await this.pending;
    return { order, item };
  }

  /**
   * Holds the orders created from now on, as a slow payment provider would, until the returned function is called:
   * the e2e tests send duplicates while the first request is still running.
   */
  hold(): () => void {
    let release!: () => void;
    this.pending = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.pending = Promise.resolve();
      release();
    };
  }
}

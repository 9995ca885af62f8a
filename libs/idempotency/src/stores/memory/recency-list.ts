/** One place in a `RecencyList`; whoever added the value keeps it to touch or remove the value in O(1). */
export interface RecencyNode<T> {
  readonly value: T;
  older: RecencyNode<T> | undefined;
  newer: RecencyNode<T> | undefined;
}

/**
 * Values from least to most recently used, as a doubly linked list: adding, touching, removing and finding the
 * least recently used are all O(1). A Map's re-insertion order would do the same until its front fills with
 * deleted slots that every look-up of the oldest entry has to step over.
 */
export class RecencyList<T> {
  private oldestNode: RecencyNode<T> | undefined;
  private newestNode: RecencyNode<T> | undefined;
  private count = 0;

  /** How many values the list holds. */
  get size(): number {
    return this.count;
  }

  /** The least recently used value, if any. */
  get oldest(): T | undefined {
    return this.oldestNode?.value;
  }

  /** Adds `value` as the most recently used and returns its node. */
  push(value: T): RecencyNode<T> {
    const node: RecencyNode<T> = { value, older: undefined, newer: undefined };
    this.append(node);
    this.count++;
    return node;
  }

  /** Marks the node's value as the most recently used. */
  touch(node: RecencyNode<T>): void {
    if (node === this.newestNode) return;
    this.unlink(node);
    this.append(node);
  }

  /** Takes the node out of the list; it must be one of this list's. */
  remove(node: RecencyNode<T>): void {
    this.unlink(node);
    this.count--;
  }

  private append(node: RecencyNode<T>): void {
    node.older = this.newestNode;
    node.newer = undefined;
    if (this.newestNode) this.newestNode.newer = node;
    else this.oldestNode = node;
    this.newestNode = node;
  }

  private unlink(node: RecencyNode<T>): void {
    if (node.older) node.older.newer = node.newer;
    else this.oldestNode = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.newestNode = node.older;
    node.older = undefined;
    node.newer = undefined;
  }
}

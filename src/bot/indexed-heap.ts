/** A binary min-heap whose items know their index (`pos`, -1 when in none), so one is removed or re-sorted in O(log n). */
export class IndexedHeap<T extends { pos: number }> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(c: T): boolean {
    return this.items[c.pos] === c;
  }

  push(c: T): void {
    c.pos = this.items.length;
    this.items.push(c);
    this.up(c.pos);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top) this.remove(top);
    return top;
  }

  remove(c: T): void {
    const last = this.items.pop()!;
    if (last !== c) {
      this.items[c.pos] = last;
      last.pos = c.pos;
      this.update(last);
    }
    c.pos = -1;
  }

  /** Its key changed: move it up or down to its place. */
  update(c: T): void {
    this.down(this.up(c.pos));
  }

  private up(i: number): number {
    const c = this.items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = this.items[parent]!;
      if (!this.before(c, p)) break;
      this.place(p, i);
      i = parent;
    }
    this.place(c, i);
    return i;
  }

  private down(i: number): void {
    const c = this.items[i]!;
    const n = this.items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.before(this.items[child + 1]!, this.items[child]!)) child++;
      const ch = this.items[child]!;
      if (!this.before(ch, c)) break;
      this.place(ch, i);
      i = child;
    }
    this.place(c, i);
  }

  private place(c: T, i: number): void {
    this.items[i] = c;
    c.pos = i;
  }
}

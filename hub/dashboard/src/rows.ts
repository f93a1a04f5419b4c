import { patch } from './patch.js';

/** Rows drawn at once on a list's first render; the rest follow right after the first paint. */
const FIRST_SCREEN = 120;

/**
 * A long list kept in step with its data at little cost: a row is built only when what it shows changed (its
 * signature), changed rows are patched in place, and the first render draws a screenful before the rest.
 */
export class KeyedRows<T> {
  private readonly rows = new Map<string, { sig: string; el: HTMLElement }>();
  private rest: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly body: HTMLElement,
    private readonly opts: {
      key: (item: T) => string;
      /** Everything the row shows, as text: equal signatures mean an equal row. */
      sig: (item: T) => string;
      build: (item: T) => HTMLElement;
    },
  ) {}

  show(items: T[]): void {
    clearTimeout(this.rest);
    const first = !this.body.firstChild && items.length > FIRST_SCREEN;
    const now = first ? items.slice(0, FIRST_SCREEN) : items;
    const els = now.map((item) => this.row(item));
    const keep = new Set(now.map(this.opts.key));
    for (const k of this.rows.keys()) if (!keep.has(k) && !first) this.rows.delete(k);
    if (!this.inOrder(els)) this.body.replaceChildren(...els);
    if (first) this.rest = setTimeout(() => this.show(items), 0);
  }

  private row(item: T): HTMLElement {
    const key = this.opts.key(item);
    const sig = this.opts.sig(item);
    const known = this.rows.get(key);
    if (known?.sig === sig) return known.el;
    const el = this.opts.build(item);
    if (known) {
      patch(known.el, el);
      known.sig = sig;
      return known.el;
    }
    this.rows.set(key, { sig, el });
    return el;
  }

  private inOrder(els: HTMLElement[]): boolean {
    const children = this.body.children;
    if (children.length !== els.length) return false;
    return els.every((el, i) => children[i] === el);
  }
}

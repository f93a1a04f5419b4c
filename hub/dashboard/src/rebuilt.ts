import { h } from './dom.js';
import type { View } from './view.js';

/** True while a redraw would lose something: the user is in a field, or the page holds input not yet submitted. */
function holding(root: Element): boolean {
  const active = document.activeElement;
  const typing = !!active && root.contains(active) && ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName);
  return typing || root.querySelector('[data-edited]') !== null;
}

/** Says on the page that newer data is held back; the notice goes with the page's next redraw of its own content. */
function showHeld(root: Element): void {
  if (root.querySelector('.held')) return;
  root.prepend(
    h(
      'p',
      { class: 'held', role: 'status' },
      'Newer data arrived. It shows once you submit or leave what you are editing here.',
    ),
  );
}

/**
 * A page drawn whole from its data (KPIs, Models): a live update draws it again and swaps it in, unless the user is
 * editing something on it, in which case the update waits and the page says so.
 */
export async function rebuilt(title: string, build: () => Promise<HTMLElement>): Promise<View> {
  const view: View = {
    title,
    root: await build(),
    async refresh() {
      if (holding(view.root)) return showHeld(view.root);
      const next = await build();
      if (holding(view.root)) return showHeld(view.root);
      view.root.replaceWith(next);
      view.root = next;
    },
  };
  return view;
}

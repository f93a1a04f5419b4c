import morphdom from 'morphdom';

/**
 * Brings `current` in line with `next` (built afresh from new data), changing only the nodes that differ, so what the
 * user holds survives a live update: a focused or edited field, and anything marked data-keep (a chart) is left alone.
 * Children with a data-key are matched by it, so a row that moved is moved, not rebuilt.
 */
export function patch(current: Element, next: Element): void {
  // Nothing drawn yet (a page's first render): take the new children as they are, with no diffing to do.
  if (!current.firstChild) {
    for (const { name, value } of next.attributes) current.setAttribute(name, value);
    current.replaceChildren(...next.childNodes);
    return;
  }
  morphdom(current, next, {
    getNodeKey: (node) => (node instanceof HTMLElement ? (node.dataset.key ?? null) : null),
    onBeforeElUpdated: (from) => {
      if (from instanceof HTMLElement && from.hasAttribute('data-keep')) return false;
      if (from === document.activeElement && from.matches('input, select, textarea')) return false;
      return !from.hasAttribute('data-edited');
    },
  });
}

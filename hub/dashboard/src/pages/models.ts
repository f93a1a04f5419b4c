import { api } from '../api.js';
import { h } from '../dom.js';

/** Which devices run which model version (from their status messages). */
export async function modelsPage(): Promise<HTMLElement> {
  const devices = await api.devices();
  const byVersion = new Map<string, string[]>();
  for (const d of devices) {
    const version = d.modelVersion ?? 'unknown';
    byVersion.set(version, [...(byVersion.get(version) ?? []), `${d.site}/${d.device}`]);
  }
  return h(
    'main',
    {},
    h('h1', {}, 'Models'),
    h(
      'table',
      { class: 'list', 'aria-label': 'Model versions in the fleet' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Model version'), h('th', {}, 'Devices'), h('th', {}, 'Count'))),
      h('tbody', {}, ...[...byVersion].map(([version, list]) => h('tr', {}, h('td', {}, version), h('td', {}, list.join(', ')), h('td', {}, list.length)))),
    ),
  );
}

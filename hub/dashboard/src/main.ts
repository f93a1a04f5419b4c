import { api, ApiError, type User } from './api.js';
import { h, replace } from './dom.js';
import { fleetPage } from './pages/fleet.js';
import { inspectionPage } from './pages/inspection.js';
import { inspectionsPage } from './pages/inspections.js';
import { kpisPage } from './pages/kpis.js';
import { loginPage } from './pages/login.js';
import { machinePage } from './pages/machine.js';
import { modelsPage } from './pages/models.js';
import './style.css';

const app = document.getElementById('app')!;
let user: User | undefined;

const NAV: Array<[string, string]> = [
  ['#/fleet', 'Fleet'],
  ['#/inspections', 'Inspections'],
  ['#/kpis', 'KPIs'],
  ['#/models', 'Models'],
];

function header(current: string): HTMLElement {
  return h(
    'header',
    {},
    h('strong', { class: 'brand' }, 'edge-pdm'),
    h(
      'nav',
      { 'aria-label': 'Main' },
      ...NAV.map(([href, label]) =>
        h('a', { href, 'aria-current': current.startsWith(href) ? 'page' : undefined }, label),
      ),
    ),
    h('span', { class: 'who' }, `${user?.username} (${user?.role})`),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => void api.logout().finally(() => ((user = undefined), source?.close(), render())),
      },
      'Sign out',
    ),
  );
}

function page(hash: string): Promise<HTMLElement> {
  const [, route = 'fleet', a, b] = hash.replace(/^#\/?/, '#/').split('/');
  switch (route) {
    case 'inspections':
      return inspectionsPage();
    case 'inspection':
      return inspectionPage(decodeURIComponent(a ?? ''), user!, render);
    case 'machine':
      return machinePage(decodeURIComponent(a ?? ''), decodeURIComponent(b ?? ''));
    case 'kpis':
      return kpisPage();
    case 'models':
      return modelsPage();
    default:
      return fleetPage();
  }
}

/** True while the user types in a form field: a live redraw would throw their input away. */
function typing(): boolean {
  const active = document.activeElement;
  return !!active && ['INPUT', 'TEXTAREA', 'SELECT'].includes(active.tagName);
}

// A control the user changed is marked: the page holds their unsaved input (rollout roles, a comment) until it redraws
// itself after they submit. Controls whose value the page keeps across redraws (the filters) are marked data-kept.
for (const type of ['input', 'change']) {
  app.addEventListener(type, (event) => {
    if (event.target instanceof Element && !event.target.closest('[data-kept]'))
      event.target.setAttribute('data-edited', '');
  });
}

/** True while a live redraw would lose something: the user is in a field, or the page holds input not yet submitted. */
function holding(): boolean {
  return typing() || app.querySelector('[data-edited]') !== null;
}

/** Says on the page that newer data is held back; the notice goes with the page's next redraw of its own content. */
function showHeld(): void {
  const main = app.querySelector('main');
  if (!main || main.querySelector('.held')) return;
  main.prepend(
    h(
      'p',
      { class: 'held', role: 'status' },
      'Newer data arrived. It shows once you submit or leave what you are editing here.',
    ),
  );
}

let rendering = 0;
/** Draws the current page; a redraw for a live update (`live`) is dropped if the user started typing while it loaded. */
async function render(opts: { live?: boolean } = {}): Promise<void> {
  const ticket = ++rendering;
  if (!user) user = await api.me();
  if (!user)
    return replace(
      app,
      loginPage(() => void render()),
    );
  live();
  const hash = location.hash || '#/fleet';
  try {
    const content = await page(hash);
    if (ticket !== rendering) return;
    if (opts.live && holding()) return showHeld();
    replace(app, header(hash), content);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      user = undefined;
      return render();
    }
    replace(app, header(hash), h('main', {}, h('p', { class: 'error', role: 'alert' }, (error as Error).message)));
  }
}

/** Which live topics each page shows: a page is redrawn only for changes it displays. */
const TOPICS: Record<string, string[]> = {
  fleet: ['device', 'inspection', 'stats'],
  machine: ['device', 'inspection', 'stats'],
  inspections: ['inspection'],
  inspection: ['inspection'],
  kpis: ['inspection'],
  models: ['device'],
};

/** Live updates: the hub pushes a line whenever devices, inspections or scores change; the open page is redrawn (at most 1/s). */
let source: EventSource | undefined;
let pending = false;
function live(): void {
  // One stream per signed-in tab; a stream refused before login (401) is closed for good, so open a new one.
  if (source && source.readyState !== EventSource.CLOSED) return;
  source = new EventSource('/api/stream');
  source.onmessage = (message: MessageEvent<string>) => {
    const route = (location.hash || '#/fleet').split('/')[1] ?? 'fleet';
    const topic = (JSON.parse(message.data) as { topic: string }).topic;
    if (!(TOPICS[route] ?? TOPICS.fleet!).includes(topic)) return;
    if (pending || !user) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      // Do not redraw under a user who is editing (checked again once the page's data has loaded).
      if (holding()) showHeld();
      else void render({ live: true });
    }, 1000);
  };
}

window.addEventListener('hashchange', () => void render());
void render();

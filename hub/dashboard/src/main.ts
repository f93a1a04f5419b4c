import { api, ApiError, Unreachable, type User } from './api.js';
import { Connection } from './connection.js';
import { h, replace } from './dom.js';
import { fleetPage } from './pages/fleet.js';
import { inspectionPage } from './pages/inspection.js';
import { inspectionsPage } from './pages/inspections.js';
import { kpisPage } from './pages/kpis.js';
import { loginPage } from './pages/login.js';
import { machinePage } from './pages/machine.js';
import { modelsPage } from './pages/models.js';
import { rebuilt } from './rebuilt.js';
import type { View } from './view.js';
import './style.css';

const app = document.getElementById('app')!;
let user: User | undefined;
let view: View | undefined;

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
        onclick: () =>
          void api.logout().finally(() => {
            user = undefined;
            connection.close();
            location.hash = '#/login';
          }),
      },
      'Sign out',
    ),
  );
}

function page(hash: string, me: User): Promise<View> {
  const [, route = 'fleet', a, b] = hash.split('/');
  switch (route) {
    case 'inspections':
      return inspectionsPage();
    case 'inspection':
      return inspectionPage(decodeURIComponent(a ?? ''), me);
    case 'machine':
      return machinePage(decodeURIComponent(a ?? ''), decodeURIComponent(b ?? ''));
    case 'kpis':
      return rebuilt('KPIs', kpisPage);
    case 'models':
      return rebuilt('Models', modelsPage);
    default:
      return fleetPage();
  }
}

const current = (): string => (location.hash || '#/fleet').replace(/^#\/?/, '#/');

/** To the sign-in page, remembering where the user was so that signing in brings them back there. */
function toLogin(from = current()): void {
  user = undefined;
  connection.close();
  view?.dispose?.();
  view = undefined;
  location.hash = from.startsWith('#/login') ? from : `#/login?next=${encodeURIComponent(from)}`;
}

function showLogin(hash: string): void {
  const next = new URLSearchParams(hash.split('?')[1] ?? '').get('next') ?? '#/fleet';
  document.title = 'Sign in · edge-pdm';
  replace(
    app,
    loginPage((signedIn) => {
      user = signedIn;
      const target = next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/fleet';
      if (current() === target) void open();
      else location.hash = target;
    }),
  );
}

/** A failure while reading the hub: a lost connection is retried, a 401 goes to sign in, anything else is said. */
function failed(error: unknown): void {
  if (error instanceof Unreachable) {
    // Nothing on screen yet (the hub was down when the page loaded): the notice alone, until the hub answers.
    if (!app.contains(connection.banner)) replace(app, connection.banner, h('main', {}, h('h1', {}, 'edge-pdm')));
    return connection.lost();
  }
  if (error instanceof ApiError && error.status === 401) return toLogin();
  const message = h('p', { class: 'error', role: 'alert' }, (error as Error).message);
  if (view) view.root.prepend(message);
  else replace(app, header(current()), connection.banner, h('main', {}, message));
}

let opening = 0;
/** Builds the page the address names; live updates then change it in place (View.refresh). */
async function open(): Promise<void> {
  const ticket = ++opening;
  const hash = current();
  if (hash.startsWith('#/login')) return showLogin(hash);
  try {
    if (!user) user = await api.me();
    if (!user) return toLogin(hash);
    const next = await page(hash, user);
    if (ticket !== opening) return next.dispose?.();
    view?.dispose?.();
    view = next;
    document.title = `${next.title} · edge-pdm`;
    replace(app, header(hash), connection.banner, next.root);
    // When the first page stood complete, for the render-time check (performance.getEntriesByName).
    if (!performance.getEntriesByName('pdm:first-render').length) performance.mark('pdm:first-render');
    connection.open();
  } catch (error) {
    if (ticket !== opening) return;
    view?.dispose?.();
    view = undefined;
    failed(error);
  }
}

/** Which live topics each page shows: a page is re-read only for changes it displays. */
const TOPICS: Record<string, string[]> = {
  fleet: ['device', 'device.health', 'inspection', 'stats'],
  machine: ['device', 'device.health', 'inspection', 'stats'],
  inspections: ['inspection', 'device.health'],
  inspection: ['inspection', 'device.health'],
  kpis: ['inspection'],
  models: ['device', 'models'],
};

let pending: ReturnType<typeof setTimeout> | undefined;
/** Re-reads the open page at most once a second, whatever the rate of changes. */
function refreshSoon(): void {
  if (pending !== undefined) return;
  pending = setTimeout(() => {
    pending = undefined;
    const shown = view;
    if (!shown) return;
    shown.refresh().then(
      // Counted on the page, so a test (or a curious user) can tell that a live update has landed.
      () => (shown.root.dataset.updates = String(Number(shown.root.dataset.updates ?? 0) + 1)),
      (error: unknown) => shown === view && failed(error),
    );
  }, 1000);
}

const connection = new Connection({
  onTopic: (topic) => {
    const route = current().split('/')[1] ?? 'fleet';
    if ((TOPICS[route] ?? TOPICS.fleet!).includes(topic) && user) refreshSoon();
  },
  probe: async () => {
    user = await api.me();
    if (!user) throw new ApiError(401, 'signed out');
  },
  recovered: () => (view ? refreshSoon() : void open()),
  failed,
});

// Deadlines ("due in 12 min") and ages move on without any change on the hub.
setInterval(() => {
  if (user && !connection.lostNow && !document.hidden) refreshSoon();
}, 30_000);

// A control the user changed is marked: the page holds their unsaved input (rollout roles, a comment) until it draws
// itself again after they submit. Controls whose value the page keeps across updates (the filters) are marked data-kept.
for (const type of ['input', 'change']) {
  app.addEventListener(type, (event) => {
    if (event.target instanceof Element && !event.target.closest('[data-kept]'))
      event.target.setAttribute('data-edited', '');
  });
}

window.addEventListener('hashchange', () => void open());
void open();

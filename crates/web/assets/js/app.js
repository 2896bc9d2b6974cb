// The app shell: a hash router over the pages, the hub's light in the header, and one
// server-sent event stream shared by every page so nothing needs a reload.
import { get, loggingOut, post, toLogin } from './api.js';
import { h, light, lightName, toast } from './ui.js';
import * as dashboard from './dashboard.js';
import * as camera from './camera.js';
import * as doctor from './doctor.js';
import * as add from './add.js';
import * as hub from './hub.js';

const view = document.getElementById('view');
let current = null;
const listeners = new Set();

// Every SSE message goes to the current page's listener; the page decides what to
// refetch. `window.wlEvents` keeps the arrival time of each event for the latency
// figure the browser tests read.
window.wlEvents = [];
let es = null;
function connect() {
  es = new EventSource('/api/v1/events/stream');
  const kinds = ['state', 'telemetry', 'event', 'availability', 'pairing', 'paired', 'clip',
    'command', 'settings', 'arming', 'hub_light', 'hub_network', 'notification', 'forgotten',
    'lagged', 'live', 'snapshot', 'diagnosis'];
  for (const kind of kinds) {
    es.addEventListener(kind, (m) => {
      let data = {};
      try { data = JSON.parse(m.data); } catch { /* keep {} */ }
      data.type = data.type || kind;
      window.wlEvents.push({ type: kind, ts: data.ts, data: data.data, arrived: Date.now() });
      if (window.wlEvents.length > 2000) window.wlEvents.splice(0, 1000);
      for (const f of listeners) f(data);
    });
  }
  es.addEventListener('open', () => document.body.classList.remove('disconnected'));
  es.addEventListener('error', async () => {
    document.body.classList.add('disconnected');
    // EventSource retries by itself; a 401 (session over) never recovers, so check.
    try {
      await get('/arm');
    } catch { /* api() sends a 401 to the login page */ }
  });
}

export function onEvent(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

async function hubLight() {
  try {
    const s = await get('/hub');
    showHubLight(s.light);
  } catch { /* the header stays empty */ }
}

// The hub's status light: two LEDs (blue and green) or one red, as on the box.
function showHubLight(l) {
  const box = document.getElementById('hub-light');
  box.replaceChildren();
  if (!l) return;
  const leds = l.lights || [l];
  for (const led of leds) box.append(light(led, `hub ${lightName(led)}`));
  box.append(h('span', { class: 'hub-words' }, l.meaning || ''));
}

const routes = [
  [/^#?\/?$/, () => dashboard],
  [/^#\/camera\/([^/]+)\/doctor$/, () => doctor],
  [/^#\/camera\/([^/]+)$/, () => camera],
  [/^#\/add$/, () => add],
  [/^#\/hub$/, () => hub],
  [/^#\/reports$/, () => hub.reports],
  [/^#\/settings$/, () => hub.alerts],
];

// `moved` is true when the owner navigated inside the app: focus then moves to the new
// page, as a screen reader expects; on a fresh load it stays at the top of the document,
// so the first Tab reaches "Skip to content" and the navigation.
async function route(moved) {
  if (current && current.leave) current.leave();
  current = null;
  listeners.clear();
  listeners.add((e) => {
    if (e.type === 'hub_light') showHubLight(e.data && (e.data.light || e.data));
  });
  const hash = location.hash || '#/';
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      const mod = page();
      view.replaceChildren();
      for (const a of document.querySelectorAll('nav a')) {
        if (a.getAttribute('href') === hash) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      try {
        current = (await mod.show(view, { params: m.slice(1).map(decodeURIComponent), onEvent })) || null;
      } catch (e) {
        if (e.status !== 401) view.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message));
      }
      if (moved === true && !view.contains(document.activeElement)) view.focus({ preventScroll: true });
      return;
    }
  }
  view.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the cameras')));
}

document.getElementById('logout').addEventListener('click', async () => {
  // The stream would notice the ended session and send the owner to the login page
  // as "expired"; this is a logout.
  if (es) es.close();
  loggingOut();
  try {
    await post('/logout');
  } finally {
    location.assign('/login?out=1');
  }
});

window.addEventListener('hashchange', () => route(true));
// The skip link's own "#view" would be read as a route by the hash router.
document.querySelector('a.skip').addEventListener('click', (e) => {
  e.preventDefault();
  view.focus();
});
window.addEventListener('unhandledrejection', (e) => {
  if (e.reason && e.reason.status === 401) return;
  toast(String(e.reason && e.reason.message ? e.reason.message : e.reason), 'error');
});

(async () => {
  try {
    await get('/arm');
  } catch (e) {
    if (e.status !== 401) toLogin();
    return;
  }
  connect();
  hubLight();
  route(false);
})();

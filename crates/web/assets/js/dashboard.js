// The dashboard: every camera as a card with the light it shows now (animated as on
// the device, with its meaning), cameras that need attention first; arming; the
// notifications feed. Every event from the hub refreshes the card it concerns.
import { get, post } from './api.js';
import {
  act, ago, batteryWords, h, light, needsAttention, signalBars, signalWords, stateWords, time,
} from './ui.js';

// Arrival and render times of events, read by the browser tests' latency figure.
window.wlRendered = window.wlRendered || [];

export async function show(view, { onEvent }) {
  const cams = new Map();
  const clips = new Map();
  const grid = h('div', { class: 'cards', id: 'cards' });
  const banner = h('div', { id: 'banner', role: 'status' });
  const arming = h('div', { class: 'arming', role: 'group', 'aria-label': 'Arming' });
  const feed = h('ol', { class: 'feed', id: 'feed' });
  // Journey 7: after Away, what would fail while nobody is home.
  const ready = h('section', { class: 'card ready', id: 'ready', 'aria-labelledby': 'ready-title', hidden: true });
  let mode = null;

  view.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Cameras'), arming),
    banner,
    ready,
    grid,
    h('section', { class: 'feed-box', 'aria-labelledby': 'feed-title' },
      h('h2', { id: 'feed-title' }, 'Notifications'), feed),
  );

  async function loadCamera(id) {
    try {
      cams.set(id, await get(`/cameras/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e.status === 404) cams.delete(id);
      else throw e;
    }
  }

  async function loadClips(id) {
    try {
      const c = await get(`/cameras/${encodeURIComponent(id)}/clips`);
      const newest = (c.clips || []).sort((a, b) => b.sort_ts - a.sort_ts);
      clips.set(id, newest.find((x) => x.thumbnail) || newest[0] || null);
    } catch { clips.set(id, null); }
  }

  function card(cam) {
    const l = cam.light || {};
    const clip = clips.get(cam.id);
    const telemetry = cam.telemetry || {};
    const rssi = telemetry.rssi_dbm;
    const attention = needsAttention(cam);
    const thumb = clip && clip.thumbnail
      ? h('img', { src: `/api/v1/clips/${encodeURIComponent(clip.clip_id)}/thumbnail`, alt: `Last clip from ${cam.name}`, loading: 'lazy' })
      : h('div', { class: 'no-thumb' }, 'No clip yet');
    const lastMotion = clip ? clip.sort_ts : null;
    return h('article', {
      class: `card cam${attention ? ' attention' : ''}`,
      id: `cam-${cam.id}`,
      'data-light': l.light_id,
      'aria-labelledby': `name-${cam.id}`,
    },
    h('a', { class: 'thumb', href: `#/camera/${encodeURIComponent(cam.id)}`, tabindex: '-1', 'aria-hidden': 'true' }, thumb),
    h('div', { class: 'body' },
      h('h2', { id: `name-${cam.id}` }, h('a', { href: `#/camera/${encodeURIComponent(cam.id)}` }, cam.name)),
      h('p', { class: 'light-line' }, light(l), h('span', { class: 'meaning' }, l.doing || l.meaning || '')),
      h('dl', { class: 'facts' },
        h('dt', {}, 'State'), h('dd', { class: 'state' }, stateWords(cam)),
        h('dt', {}, 'Battery'), h('dd', { class: 'battery' }, batteryWords(cam)),
        h('dt', {}, 'Signal'), h('dd', { class: 'signal' }, signalBars(rssi), ' ', signalWords(rssi)),
        h('dt', {}, 'Last motion'), h('dd', {}, lastMotion ? `${time(lastMotion)} (${ago(lastMotion)})` : 'none yet'),
      ),
      attention ? h('p', { class: 'actions' },
        h('a', { class: 'button primary', href: `#/camera/${encodeURIComponent(cam.id)}/doctor` },
          l.color === 'red' ? 'Why is it flashing red?' : 'What is wrong?')) : null,
    ));
  }

  // Cameras that need attention first, then by name: the grid's order, and the banner
  // names the first of them.
  function sorted() {
    return [...cams.values()].sort((a, b) =>
      (needsAttention(b) - needsAttention(a)) || a.name.localeCompare(b.name, undefined, { numeric: true }));
  }

  function render() {
    const list = sorted();
    if (!list.length) {
      grid.replaceChildren(h('p', { class: 'empty' }, 'No cameras yet. ',
        h('a', { href: '#/add', class: 'button primary' }, 'Add a camera')));
    } else {
      grid.replaceChildren(...list.map(card));
    }
    return renderSummary();
  }

  // What stands above the cards and follows every camera: the banner, "Ready to leave?".
  function renderSummary() {
    renderBanner(sorted());
    return renderReady();
  }

  function renderBanner(list) {
    const lost = list.filter((c) => c.availability === 'offline');
    if (lost.length > 1) {
      const since = Math.min(...lost.map((c) => (c.light && c.light.since_ms) || Date.now()));
      banner.className = 'banner warn';
      banner.textContent = `${lost.length} cameras lost the network around ${time(since)}: `
        + 'the router or the Wi-Fi is the likely cause.';
    } else if (list.some(needsAttention)) {
      const first = list.find(needsAttention);
      banner.className = 'banner warn';
      banner.textContent = `${first.name} needs attention.`;
    } else {
      banner.className = 'banner ok';
      banner.textContent = list.length ? 'All cameras are fine.' : '';
    }
  }

  // The hub's status for the list below, asked at most every 10 s: the list follows
  // every camera's change, the hub's disk changes slowly.
  let hubAsked = null;
  async function hubForReady() {
    if (!hubAsked || Date.now() - hubAsked.at > 10000) {
      hubAsked = { at: Date.now(), status: get('/hub').catch(() => ({})) };
    }
    return hubAsked.status;
  }

  // What would fail during a week away: a camera offline, batteries for under 14 days,
  // a weak signal (under -70 dBm drops clips), the hub's disk nearly full.
  async function renderReady() {
    if (mode !== 'away') {
      ready.hidden = true;
      return;
    }
    const hubStatus = await hubForReady();
    const items = [];
    const link = (c, words) => h('li', {}, h('a', { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), `: ${words}`);
    for (const c of [...cams.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) {
      const b = c.battery;
      const rssi = (c.telemetry || {}).rssi_dbm;
      if (c.availability === 'offline') items.push(link(c, 'offline, so it cannot record.'));
      if (b && b.days_left != null && b.days_left < 14) items.push(link(c, `batteries for about ${Math.round(b.days_left)} days only.`));
      if (rssi != null && rssi < -70) items.push(link(c, `weak signal (${rssi} dBm): clips may not arrive.`));
    }
    if (hubStatus.disk_free_pct != null && hubStatus.disk_free_pct < 10) {
      items.push(h('li', {}, h('a', { href: '#/hub' }, 'The hub'), `: its disk is ${Math.round(100 - hubStatus.disk_free_pct)} % full.`));
    }
    const armed = cams.size;
    ready.replaceChildren(
      h('h2', { id: 'ready-title' }, 'Ready to leave?'),
      h('p', {}, `Away: ${armed} camera${armed === 1 ? '' : 's'} armed.`),
      items.length
        ? h('div', {}, h('p', {}, 'What could fail while you are away:'), h('ul', { id: 'ready-list' }, items))
        : h('p', { id: 'ready-ok' }, 'Nothing would fail while you are away.'),
    );
    ready.hidden = false;
  }

  function renderArming(a) {
    mode = a.mode;
    const button = (m, label, path, body) => h('button', {
      type: 'button',
      class: mode === m ? 'primary' : '',
      'aria-pressed': mode === m ? 'true' : 'false',
      onclick: (e) => act(e.currentTarget, async () => {
        renderArming(await post(path, body));
        await renderReady();
      }),
    }, label);
    arming.replaceChildren(
      button('away', 'Away', '/arm', { mode: 'away' }),
      button('home', 'Home', '/arm', { mode: 'home' }),
      button('disarmed', 'Disarm', '/disarm', {}),
    );
  }

  function notice(n) {
    const target = n.camera ? `#/camera/${encodeURIComponent(n.camera)}` : '#/';
    return h('li', { class: `notice kind-${n.kind}` },
      h('time', { datetime: new Date(n.at_ms).toISOString() }, time(n.at_ms)), ' ',
      h('a', { href: target }, n.title));
  }

  const [list, arm, notes] = await Promise.all([get('/cameras'), get('/arm'), get('/notifications?limit=30')]);
  renderArming(arm);
  for (const c of list.cameras) cams.set(c.id, c);
  await Promise.all(list.cameras.map((c) => loadClips(c.id)));
  await render();
  feed.replaceChildren(...(notes.notifications || []).map(notice));

  onEvent(async (e) => {
    const id = e.device;
    if (e.type === 'arming') {
      renderArming(e.data);
      await renderReady();
    }
    if (e.type === 'notification') feed.prepend(notice(e.data));
    if (e.type === 'lagged') {
      const all = await get('/cameras');
      cams.clear();
      for (const c of all.cameras) cams.set(c.id, c);
      render();
      return;
    }
    if (!id || e.type === 'notification' || e.type === 'telemetry' && !cams.has(id)) return;
    const wantsClip = e.type === 'event' && e.data && e.data.event === 'clip_recorded';
    // The camera's own time of a state or event (its clock is the hub's, set at each
    // connection), so the figure can run from the camera, not only from the hub.
    const cameraTs = ['state', 'event'].includes(e.type) && e.data ? e.data.ts : undefined;
    refresh(id, wantsClip, { ts: e.ts, cameraTs });
  });

  // One fetch per camera at a time: events that arrive while its fetch is out wait for
  // one more fetch (which starts after them, so it sees what they announced) instead of
  // a fetch each. A button press alone sends several light changes within a second.
  const refreshing = new Map();
  function refresh(id, wantsClip, times) {
    let r = refreshing.get(id);
    if (!r) {
      r = { clip: false, waiting: [] };
      refreshing.set(id, r);
    }
    r.clip = r.clip || wantsClip;
    r.waiting.push(times);
    if (r.running) return;
    r.running = (async () => {
      while (r.waiting.length) {
        const answered = r.waiting;
        const clip = r.clip;
        r.waiting = [];
        r.clip = false;
        try {
          await Promise.all([loadCamera(id), clip ? loadClips(id) : null]);
        } catch { continue; }
        renderCamera(id);
        const now = Date.now();
        for (const t of answered) window.wlRendered.push({ ...t, rendered: now });
        if (window.wlRendered.length > 5000) window.wlRendered.splice(0, 2500);
      }
      r.running = null;
    })();
  }

  // Replaces one camera's card where it stands, unless the change moves it (attention
  // sorts first) or it came or went: then the whole grid. The thumbnail element is kept
  // when the clip is the same, so the picture does not flicker or load again.
  function renderCamera(id) {
    const old = document.getElementById(`cam-${id}`);
    const cam = cams.get(id);
    const name = old && old.querySelector('h2').textContent;
    if (!old || !cam || name !== cam.name
      || old.classList.contains('attention') !== needsAttention(cam)) {
      render();
      return;
    }
    const fresh = card(cam);
    const oldImg = old.querySelector('.thumb img');
    const newImg = fresh.querySelector('.thumb img');
    // (Only a picture that loaded: one asked for before the hub had written it failed
    // and must be asked again.)
    if (oldImg && newImg && oldImg.complete && oldImg.naturalWidth > 0
      && oldImg.getAttribute('src') === newImg.getAttribute('src')) {
      newImg.replaceWith(oldImg);
    }
    old.replaceWith(fresh);
    renderSummary();
  }
}

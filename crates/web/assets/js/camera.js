// One camera: its light and state, the picture (snapshot or live), clips on a day
// timeline with a player, settings with activity zones drawn over the picture,
// battery and signal charts, events and the maintenance actions.
import { get, post, patch, del } from './api.js';
import {
  act, ago, batteryWords, duration, h, light, needsAttention, signalWords, stateWords, svg,
  time, toast,
} from './ui.js';
import { lineChart } from './charts.js';

const enc = encodeURIComponent;
// A transparent 1×1 GIF: what a closed live view's image points at.
const BLANK = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

// The capture time a camera writes into each live picture (watchlight-media's timecode.rs:
// 2 rows of 24 blocks of 8×8 pixels, the marker 1010 then 44 bits of hub milliseconds).
const TIMECODE = { block: 8, columns: 24, rows: 2, marker: 0b1010, timeBits: 44 };

// When the picture the image shows now was captured (hub ms), or null without a timecode.
function captureTime(img, canvas) {
  const { block, columns, rows } = TIMECODE;
  const w = block * columns;
  const ht = block * rows;
  if (img.naturalWidth < w || img.naturalHeight < ht) return null;
  canvas.width = w;
  canvas.height = ht;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  try {
    ctx.drawImage(img, 0, 0, w, ht, 0, 0, w, ht);
  } catch {
    return null;
  }
  const px = ctx.getImageData(0, 0, w, ht).data;
  let word = 0; // 48 bits: exact in a double
  for (let bit = 0; bit < columns * rows; bit++) {
    const x = (bit % columns) * block + block / 2;
    const y = Math.floor(bit / columns) * block + block / 2;
    word = word * 2 + (px[(y * w + x) * 4] >= 128 ? 1 : 0);
  }
  const span = 2 ** TIMECODE.timeBits;
  return Math.floor(word / span) === TIMECODE.marker ? word % span : null;
}

export async function show(view, { params, onEvent }) {
  const id = params[0];
  const base = `/cameras/${enc(id)}`;
  let cam = await get(base);
  let clips = [];
  let liveTimer = null;
  let liveFrame = null;
  // The settings version saved here that the camera has not reported yet.
  let pendingVersion = null;
  const appliedWords = (version) => `Applied on the camera ✓ (version ${version})`;
  // A battery camera between check-ins gets settings and commands when it next wakes.
  const asleep = () => cam.power === 'battery' && cam.availability !== 'online';

  const head = h('div', { class: 'cam-head' });
  const picture = h('div', { class: 'picture' });
  const pictureNote = h('p', { class: 'muted', id: 'picture-note', role: 'status' });
  const timeline = h('div', { class: 'timeline', id: 'timeline' });
  const clipList = h('ul', { class: 'clip-list', id: 'clips' });
  const player = h('div', { class: 'player', id: 'player' });
  const settingsBox = h('form', { class: 'card stack settings', id: 'settings' });
  const charts = h('div', { class: 'charts', id: 'charts' });
  const events = h('ol', { class: 'events', id: 'events' });
  const tools = h('div', { class: 'card stack tools' });

  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, '← All cameras')),
    head,
    h('div', { class: 'cam-grid' },
      h('section', { 'aria-labelledby': 'pic-title', class: 'card' },
        h('h2', { id: 'pic-title' }, 'Picture'), picture, pictureNote,
        h('p', { class: 'buttons' },
          h('button', { type: 'button', id: 'snapshot', onclick: (e) => act(e.currentTarget, snapshot) }, 'Take a snapshot'),
          h('button', { type: 'button', id: 'live', class: 'primary', onclick: (e) => act(e.currentTarget, startLive) }, 'Live'))),
      h('section', { 'aria-labelledby': 'clips-title', class: 'card' },
        h('h2', { id: 'clips-title' }, 'Clips'), timeline, player, clipList)),
    h('div', { class: 'cam-grid' },
      h('section', { 'aria-labelledby': 'set-title' }, h('h2', { id: 'set-title' }, 'Settings'), settingsBox),
      h('section', { 'aria-labelledby': 'health-title' }, h('h2', { id: 'health-title' }, 'Battery and signal'), charts)),
    h('div', { class: 'cam-grid' },
      h('section', { 'aria-labelledby': 'ev-title' }, h('h2', { id: 'ev-title' }, 'Events'), events),
      h('section', { 'aria-labelledby': 'tools-title' }, h('h2', { id: 'tools-title' }, 'Maintenance'), tools)),
  );

  function renderHead() {
    const l = cam.light || {};
    head.replaceChildren(
      h('h1', {}, cam.name),
      h('p', { class: 'light-line big', id: 'cam-light', 'data-light': l.light_id },
        light(l), h('span', { class: 'meaning' }, l.doing || l.meaning || '')),
      h('p', { class: 'facts-line' },
        h('span', { id: 'cam-state' }, stateWords(cam)), ' · ',
        h('span', {}, `Battery: ${batteryWords(cam)}`), ' · ',
        h('span', {}, `Signal: ${signalWords((cam.telemetry || {}).rssi_dbm)}`), ' · ',
        h('span', {}, `${cam.profile}, serial ${cam.serial}`)),
      h('p', { class: 'buttons' },
        h('a', { class: `button${needsAttention(cam) ? ' primary' : ''}`, href: `#/camera/${enc(id)}/doctor`, id: 'why' },
          'Why is my camera flashing red?')),
    );
  }

  // ---- picture: snapshot and live view ----
  async function showSnapshot() {
    const img = h('img', { id: 'snapshot-img', alt: `Latest snapshot from ${cam.name}` });
    const ok = await new Promise((resolve) => {
      img.onload = () => resolve(true);
      img.onerror = () => resolve(false);
      img.src = `/api/v1${base}/snapshot?t=${Date.now()}`;
    });
    if (ok) {
      picture.replaceChildren(img);
      zonesOver(img);
      return true;
    }
    const clip = clips.find((c) => c.thumbnail);
    picture.replaceChildren(clip
      ? h('img', { src: `/api/v1/clips/${enc(clip.clip_id)}/thumbnail`, alt: `Last clip from ${cam.name}` })
      : h('div', { class: 'no-thumb' }, 'No picture yet: take a snapshot.'));
    zonesOver(picture.firstChild);
    return false;
  }

  async function snapshot() {
    pictureNote.textContent = 'Asking the camera for a snapshot…';
    const before = Date.now();
    await post(`${base}/snapshot`);
    for (let i = 0; i < 40; i++) {
      const resp = await fetch(`/api/v1${base}/snapshot`, { method: 'HEAD' }).catch(() => null);
      const taken = resp && resp.ok ? Number(resp.headers.get('x-taken-at')) : 0;
      if (taken && taken >= before - 2000) {
        await showSnapshot();
        pictureNote.textContent = `Snapshot taken at ${time(taken)}.`;
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    pictureNote.textContent = cam.power === 'battery'
      ? 'The camera is asleep: the snapshot comes at its next check-in.'
      : 'The camera did not send a snapshot in time.';
  }

  async function startLive() {
    stopLive();
    const status = h('p', { id: 'live-status', role: 'status' }, cam.power === 'battery' ? 'Waking the camera… 0 s' : 'Starting…');
    const img = h('img', { id: 'live-img', alt: `Live view of ${cam.name}`, src: `/api/v1${base}/live.mjpeg` });
    const close = h('button', { type: 'button', onclick: () => { stopLive(); showSnapshot(); } }, 'Close live view');
    const extend = h('button', { type: 'button', id: 'extend', hidden: true,
      onclick: (e) => act(e.currentTarget, () => post(`${base}/live/extend`)) }, 'Extend');
    picture.replaceChildren(h('div', { class: 'live' }, img,
      h('p', { class: 'rec' }, h('span', { class: 'light', 'data-color': 'blue', 'data-pattern': 'solid', role: 'img', 'aria-label': 'blue solid' }, h('span', { class: 'led' })),
        ' The camera shows its blue light while you watch.')), status, h('p', { class: 'buttons' }, extend, close));
    const started = Date.now();
    // The hub's clock minus the page's, from each status answer: the countdown and the
    // pictures' age are on the hub's clock.
    let hubOffset = 0;
    let behindMs = null;
    let watching = '';
    const show = () => {
      const behind = behindMs === null ? '' : ` · ${(behindMs / 1000).toFixed(1)} s behind`;
      if (watching) status.textContent = watching + behind;
    };
    // Each new picture's age when it is first on screen: capture to glass.
    const canvas = document.createElement('canvas');
    let lastCaptured = null;
    const watchFrames = () => {
      const captured = captureTime(img, canvas);
      if (captured !== null && captured !== lastCaptured) {
        lastCaptured = captured;
        behindMs = Math.max(0, Date.now() + hubOffset - captured);
        status.dataset.behindMs = String(Math.round(behindMs));
        status.dataset.framesTimed = String(Number(status.dataset.framesTimed || 0) + 1);
      }
      liveFrame = requestAnimationFrame(watchFrames);
    };
    liveFrame = requestAnimationFrame(watchFrames);
    liveTimer = setInterval(async () => {
      let s;
      const asked = Date.now();
      try { s = await get(`${base}/live`); } catch { return; }
      if (s.now_ms) hubOffset = s.now_ms - (asked + Date.now()) / 2;
      if (s.state === 'streaming' && s.ends_at_ms) {
        extend.hidden = false;
        if (s.cap_s) extend.textContent = `Extend ${s.cap_s % 60 ? `${s.cap_s} s` : `${s.cap_s / 60} min`}`;
        const left = Math.max(0, (s.ends_at_ms - (s.now_ms || Date.now())) / 1000);
        watching = `Live · ${duration(left)} left · ${s.viewers} watching`;
        show();
      } else if (s.state === 'streaming') {
        watching = `Live · ${s.viewers} watching`;
        show();
      } else {
        status.textContent = `${cam.power === 'battery' ? 'Waking the camera' : 'Starting'}… ${Math.round((Date.now() - started) / 1000)} s`;
      }
    }, 1000);
  }

  function stopLive() {
    if (liveTimer) clearInterval(liveTimer);
    liveTimer = null;
    if (liveFrame) cancelAnimationFrame(liveFrame);
    liveFrame = null;
    const img = document.getElementById('live-img');
    // Pointing the image elsewhere aborts its multipart request at once (only removing
    // it leaves Chromium reading the stream for seconds): the hub counts a viewer less.
    if (img) {
      img.src = BLANK;
      img.remove();
    }
  }

  // ---- clips ----
  async function loadClips() {
    clips = ((await get(`${base}/clips`)).clips || []).sort((a, b) => b.sort_ts - a.sort_ts);
    let history = [];
    try { history = (await get(`${base}/availability`)).history || []; } catch { /* none */ }
    renderTimeline(history);
    clipList.replaceChildren(...clips.slice(0, 30).map((c) => h('li', {},
      h('button', { type: 'button', class: 'clip', onclick: () => play(c), 'aria-label': `Play clip of ${time(c.sort_ts)}` },
        c.thumbnail ? h('img', { src: `/api/v1/clips/${enc(c.clip_id)}/thumbnail`, alt: '', loading: 'lazy' }) : h('span', { class: 'no-thumb small' }, '▶'),
        h('span', {}, time(c.sort_ts), c.meta && c.meta.delivered_late ? ' (delivered late)' : '')))));
    if (!clips.length) clipList.replaceChildren(h('li', { class: 'muted' }, 'No clips yet. Walk past the camera to record one.'));
  }

  // The last 24 hours: clips as marks, offline stretches hatched.
  function renderTimeline(history) {
    const now = Date.now();
    const from = now - 24 * 3600e3;
    const X = (t) => ((t - from) / (now - from)) * 1000;
    const bands = [];
    const sorted = [...history].sort((a, b) => a.ts - b.ts);
    sorted.forEach((c, i) => {
      if (c.availability !== 'offline') return;
      const end = (sorted[i + 1] && sorted[i + 1].ts) || now;
      if (end < from) return;
      bands.push(svg('rect', { class: 'offline', x: X(Math.max(c.ts, from)), y: 0, width: Math.max(2, X(end) - X(Math.max(c.ts, from))), height: 40 }));
    });
    const marks = clips.filter((c) => c.sort_ts >= from).map((c) => {
      const m = svg('rect', { class: 'mark', x: X(c.sort_ts) - 2, y: 6, width: 4, height: 28, tabindex: '0', role: 'button', 'aria-label': `clip at ${time(c.sort_ts)}` },
        svg('title', {}, `clip at ${time(c.sort_ts)}`));
      m.addEventListener('click', () => play(c));
      m.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); play(c); } });
      return m;
    });
    timeline.replaceChildren(svg('svg', { viewBox: '0 0 1000 40', preserveAspectRatio: 'none', role: 'group', 'aria-label': 'Clips of the last 24 hours; hatched: offline' },
      svg('defs', {}, svg('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
        svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch' }))),
      svg('rect', { class: 'day', x: 0, y: 0, width: 1000, height: 40 }), bands, marks),
    h('p', { class: 'axis' }, h('span', {}, time(from)), h('span', {}, 'now')));
  }

  function play(c) {
    const src = `/api/v1/clips/${enc(c.clip_id)}/video`;
    const stamp = new Date(c.sort_ts).toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const video = h('video', { id: 'video', controls: true, autoplay: true, muted: true, playsinline: true, preload: 'auto', src });
    // Journey 2: step through the clips around the one playing (the list is newest first).
    const at = clips.findIndex((x) => x.clip_id === c.clip_id);
    const step = (i, label, id) => h('button', {
      type: 'button', id, disabled: i < 0 || i >= clips.length,
      onclick: () => play(clips[i]),
    }, label);
    player.replaceChildren(
      h('p', { class: 'now-playing' }, `${cam.name}, ${time(c.sort_ts)}`),
      video,
      h('p', { class: 'buttons' },
        step(at + 1, '‹ Older', 'older-clip'),
        step(at - 1, 'Newer ›', 'newer-clip'),
        h('a', { class: 'button', href: src, download: `${cam.name}-${stamp}.mp4`, id: 'download' }, 'Download'),
        h('button', { type: 'button', class: 'danger', id: 'delete-clip', onclick: async (e) => {
          if (!confirm(`Delete the clip of ${time(c.sort_ts)} from ${cam.name}?`)) return;
          await act(e.currentTarget, async () => {
            await del(`/clips/${enc(c.clip_id)}`);
            player.replaceChildren();
            await loadClips();
            toast('Clip deleted.');
          });
        } }, 'Delete')));
    video.focus();
  }

  // ---- settings and zones ----
  const zoneState = { grid: null };
  function zonesOver(img) {
    const wrap = h('div', { class: 'zones-wrap' });
    if (!img || !zoneState.grid) return;
    const g = zoneState.grid;
    const cells = g.enabled.map((on, i) => h('button', {
      type: 'button',
      class: `zone${on ? ' on' : ''}`,
      'aria-pressed': on ? 'true' : 'false',
      'aria-label': `zone row ${Math.floor(i / g.cols) + 1} column ${(i % g.cols) + 1}`,
      onclick: (e) => {
        g.enabled[i] = !g.enabled[i];
        e.currentTarget.classList.toggle('on', g.enabled[i]);
        e.currentTarget.setAttribute('aria-pressed', g.enabled[i] ? 'true' : 'false');
      },
    }));
    const grid = h('div', { class: `zone-grid cols-${g.cols} rows-${g.rows}` }, cells);
    const pic = img.cloneNode(true);
    pic.removeAttribute('id');
    wrap.append(pic, grid);
    const slot = document.getElementById('zones');
    if (slot) slot.replaceChildren(wrap);
  }

  function renderSettings() {
    const s = cam.settings;
    zoneState.grid = JSON.parse(JSON.stringify(s.zones));
    const check = (name, label, hint) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name, checked: !!s[name] }), ' ', label,
      hint ? h('small', {}, hint) : null);
    settingsBox.replaceChildren(
      h('label', {}, 'Name ', h('input', { name: 'name', value: s.name, required: true, maxlength: '64' })),
      check('motion_detection', 'Motion detection', 'Record when something moves (while armed).'),
      check('motion_indicator', 'Motion indicator', 'Flash red once when motion starts a recording.'),
      check('recording_light', 'Recording light', 'Blue while recording, so people know.'),
      check('status_light_always_on', 'Status light always on', 'A dim blue when all is well.'),
      h('label', {}, 'Sensitivity ', h('output', { id: 'sens-out' }, String(s.sensitivity)),
        h('input', { type: 'range', name: 'sensitivity', min: '1', max: '10', value: String(s.sensitivity),
          oninput: (e) => { document.getElementById('sens-out').textContent = e.target.value; } })),
      h('label', {}, 'Longest clip (seconds) ', h('input', { type: 'number', name: 'max_clip', min: '1', max: '600', value: String(s.max_clip) })),
      h('fieldset', {}, h('legend', {}, 'Activity zones: motion counts only in the highlighted cells'),
        h('div', { id: 'zones' }, h('p', { class: 'muted' }, 'Take a snapshot to draw zones over the picture.'))),
      h('p', { id: 'settings-status', role: 'status', class: 'muted' },
        cam.state && cam.state.settings_version >= s.version ? appliedWords(s.version) : `Version ${s.version}`),
      h('button', { type: 'submit', class: 'primary' }, 'Save settings'),
    );
    const img = picture.querySelector('img');
    if (img) zonesOver(img);
  }

  settingsBox.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = settingsBox.elements;
    const body = {
      name: f.name.value,
      motion_detection: f.motion_detection.checked,
      motion_indicator: f.motion_indicator.checked,
      recording_light: f.recording_light.checked,
      status_light_always_on: f.status_light_always_on.checked,
      sensitivity: Number(f.sensitivity.value),
      max_clip: Number(f.max_clip.value),
      zones: zoneState.grid,
    };
    document.getElementById('settings-status').textContent = 'Saving…';
    await act(e.submitter || settingsBox.querySelector('button[type=submit]'), async () => {
      const saved = await patch(`${base}/settings`, body);
      cam.settings = saved;
      const st = document.getElementById('settings-status');
      // An awake camera may report the new version before this answer is read.
      if (cam.state && cam.state.settings_version >= saved.version) {
        st.textContent = appliedWords(saved.version);
        pendingVersion = null;
      } else {
        pendingVersion = saved.version;
        st.textContent = asleep()
          ? `Saved: applies at the camera's next check-in (version ${saved.version}).`
          : `Saved (version ${saved.version}); waiting for the camera…`;
      }
    });
  });

  // ---- charts ----
  async function renderCharts() {
    let t = { readings: [] };
    try { t = await get(`${base}/telemetry?hours=168`); } catch { /* no history */ }
    const r = t.readings || [];
    const parts = [];
    if (cam.power === 'battery') {
      const b = cam.battery || {};
      const pts = r.filter((x) => x.battery_percent != null).map((x) => [x.ts, x.battery_percent]);
      const now = Date.now();
      const band = b.days_low != null && b.days_high != null
        ? { from: now + b.days_low * 86400e3, to: now + b.days_high * 86400e3, label: `empty in ${Math.round(b.days_low)}–${Math.round(b.days_high)} days` }
        : null;
      parts.push(lineChart(pts, { title: 'Battery', unit: '%', min: 0, max: 100, band,
        summary: b.summary || `Battery ${batteryWords(cam)}` }));
      parts.push(h('p', { class: 'muted' }, 'Cold lowers the batteries\' loaded voltage; the forecast allows for it.'));
    } else {
      parts.push(h('p', {}, 'Mains powered: no battery to watch.'));
    }
    const sig = r.filter((x) => x.rssi_dbm != null).map((x) => [x.ts, x.rssi_dbm]);
    parts.push(lineChart(sig, { title: 'Signal', unit: ' dBm', min: -95, max: -30,
      summary: sig.length ? `Signal now ${signalWords(sig[sig.length - 1][1])}` : 'No signal readings yet' }));
    charts.replaceChildren(...parts);
  }

  // ---- events ----
  async function loadEvents() {
    const ev = (await get(`${base}/events`)).events || [];
    events.replaceChildren(...ev.slice(0, 50).map((e) => h('li', {},
      h('time', {}, time(e.ts)), ' ', e.event.replace(/_/g, ' '),
      e.data && e.data.clip_id ? ` (${e.data.clip_id})` : '')));
    if (!ev.length) events.replaceChildren(h('li', { class: 'muted' }, 'No events yet.'));
  }

  // ---- maintenance ----
  // Factory reset is confirmed in the page by typing the camera's name (a native prompt
  // cannot be styled or labelled, and some phones' in-app browsers drop it).
  function confirmByName(name, onConfirm) {
    const input = h('input', { id: 'reset-name', autocomplete: 'off', spellcheck: 'false' });
    const go = h('button', { type: 'submit', class: 'danger', id: 'reset-confirm', disabled: true }, `Reset ${name}`);
    const dlg = h('dialog', { id: 'reset-dialog', 'aria-labelledby': 'reset-title', 'aria-describedby': 'reset-words' },
      h('form', { class: 'stack' },
        h('h2', { id: 'reset-title' }, `Factory reset ${name}?`),
        h('p', { id: 'reset-words' }, `This erases ${name}'s settings and Wi-Fi on the camera: it will need adding again. Type its name, “${name}”, to confirm.`),
        h('label', {}, 'Camera name ', input),
        h('p', { class: 'buttons' }, go, h('button', { type: 'button', onclick: () => dlg.close() }, 'Cancel'))));
    input.addEventListener('input', () => { go.disabled = input.value.trim() !== name; });
    dlg.querySelector('form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (input.value.trim() !== name) return;
      dlg.close();
      onConfirm();
    });
    dlg.addEventListener('close', () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
    input.focus();
  }

  function renderTools() {
    const command = (name, label, done) => h('button', { type: 'button', id: `cmd-${name}`,
      onclick: (e) => act(e.currentTarget, async () => {
        await post(`${base}/commands/${name}`);
        toast(asleep() ? `Sent: ${cam.name} gets it at its next check-in.` : done);
      }) }, label);
    const wifi = h('form', { class: 'stack', id: 'wifi-form', 'aria-label': 'Reconnect Wi-Fi' },
      h('h3', {}, 'Reconnect Wi-Fi'),
      h('p', { class: 'muted' }, 'Changed the router\'s password? Give the camera the new one while it is still reachable.'),
      h('label', {}, 'Network name (SSID) ', h('input', { name: 'ssid', id: 'wifi-ssid', required: true, autocomplete: 'off' })),
      h('label', {}, 'Password ', h('input', { name: 'passphrase', id: 'wifi-pass', type: 'password', autocomplete: 'off' })),
      h('button', { type: 'submit' }, 'Send to the camera'));
    wifi.addEventListener('submit', (e) => {
      e.preventDefault();
      act(wifi.querySelector('button'), async () => {
        await post(`${base}/wifi`, { ssid: wifi.elements.ssid.value, passphrase: wifi.elements.passphrase.value });
        toast(asleep() ? `Sent: ${cam.name} rejoins with the new Wi-Fi details at its next check-in.`
          : 'Sent: the camera will rejoin with the new Wi-Fi details.');
      });
    });
    const reset = h('button', { type: 'button', class: 'danger', id: 'factory-reset', onclick: () =>
      confirmByName(cam.name, () => act(reset, async () => {
        await post(`${base}/commands/factory_reset`);
        toast(asleep() ? `${cam.name} resets at its next check-in.` : `${cam.name} is resetting.`);
      })) }, 'Factory reset…');
    tools.replaceChildren(
      h('p', { class: 'buttons' },
        command('identify', 'Identify (flash green)', 'The camera flashes green 5 times.'),
        command('reboot', 'Reboot', 'The camera is restarting.')),
      wifi,
      h('p', { class: 'buttons' }, reset,
        h('a', { class: 'button', href: `/api/v1${base}/bundle`, download: `${id}-support.tar.gz` }, 'Support bundle')));
  }

  renderHead();
  renderSettings();
  renderTools();
  await loadClips();
  await showSnapshot();
  renderCharts();
  loadEvents();

  onEvent(async (e) => {
    if (e.device !== id) return;
    if (e.type === 'forgotten') { location.hash = '#/'; return; }
    if (['state', 'availability', 'telemetry', 'pairing', 'paired', 'settings'].includes(e.type)) {
      cam = await get(base);
      renderHead();
      if (pendingVersion && cam.state && cam.state.settings_version >= pendingVersion) {
        const st = document.getElementById('settings-status');
        if (st) st.textContent = appliedWords(pendingVersion);
        pendingVersion = null;
      }
    }
    if (e.type === 'event') loadEvents();
    if (e.type === 'clip') loadClips();
    if (e.type === 'snapshot') showSnapshot();
  });

  return { leave: stopLive };
}

export { ago };

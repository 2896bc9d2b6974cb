// Small helpers every page uses: building DOM without innerHTML, the status light,
// and words for times, batteries and signals.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// The status light, animated by lights.css from the light the hub reports.
export function light(l, label) {
  const lt = l || { color: 'none', pattern: 'off', light_id: 'off' };
  const words = label || `${lightName(lt)}`;
  return h('span', {
    class: 'light',
    role: 'img',
    'aria-label': words,
    title: words,
    'data-color': lt.color,
    'data-pattern': lt.pattern,
    'data-count': lt.count != null ? String(lt.count) : undefined,
    'data-dim': lt.dim ? '' : undefined,
    'data-light': lt.light_id,
  }, h('span', { class: 'led' }));
}

export function lightName(l) {
  if (!l || l.pattern === 'off') return 'light off';
  const pattern = l.pattern === 'flash' ? `flashes ${l.count || 1}×` : l.pattern.replace('_', ' ');
  return `${l.color} ${pattern}${l.dim ? ' (dim)' : ''}`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayClock = new Intl.DateTimeFormat(undefined, {
  month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
});

export function time(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  return new Date().toDateString() === d.toDateString() ? clock.format(d) : dayClock.format(d);
}

export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function duration(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export function batteryWords(cam) {
  if (cam.power !== 'battery') return 'mains';
  const b = cam.battery;
  if (!b || b.percent == null) return 'battery: no reading yet';
  const days = b.days_left != null ? `, ${Math.round(b.days_left)} days left` : '';
  return `${Math.round(b.percent)} %${days}`;
}

export function signalWords(rssi) {
  if (rssi == null) return 'signal: —';
  const q = rssi >= -60 ? 'strong' : rssi >= -70 ? 'good' : rssi >= -80 ? 'weak' : 'very weak';
  return `${q} (${rssi} dBm)`;
}

// Bars 0..4 drawn in SVG.
export function signalBars(rssi) {
  const n = rssi == null ? 0 : rssi >= -60 ? 4 : rssi >= -70 ? 3 : rssi >= -80 ? 2 : 1;
  return svg('svg', { class: 'bars', viewBox: '0 0 20 16', 'aria-hidden': 'true' },
    [0, 1, 2, 3].map((i) => svg('rect', {
      x: i * 5, y: 12 - i * 4, width: 4, height: 4 + i * 4, class: i < n ? 'on' : 'off',
    })));
}

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(t);
  setTimeout(() => t.remove(), 6000);
}

// Runs an action from a button, disabling it meanwhile and saying what went wrong.
export async function act(button, fn) {
  button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(e.message, 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function stateWords(cam) {
  if (!cam.paired) return cam.pairing ? cam.pairing.message : 'not set up yet';
  switch (cam.availability) {
    case 'online': return 'online';
    case 'sleeping': return 'asleep between check-ins';
    case 'offline': return `can't reach the hub since ${time(cam.light && cam.light.since_ms)}`;
    default: return cam.availability || 'unknown';
  }
}

// A camera needs attention when its light is red, the hub lost it, or its
// batteries run out within two weeks.
export function needsAttention(cam) {
  const l = cam.light || {};
  if (cam.availability === 'offline') return true;
  if (l.color === 'red') return true;
  const b = cam.battery;
  return !!(b && b.days_left != null && b.days_left < 14);
}

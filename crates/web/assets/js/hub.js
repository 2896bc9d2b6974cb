// The hub's own pages: its status (light, storage, retention, broker, devices,
// version) and support bundle; monthly reports; alerts (notification kinds, webhooks).
import { get, post, patch, del } from './api.js';
import { act, h, light, lightName, time, toast } from './ui.js';

const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;

export async function show(view, { onEvent }) {
  const box = h('div', { class: 'hub-grid' });
  view.append(h('h1', {}, 'Hub'), box);

  async function render() {
    const s = await get('/hub');
    const cams = (await get('/cameras')).cameras || [];
    const l = s.light || {};
    const leds = (l.lights || []).map((x) => light(x, `hub ${lightName(x)}`));
    const r = s.retention || {};
    const dropped = Object.entries(s.dropped_messages || {});
    box.replaceChildren(
      h('section', { class: 'card', 'aria-labelledby': 'hl' }, h('h2', { id: 'hl' }, 'Its light'),
        h('p', { class: 'light-line big', id: 'hub-light-big' }, leds, h('span', { class: 'meaning' }, l.meaning || ''))),
      h('section', { class: 'card', 'aria-labelledby': 'st' }, h('h2', { id: 'st' }, 'Storage'),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Clips'), h('dd', {}, `${s.clips} clips, ${gb(s.clip_bytes || 0)}`),
          h('dt', {}, 'Budget'), h('dd', {}, r.max_bytes ? gb(r.max_bytes) : '—'),
          h('dt', {}, 'Kept for'), h('dd', {}, r.max_age_ms ? `${Math.round(r.max_age_ms / 86400e3)} days` : 'until space is needed'),
          h('dt', {}, 'Disk free'), h('dd', {}, s.disk_free_pct != null ? `${Math.round(s.disk_free_pct)} %` : '—'))),
      h('section', { class: 'card', 'aria-labelledby': 'br' }, h('h2', { id: 'br' }, 'Broker and network'),
        h('dl', { class: 'facts' },
          h('dt', {}, 'MQTT'), h('dd', {}, s.mqtt_url),
          h('dt', {}, 'Web and API'), h('dd', {}, s.http_url, s.tls ? ' (TLS)' : ''),
          h('dt', {}, 'Internet'), h('dd', {}, s.upstream_up ? 'reachable' : 'not reachable'),
          h('dt', {}, 'Dropped messages'), h('dd', {}, dropped.length ? dropped.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none'),
          h('dt', {}, 'Version'), h('dd', {}, s.version || '—'))),
      h('section', { class: 'card', 'aria-labelledby': 'dv' }, h('h2', { id: 'dv' }, `Devices (${cams.length})`),
        h('ul', { class: 'plain' }, cams.map((c) => h('li', {}, light(c.light), ' ',
          h('a', { href: `#/camera/${encodeURIComponent(c.id)}` }, c.name), ` — ${c.profile}, ${c.availability || 'new'}`)))),
      h('section', { class: 'card', 'aria-labelledby': 'sb' }, h('h2', { id: 'sb' }, 'Support bundle'),
        h('p', {}, 'Logs, settings and health of the hub and every camera, with passwords and tokens removed: attach it when you ask for help.'),
        h('p', {}, h('a', { class: 'button primary', id: 'bundle', href: '/api/v1/bundle', download: 'watchlight-support.tar.gz' }, 'Download the support bundle'))),
    );
  }
  await render();
  onEvent((e) => { if (['hub_light', 'hub_network', 'paired', 'forgotten', 'availability'].includes(e.type)) render(); });
}

export const reports = {
  async show(view) {
    const list = h('ul', { class: 'plain', id: 'reports' });
    const text = h('pre', { class: 'report', id: 'report-text', tabindex: '0', hidden: true });
    const make = h('button', { type: 'button', class: 'primary', id: 'make-report' }, 'Make this month\'s report now');
    view.append(h('h1', {}, 'Monthly reports'),
      h('p', {}, 'Each month the hub sums up clips, outages, batteries and anything dropped.'),
      h('p', {}, make), list, text);
    async function open(r) {
      const resp = await fetch(`/api/v1/reports/${r.id}?format=text`);
      text.textContent = await resp.text();
      text.hidden = false;
      text.focus();
    }
    async function load() {
      const rs = (await get('/reports')).reports || [];
      list.replaceChildren(...rs.map((r) => h('li', {},
        h('button', { type: 'button', class: 'link', onclick: () => open(r) }, r.month || r.period || `Report ${r.id}`),
        r.created_ms ? ` (${time(r.created_ms)})` : '')));
      if (!rs.length) list.replaceChildren(h('li', { class: 'muted' }, 'No report yet.'));
      return rs;
    }
    make.addEventListener('click', () => act(make, async () => { const r = await post('/reports'); await load(); await open(r); }));
    await load();
  },
};

export const alerts = {
  async show(view) {
    const kinds = h('form', { class: 'card stack', id: 'kinds' });
    const hooks = h('ul', { class: 'plain', id: 'webhooks' });
    const add = h('form', { class: 'stack', id: 'add-webhook' },
      h('label', {}, 'Webhook URL ', h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://example.org/hook' })),
      h('button', { type: 'submit' }, 'Add webhook'));
    const secret = h('p', { role: 'status', id: 'webhook-secret' });
    view.append(h('h1', {}, 'Alerts'),
      h('section', { 'aria-labelledby': 'k' }, h('h2', { id: 'k' }, 'What the hub tells you about'), kinds),
      h('section', { class: 'card', 'aria-labelledby': 'w' }, h('h2', { id: 'w' }, 'Webhooks'),
        h('p', {}, 'Each notification is POSTed as JSON, signed with the webhook\'s secret.'), hooks, add, secret));

    async function renderKinds(s) {
      kinds.replaceChildren(h('fieldset', {}, h('legend', {}, 'Notifications'),
        Object.entries(s).map(([k, on]) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', name: k, checked: on, onchange: async (e) => {
            try { await patch('/notifications/settings', { [k]: e.target.checked }); toast('Saved.'); } catch (err) { toast(err.message, 'error'); e.target.checked = !e.target.checked; }
          } }), ' ', k.replace(/_/g, ' ')))));
    }
    async function renderHooks() {
      const ws = (await get('/webhooks')).webhooks || [];
      hooks.replaceChildren(...ws.map((w) => h('li', {}, w.url, ' ',
        h('button', { type: 'button', class: 'link', onclick: async () => { await del(`/webhooks/${w.id}`); renderHooks(); } }, 'Remove'))));
      if (!ws.length) hooks.replaceChildren(h('li', { class: 'muted' }, 'No webhooks.'));
    }
    add.addEventListener('submit', (e) => {
      e.preventDefault();
      act(add.querySelector('button'), async () => {
        const w = await post('/webhooks', { url: add.elements.url.value });
        secret.textContent = `Secret (shown once): ${w.secret}`;
        add.reset();
        renderHooks();
      });
    });
    renderKinds(await get('/notifications/settings'));
    await renderHooks();
  },
};

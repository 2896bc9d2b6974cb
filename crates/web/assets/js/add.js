// The add-camera wizard: the camera's label (serial, pairing code), the Wi-Fi, then
// the camera's light as it happens: green blink while it joins, blue once it reaches
// the hub, then dark. A refused Wi-Fi password is said in words, fields kept.
import { get, post } from './api.js';
import { act, h, light, svg } from './ui.js';

export async function show(view, { onEvent }) {
  const profiles = await (await fetch('/app/profiles.json')).json();
  let deviceId = null;
  let seen = [];

  const label = svg('svg', { viewBox: '0 0 240 90', class: 'label-pic', role: 'img', 'aria-label': 'The label under the camera: serial number and pairing code' },
    svg('rect', { x: 1, y: 1, width: 238, height: 88, rx: 8, class: 'label-bg' }),
    svg('text', { x: 14, y: 30 }, 'Serial  WL-0123-ABCD'),
    svg('text', { x: 14, y: 58 }, 'Pairing code  482913'),
    svg('text', { x: 14, y: 80, class: 'small' }, 'under the camera or in the battery bay'));

  const form = h('form', { class: 'card stack', id: 'add-form' },
    h('fieldset', {}, h('legend', {}, '1. The camera'), label,
      h('label', {}, 'Serial ', h('input', { name: 'serial', id: 'serial', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9_-]{1,60}' })),
      h('label', {}, 'Pairing code ', h('input', { name: 'pairing_code', id: 'pairing_code', required: true, autocomplete: 'off', inputmode: 'numeric' })),
      h('label', {}, 'Model ', h('select', { name: 'profile', id: 'profile' },
        profiles.map((p) => h('option', { value: p.id }, `${p.id} (${p.power})`)))),
      h('label', {}, 'Camera\'s setup address ',
        h('input', { name: 'provision_url', id: 'provision_url', required: true, type: 'url', placeholder: 'http://192.168.1.50:8080' }),
        h('small', {}, 'A camera in setup mode (slow red blink) shows it; the simulated camera prints it as provision_url.')),
      h('label', {}, 'Name ', h('input', { name: 'name', id: 'name', placeholder: 'Porch', maxlength: '64' }))),
    h('fieldset', {}, h('legend', {}, '2. Your Wi-Fi'),
      h('label', {}, 'Network name (SSID) ', h('input', { name: 'ssid', id: 'ssid', required: true, autocomplete: 'off' })),
      h('label', {}, 'Password ', h('input', { name: 'passphrase', id: 'passphrase', type: 'password', autocomplete: 'off' }))),
    h('p', { class: 'error', role: 'alert', id: 'add-error' }),
    h('button', { type: 'submit', class: 'primary' }, 'Add the camera'));

  const progress = h('section', { class: 'card', id: 'progress', hidden: true, 'aria-live': 'polite' });

  view.append(h('h1', {}, 'Add a camera'),
    h('p', {}, 'Put batteries in the camera (or plug it in) and wait for its light to blink red slowly: it is in setup mode.'),
    form, progress);

  function showProgress(cam) {
    const l = cam.light || {};
    if (seen[seen.length - 1] !== l.light_id) seen.push(l.light_id);
    const p = cam.pairing || {};
    let words = p.message || '';
    let done = null;
    if (p.state === 'wifi_rejected') {
      words = 'The Wi-Fi refused the password: the camera showed solid red for 10 s. Check the password and add the camera again.';
      document.getElementById('add-error').textContent = 'The Wi-Fi refused the password.';
      document.getElementById('passphrase').focus();
    } else if (p.state === 'join_timeout') {
      words = 'The camera could not join the Wi-Fi in time. Is it within reach of the router?';
    } else if (cam.paired) {
      words = l.light_id === 'off' || l.light_id === 'blue_dim'
        ? 'Done: the camera is connected and its light went dark, as a healthy camera does.'
        : 'The camera reached the hub.';
      done = h('p', { class: 'buttons' },
        h('a', { class: 'button primary', href: `#/camera/${encodeURIComponent(cam.id)}`, id: 'open-camera' }, `Open ${cam.name}`),
        h('span', { class: 'muted' }, ' Wave at it: the first clip appears on its page.'));
    }
    progress.hidden = false;
    progress.replaceChildren(
      h('h2', {}, cam.name),
      h('p', { class: 'light-line big', id: 'wizard-light', 'data-light': l.light_id }, light(l), h('span', { class: 'meaning' }, l.doing || l.meaning || '')),
      h('p', { id: 'wizard-words' }, words),
      h('p', { class: 'muted', id: 'wizard-seen', 'data-seen': seen.join(' ') },
        'Lights so far: ', seen.map((x) => (x || '').replace(/_/g, ' ')).join(' → ')),
      ...(done ? [done] : []));
  }

  async function refresh() {
    if (!deviceId) return;
    try {
      showProgress(await get(`/cameras/${encodeURIComponent(deviceId)}`));
    } catch { /* the next event tries again */ }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = form.elements;
    document.getElementById('add-error').textContent = '';
    act(form.querySelector('button[type=submit]'), async () => {
      try {
        const r = await post('/cameras', {
          serial: f.serial.value.trim(),
          pairing_code: f.pairing_code.value.trim(),
          profile: f.profile.value,
          name: f.name.value.trim(),
          provision_url: f.provision_url.value.trim(),
          wifi: { ssid: f.ssid.value, passphrase: f.passphrase.value },
        });
        deviceId = r.id;
        seen = [];
        await refresh();
      } catch (err) {
        document.getElementById('add-error').textContent = err.message;
      }
    });
  });

  onEvent((e) => {
    if (deviceId && e.device === deviceId) refresh();
  });
}

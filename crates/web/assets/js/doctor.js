// "Why is my camera flashing red?": the doctor on the hub's live case. Causes ranked
// with their reasons, one step at a time with its cost; questions answered here; the
// plan is made again after each answer or failed step; "this fixed it" teaches the hub.
import { get, post } from './api.js';
import { act, h, light, stateWords, toast } from './ui.js';

const enc = encodeURIComponent;

function minutes(m) {
  if (m < 1) return 'under a minute';
  if (m < 90) return `about ${Math.round(m)} min`;
  return `about ${Math.round(m / 60)} h`;
}

export async function show(view, { params, onEvent }) {
  const id = params[0];
  const base = `/cameras/${enc(id)}`;
  const answers = { observations: {}, failed: [], unavailable: [] };
  let cam = await get(base);
  // The doctor starts from the light the hub knows the camera shows (the one on its
  // card, which brought the owner here); the owner can say it shows another, and the
  // doctor then asks which.
  const shown = cam.light && typeof cam.light.light_id === 'string' ? cam.light.light_id : null;
  if (shown) answers.observations.light = shown;
  let diagnosis = null;
  let done = false;

  const head = h('div', { id: 'doctor-head' });
  const causes = h('ol', { class: 'causes', id: 'causes' });
  const step = h('section', { class: 'card step', id: 'step', 'aria-live': 'polite', 'aria-labelledby': 'step-title' });
  const back = h('p', { class: 'banner ok', id: 'back-online', role: 'status', hidden: true });

  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: `#/camera/${enc(id)}` }, `← ${cam.name}`)),
    h('h1', {}, `Why is ${cam.name} flashing red?`),
    head, back,
    h('div', { class: 'cam-grid' },
      step,
      h('section', { class: 'card', 'aria-labelledby': 'causes-title' },
        h('h2', { id: 'causes-title' }, 'Likely causes'), causes)),
  );

  function renderHead() {
    const l = cam.light || {};
    head.replaceChildren(h('p', { class: 'light-line big', id: 'doctor-light', 'data-light': l.light_id },
      light(l), h('span', { class: 'meaning' }, l.meaning || '')),
    h('p', { class: 'muted' }, `${stateWords(cam)}. The doctor has read what the hub knows about this camera; it asks only what it cannot see.`),
    answers.observations.light === shown && shown ? h('p', { id: 'light-assumed' },
      'It starts from this light. ',
      h('button', {
        type: 'button',
        onclick: (e) => act(e.currentTarget, async () => {
          delete answers.observations.light;
          renderHead();
          await replan();
        }),
      }, 'The camera shows another light')) : null);
  }

  function renderCauses() {
    causes.replaceChildren(...diagnosis.causes.slice(0, 5).filter((c, i) => i === 0 || c.p >= 0.01).map((c) =>
      h('li', { class: 'cause', 'data-fault': c.id },
        h('strong', {}, `${c.title} `), h('span', { class: 'p' }, `${Math.round(c.p * 100)} %`),
        // The reason starts with the cause's title; the title is already above it.
        h('p', { class: 'why' }, c.why.startsWith(`${c.title}: `) ? c.why.slice(c.title.length + 2) : c.why))));
  }

  async function replan() {
    diagnosis = await post(`${base}/diagnosis`, answers);
    renderCauses();
    renderStep();
  }

  function answerForm(s) {
    const form = h('form', { class: 'stack', id: 'answer' });
    const a = s.answers || { type: 'yes_no' };
    if (a.type === 'yes_no') {
      form.append(h('fieldset', { class: 'choices' }, h('legend', {}, s.text),
        h('label', { class: 'check' }, h('input', { type: 'radio', name: 'v', value: 'yes', required: true }), ' Yes'),
        h('label', { class: 'check' }, h('input', { type: 'radio', name: 'v', value: 'no' }), ' No')));
    } else if (a.type === 'choice') {
      form.append(h('label', {}, s.text, ' ', h('select', { name: 'v', required: true },
        h('option', { value: '' }, 'Choose…'),
        a.options.map((o) => h('option', { value: o.value }, o.label)))));
    } else {
      form.append(h('label', {}, s.text, ' ', h('input', { name: 'v', type: 'number', min: String(a.min), max: String(a.max), required: true }), ` ${a.unit || ''}`));
    }
    form.append(h('button', { type: 'submit', class: 'primary' }, 'Answer'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const raw = form.elements.v.value;
      const value = a.type === 'yes_no' ? raw === 'yes' : a.type === 'number' ? Number(raw) : raw;
      answers.observations[s.field] = value;
      act(form.querySelector('button'), replan);
    });
    return form;
  }

  function renderStep() {
    if (done) return;
    const s = diagnosis.plan[0];
    const top = diagnosis.causes[0];
    if (!s) {
      step.replaceChildren(h('h2', { id: 'step-title' }, 'Nothing more to try'), bundleHelp());
      return;
    }
    if (s.kind === 'question') {
      step.replaceChildren(h('h2', { id: 'step-title' }, 'One question'),
        h('p', { class: 'muted' }, `Answering takes ${minutes(s.cost_min)}; it decides the cheapest fix.`),
        answerForm(s));
      return;
    }
    const outcome = (label, cls, f) => h('button', { type: 'button', class: cls, onclick: (e) => act(e.currentTarget, f) }, label);
    step.replaceChildren(...[
      h('h2', { id: 'step-title' }, `Step ${diagnosis.plan[0].step}: try this`),
      h('p', { class: 'step-text', id: 'step-text', 'data-action': s.action }, s.text),
      h('p', { class: 'muted' }, `${minutes(s.cost_min)}, ${Math.round(s.p_fix * 100)} % likely to fix it. `
        + `Expected time to a working camera: ${minutes(diagnosis.expected_cost_min)}.`),
      s.action === 'reconnect_wifi' ? h('p', {}, h('a', { href: `#/camera/${enc(id)}` }, 'Open Reconnect Wi-Fi on the camera page')) : null,
      s.action === 'contact_support' ? bundleHelp() : null,
      h('p', { class: 'buttons' },
        outcome('This fixed it', 'primary', async () => {
          await post(`${base}/diagnosis/confirm`, { fault: top.id, action: s.action });
          done = true;
          step.replaceChildren(h('h2', { id: 'step-title' }, 'Fixed'),
            h('p', { id: 'fixed' }, `Thank you: the hub will suggest “${s.text}” sooner next time.`),
            h('p', {}, h('a', { href: '#/', class: 'button' }, 'Back to the cameras')));
        }),
        outcome('Still not working', '', async () => { answers.failed.push(s.action); await replan(); }),
        outcome('I can\'t do this', '', async () => { answers.unavailable.push(s.action); await replan(); })),
    ].filter(Boolean));
  }

  function bundleHelp() {
    return h('p', {}, 'Send the support bundle with your question: ',
      h('a', { class: 'button', href: `/api/v1${base}/bundle`, download: `${id}-support.tar.gz` }, 'Download the support bundle'));
  }

  renderHead();
  await replan();

  onEvent(async (e) => {
    if (e.device !== id || !['state', 'availability', 'paired'].includes(e.type)) return;
    const fresh = await get(base);
    // Read after the await: a state and an availability event arrive together, and only
    // the first answer to come back sees the camera go from offline to online.
    const before = cam.availability;
    cam = fresh;
    renderHead();
    if (!done && before === 'offline' && cam.availability === 'online') {
      back.hidden = false;
      back.textContent = `${cam.name} is back online. If a step above did it, press “This fixed it”.`;
      toast(`${cam.name} is back online.`);
    }
  });
}

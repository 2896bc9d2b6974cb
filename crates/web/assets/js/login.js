// The login page: name and password to a session cookie, then back where the owner was.
import { api } from './api.js';

const params = new URLSearchParams(location.search);
const note = document.getElementById('note');
if (params.has('expired')) {
  note.textContent = 'Your session has ended. Log in again to continue.';
  note.hidden = false;
} else if (params.has('out')) {
  note.textContent = 'You are logged out.';
  note.hidden = false;
}

const form = document.getElementById('login');
const error = document.getElementById('error');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await api('POST', '/login', {
      username: document.getElementById('username').value,
      password: document.getElementById('password').value,
    });
    const next = params.get('next');
    // Only a path on this hub, never another site.
    location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : '/');
  } catch (err) {
    error.textContent = err.status === 401
      ? 'The name or password is wrong.'
      : err.message;
    document.getElementById('password').select();
  } finally {
    button.disabled = false;
  }
});
document.getElementById('username').focus();
// Submitting before this script ran posts the form to the hub (never a GET with the
// password in the address); the browser tests wait for this mark.
form.dataset.ready = 'true';

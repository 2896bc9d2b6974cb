// First-owner setup from the one-time link the hub printed: offered only while the
// hub has no owner; on success the new owner is logged in and sees the dashboard.
import { api } from './api.js';

const token = new URLSearchParams(location.search).get('token') || '';
const status = document.getElementById('status');
const form = document.getElementById('setup');
const error = document.getElementById('error');
const toLogin = document.getElementById('to-login');

async function start() {
  let s;
  try {
    s = await api('GET', '/setup');
  } catch (e) {
    status.textContent = e.message;
    return;
  }
  if (s.owner_exists) {
    status.textContent = 'This hub already has an owner. Log in with that account.';
    toLogin.hidden = false;
  } else if (!s.link_open || !token) {
    status.textContent = 'This setup link is wrong, used or expired. On the hub, run '
      + "'watchlight hub owner create' to make a new one.";
  } else {
    status.hidden = true;
    form.hidden = false;
    document.getElementById('username').focus();
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  error.textContent = '';
  const username = document.getElementById('username').value;
  const password = document.getElementById('password').value;
  const button = form.querySelector('button');
  button.disabled = true;
  try {
    await api('POST', '/setup', { token, username, password });
    await api('POST', '/login', { username, password });
    location.assign('/');
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

start();

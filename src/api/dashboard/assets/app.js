// The dashboard: sign-in, the hash router (#/overview, the first page;
// #/certificates, #/certificates/<id>, #/domains, #/domains/<id>,
// #/endpoints) and the page frame.
import {apiKey, onUnauthorized, setApiKey, signIn} from './api.js';
import {certificateDetail, certificateList} from './certificates.js';
import {field, focusMainIfLost, h, mount, notice} from './dom.js';
import {domainDetail, domainList} from './domains.js';
import {endpointList} from './endpoints.js';
import {overview} from './overview.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');

// The sections and "Sign out" show only to a signed-in user.
function showNav(shown) {
  nav.hidden = !shown;
  signOut.hidden = !shown;
}

const routes = [
  [/^#\/overview$/, overview],
  [/^#\/certificates$/, certificateList],
  [/^#\/certificates\/(cert_[A-Za-z0-9]+)$/, certificateDetail],
  [/^#\/domains$/, domainList],
  [/^#\/domains\/(rd_[A-Za-z0-9]+)$/, domainDetail],
  [/^#\/endpoints$/, endpointList],
];

// What the current view left running (timers), stopped on the next route.
let stopView = null;
// A notice to show on the next page ("Certificate deleted.").
let pendingNotice = null;

export function navigate(hash, message) {
  pendingNotice = message ?? null;
  if (location.hash === hash) show();
  else location.hash = hash;
}

// A route reached from the page (not the first load): the keyboard, and a
// screen reader, start at the new page's content.
function show() {
  render();
  focusMainIfLost();
}

function render() {
  if (stopView) {
    stopView();
    stopView = null;
  }
  if (!apiKey()) {
    showNav(false);
    renderSignIn();
    return;
  }
  showNav(true);
  const hash = location.hash && location.hash !== '#/' ? location.hash : '#/overview';
  for (const [pattern, view] of routes) {
    const m = pattern.exec(hash);
    if (!m) continue;
    const section = hash.split('/')[1];
    for (const a of nav.querySelectorAll('a')) {
      if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const frame = h('div', {class: 'view'});
    mount(main, pendingNotice ? notice(pendingNotice) : null, frame);
    pendingNotice = null;
    const stop = view(frame, ...m.slice(1));
    stopView = typeof stop === 'function' ? stop : null;
    return;
  }
  mount(main, h('section', {class: 'empty'},
    h('h1', {}, 'Page not found'),
    h('p', {}, 'There is nothing at this address. ',
      h('a', {href: '#/overview'}, 'Go to the overview'), '.')));
}

function renderSignIn(message) {
  const key = h('input', {type: 'password', autocomplete: 'off', required: true, spellcheck: 'false'});
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit'}, 'Sign in');
  const form = h('form', {class: 'card narrow', 'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title'}, 'Sign in to certgate'),
    message ? notice(message, 'error') : null,
    field({label: 'API key', name: 'api_key', control: key,
           hint: 'The key certgate printed when it first started (it starts with cg_), or one made with "certgate admin api-keys create". It is kept only until you close this tab.'}),
    error,
    h('div', {class: 'actions'}, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      await signIn(key.value.trim());
      render();
    } catch (e) {
      error.textContent = e.unauthorized
        ? 'That API key is not valid. Check that you copied all of it.'
        : e.message;
      error.hidden = false;
      key.focus();
    } finally {
      submit.disabled = false;
    }
  });
  mount(main, form);
  key.focus();
}

signOut.addEventListener('click', () => {
  setApiKey(null);
  render();
});

onUnauthorized(() => {
  if (!apiKey()) return;  // another request's refusal already signed out
  setApiKey(null);
  if (stopView) {
    stopView();
    stopView = null;
  }
  showNav(false);
  renderSignIn('Your API key is no longer accepted. Sign in again.');
});

window.addEventListener('hashchange', show);
render();

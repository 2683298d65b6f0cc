// The overview, the first page after sign-in: how many certificates,
// domains and endpoints the account has, the certificates that expire
// soonest (uploaded and automatic), and the automatically managed domains
// whose certificate certgate fails to obtain or renew.
import {listAll} from './api.js';
import {certName} from './certificates.js';
import {poller} from './domains.js';
import {h, loadError, mount} from './dom.js';
import {formatDate, formatTime, plural, relative, sans, urgency} from './format.js';

// How many of the soonest expiries the page lists; the certificates page
// sorts them all.
const SOONEST = 10;
// How often the page refreshes while a provisioning job runs or waits.
const POLL_MS = 5000;

const job = (d) => d.certificate_management_status?.provisioning_job ?? null;

// "12+" when the list stopped at listAll's bound.
const tally = (items) => `${items.length}${items.truncated ? '+' : ''}`;

function expiryCell(cert) {
  const u = urgency(cert.not_after);
  return h('span', {class: `expiry ${u.level}`},
    h('span', {class: 'date'}, formatDate(cert.not_after)), ' ',
    h('span', {class: 'badge'}, u.text),
    u.flag ? [' ', h('span', {class: 'badge flag'}, u.flag)] : null);
}

function domainLinks(list) {
  return list.length
    ? list.map((d, i) => [i ? ', ' : '', h('a', {href: `#/domains/${d.id}`}, d.domain)])
    : h('span', {class: 'muted'}, 'none');
}

// Runs fn, which draws `container` again, and gives the keyboard focus back
// to the link that had it (the same target, the same position among links
// to it), so that the page refreshing does not throw a keyboard user out.
function keepingFocus(container, fn) {
  const active = document.activeElement;
  const href = container.contains(active) && active.matches('a[href]') ? active.getAttribute('href') : null;
  const selector = href ? `a[href="${CSS.escape(href)}"]` : null;
  const index = selector ? [...container.querySelectorAll(selector)].indexOf(active) : -1;
  fn();
  if (selector) container.querySelectorAll(selector)[index]?.focus();
}

// A table that turns into cards at phone width, as the lists do.
function table(caption, headings, rows) {
  return h('table', {class: 'data'},
    h('caption', {class: 'visually-hidden'}, caption),
    h('thead', {}, h('tr', {}, headings.map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {},
      cells.map((cell, i) => h('td', {'data-label': headings[i]}, cell))))));
}

export function overview(view) {
  const problem = h('div');
  const tallies = h('div', {class: 'tallies'});
  const expiring = h('section', {class: 'card', 'aria-labelledby': 'expiring-title'});
  const failing = h('section', {class: 'card', 'aria-labelledby': 'failing-title'});
  const updated = h('span', {class: 'muted'});
  let certs = null;
  let endpoints = null;
  let loads = 0;

  // The domains and certificates each time; the endpoints (only counted)
  // when `everything`. Only the newest load is shown.
  async function load(everything) {
    const ticket = ++loads;
    let domains;
    let newCerts;
    let newEndpoints;
    try {
      [domains, newCerts, newEndpoints] = await Promise.all([
        listAll('reserved_domains'), listAll('tls_certificates'),
        everything || !endpoints ? listAll('endpoints') : endpoints]);
    } catch (e) {
      if (ticket === loads) mount(problem, loadError(e));
      return true;  // keep trying: the failure may pass
    }
    if (ticket !== loads) return true;
    certs = newCerts;
    endpoints = newEndpoints;
    mount(problem);
    keepingFocus(view, () => render(domains));
    return domains.some(job);
  }

  function render(domains) {
    const byCert = new Map();
    for (const d of domains) {
      if (!d.certificate) continue;
      if (!byCert.has(d.certificate.id)) byCert.set(d.certificate.id, []);
      byCert.get(d.certificate.id).push(d);
    }
    const certById = new Map(certs.map((c) => [c.id, c]));
    const managed = domains.filter((d) => d.certificate_management_policy);
    const broken = managed.filter((d) => job(d)?.error_code);
    const working = managed.filter((d) => job(d) && !job(d).error_code);
    const soonest = certs.slice().sort((a, b) => Date.parse(a.not_after) - Date.parse(b.not_after));
    const flagged = soonest.filter((c) => urgency(c.not_after).level !== 'ok');

    mount(tallies,
      h('a', {class: 'tally', href: '#/certificates'},
        h('span', {class: 'tally-n'}, tally(certs)), h('span', {}, 'Certificates'),
        h('span', {class: 'muted'}, `${flagged.length} expired or expiring within 30 days`)),
      h('a', {class: 'tally', href: '#/domains'},
        h('span', {class: 'tally-n'}, tally(domains)), h('span', {}, 'Domains'),
        h('span', {class: 'muted'}, `${managed.length} managed automatically`)),
      h('a', {class: 'tally', href: '#/endpoints'},
        h('span', {class: 'tally-n'}, tally(endpoints)), h('span', {}, 'Endpoints'),
        h('span', {class: 'muted'}, 'routing traffic to upstreams')),
      h('a', {class: `tally${broken.length ? ' bad' : ''}`, href: '#failing-title', onclick: (e) => {
        e.preventDefault();  // the hash is the router's
        failing.querySelector('h2').focus();
        failing.scrollIntoView();
      }},
        h('span', {class: 'tally-n'}, String(broken.length)), h('span', {}, 'Renewals failing'),
        h('span', {class: 'muted'}, working.length ? `${plural(working.length, 'domain')} in progress`
          : broken.length ? 'listed below' : 'nothing to fix')));

    const shown = soonest.slice(0, SOONEST);
    mount(expiring, h('h2', {id: 'expiring-title'}, 'Expiring soonest'),
      shown.length
        ? [h('p', {class: 'muted'}, soonest.length > shown.length
          ? [`The ${shown.length} of your ${tally(certs)} certificates that expire first. `,
            h('a', {href: '#/certificates'}, 'All certificates'), ' can be sorted by expiry.']
          : `Your ${plural(shown.length, 'certificate')}, the one that expires first at the top. ` +
            'Flagged under 30, 14 and 7 days.'),
        table('Certificates that expire soonest', ['Certificate', 'Names', 'Expires', 'Source', 'Domains'],
          shown.map((c) => [
            h('a', {href: `#/certificates/${c.id}`}, certName(c)),
            h('span', {class: 'names'}, sans(c).join(', ') || '—'),
            expiryCell(c),
            c.issued_at ? 'Automatic' : 'Uploaded',
            domainLinks(byCert.get(c.id) ?? []),
          ]))]
        : h('p', {}, 'No certificates yet. ', h('a', {href: '#/certificates'}, 'Upload one'), ', or ',
          h('a', {href: '#/domains'}, 'add a domain'), ' with automatic management.'));

    mount(failing, h('h2', {id: 'failing-title', tabindex: '-1'}, 'Renewals failing'),
      broken.length
        ? [h('p', {class: 'muted'}, 'Automatically managed domains whose certificate certgate could not ' +
            'obtain or renew. It keeps trying; DNS_ERROR means something for you to fix.'),
          table('Domains whose certificate fails to be issued or renewed',
            ['Domain', 'Problem', 'Next try', 'Failing since', 'Current certificate'],
            broken.map((d) => {
              const j = job(d);
              const cert = d.certificate ? certById.get(d.certificate.id) : null;
              return [
                h('a', {href: `#/domains/${d.id}`}, d.domain),
                h('div', {class: 'state'}, h('span', {class: 'badge error'}, j.error_code),
                  h('p', {class: 'state-msg problem'}, j.msg)),
                j.retries_at
                  ? [relative(j.retries_at), h('p', {class: 'muted when'}, formatTime(j.retries_at))] : '—',
                h('span', {class: 'when'}, formatTime(j.started_at)),
                cert ? expiryCell(cert) : h('span', {class: 'muted'}, d.certificate ? d.certificate.id : 'none yet'),
              ];
            }))]
        : h('p', {class: 'notice ok'}, managed.length
          ? `No renewal is failing: certgate manages ${plural(managed.length, 'domain')} without a problem.`
          : 'No renewal is failing. No domain is managed automatically yet.'),
      working.length
        ? h('p', {class: 'muted'}, `certgate is obtaining or renewing the certificate of ${plural(working.length, 'domain')} right now: `,
          domainLinks(working), '.')
        : null);
    updated.textContent = `Updated ${formatTime(new Date().toISOString())}. `;
  }

  const poll = poller(() => load(false), POLL_MS);
  const refresh = h('button', {type: 'button', class: 'small secondary', onclick: async () => {
    refresh.disabled = true;
    if (await load(true)) poll.kick();
    refresh.disabled = false;
  }}, 'Refresh');
  mount(view,
    h('div', {class: 'heading'}, h('h1', {}, 'Overview'), h('p', {class: 'updated'}, updated, refresh)),
    problem, tallies, expiring, failing);
  mount(expiring, h('h2', {id: 'expiring-title'}, 'Expiring soonest'), h('p', {class: 'muted'}, 'Loading…'));
  (async () => {
    if (await load(true)) poll.kick();
  })();
  return () => poll.stop();
}

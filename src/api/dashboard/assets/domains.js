// Domains: the list (with live provisioning state and the form to add one),
// and one domain's page with the DNS records to create.
import {del, get, listAll, post} from './api.js';
import {confirmDialog, copyButton, detailList, field, h, loadError, mount, notice, onSubmit, uniqueId}
  from './dom.js';
import {formatTime, keyType, relative} from './format.js';
import {dataTable, pager} from './table.js';
import {navigate} from './app.js';

// How often a page refreshes while a provisioning job runs or waits.
const POLL_MS = 2000;
// How often the DNS records are looked up again meanwhile (each lookup costs
// certgate a resolver round trip per record).
const DNS_POLL_MS = 10000;

function management(d) {
  const policy = d.certificate_management_policy;
  if (policy) return `Automatic (${keyType(policy.private_key_type ?? 'ecdsa')})`;
  if (d.certificate) return 'Uploaded certificate';
  if (!d.cname_target) return "The service's certificate";
  return 'No certificate';
}

// The provisioning state as a short block: message, error code, next retry,
// renewal.
function provisioning(d) {
  const status = d.certificate_management_status;
  if (!status) return h('span', {class: 'muted'}, '—');
  const job = status.provisioning_job;
  return h('div', {class: 'state'},
    job ? h('p', {class: job.error_code ? 'state-msg problem' : 'state-msg'},
      job.error_code ? h('span', {class: 'badge error'}, job.error_code) : h('span', {class: 'badge busy'}, 'working'),
      ' ', job.msg || 'Provisioning a certificate…') : null,
    job && job.retries_at ? h('p', {class: 'muted'}, `Next try ${relative(job.retries_at)} (${formatTime(job.retries_at)})`) : null,
    status.renews_at ? h('p', {class: 'muted'}, `Renews ${formatTime(status.renews_at)}`) : null);
}

function certificateCell(d, certs) {
  if (!d.certificate) return h('span', {class: 'muted'}, 'none yet');
  const cert = certs.get(d.certificate.id);
  return h('a', {href: `#/certificates/${d.certificate.id}`},
    cert ? (cert.subject_common_name || d.certificate.id) : d.certificate.id);
}

// Repeats fn every ms while keepGoing() says so; returns a stop function.
function poller(fn, ms) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    const again = await fn();
    if (again && !stopped && !timer) timer = setTimeout(tick, ms);
  };
  return {
    kick() {
      if (!timer && !stopped) timer = setTimeout(tick, ms);
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

// Whether the page should keep refreshing: a job runs or waits, or a policy
// was just set and its first job has not shown up yet.
const running = (d) => Boolean(d.certificate_management_status?.provisioning_job ||
  (d.certificate_management_policy && !d.certificate));

export function domainList(view) {
  const loadProblem = h('div');
  let certs = new Map();
  const table = dataTable({
    label: 'Domains',
    columns: [
      {label: 'Domain', sort: (d) => d.domain,
       cell: (d) => h('a', {href: `#/domains/${d.id}`}, d.domain)},
      {label: 'Certificate', sort: (d) => d.certificate?.id ?? '', cell: (d) => certificateCell(d, certs)},
      {label: 'Management', sort: management, cell: management},
      {label: 'Provisioning', cell: provisioning},
    ],
    placeholder: 'domain, description…',
    filterText: (d) => [d.domain, d.description, management(d)].join(' '),
  });
  const empty = h('section', {class: 'empty', hidden: true},
    h('h2', {}, 'No domains yet'),
    h('p', {}, 'Add a domain below. With automatic management certgate obtains and renews its ' +
      'certificate; you can also attach a certificate you uploaded.'));
  let lastItems = [];
  const pages = pager({
    collection: 'reserved_domains',
    fetchPage: async (path) => {
      const [page, all] = await Promise.all([get(path), listAll('tls_certificates')]);
      certs = new Map(all.map((c) => [c.id, c]));
      return page;
    },
    onPage: (items) => {
      lastItems = items;
      mount(loadProblem);
      empty.hidden = items.length > 0;
      table.element.hidden = items.length === 0;
      table.setRows(items);
      if (items.some(running)) poll.kick();
    },
    onError: (e) => mount(loadProblem, loadError(e)),
  });
  const poll = poller(async () => {
    await pages.reload();
    return lastItems.some(running);
  }, POLL_MS);

  const form = createForm();
  mount(view,
    h('div', {class: 'heading'}, h('h1', {}, 'Domains'),
      h('a', {class: 'button', href: '#add-domain', onclick: (e) => {
        e.preventDefault();
        form.open = true;
        form.querySelector('input').focus();
      }}, 'Add a domain')),
    loadProblem, empty, table.element, pages.element, form);
  table.element.hidden = true;
  pages.reload();
  return () => poll.stop();
}

function radio(name, value, label, checked) {
  const id = uniqueId(`r-${value}`);
  return h('div', {class: 'choice'},
    h('input', {type: 'radio', name, id, value, checked}),
    h('label', {for: id}, label));
}

function createForm() {
  const domain = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
                             placeholder: 'app.example.com or *.example.com'});
  const keyTypeSelect = h('select', {},
    h('option', {value: 'ecdsa'}, 'ECDSA P-256 (recommended)'), h('option', {value: 'rsa'}, 'RSA 2048'));
  const certSelect = h('select', {}, h('option', {value: ''}, 'Loading your certificates…'));
  const description = h('input', {type: 'text', maxlength: 255});
  const automatic = h('div', {class: 'sub'}, field({label: 'Key type', name: 'certificate_management_policy.private_key_type', control: keyTypeSelect}));
  const uploaded = h('div', {class: 'sub', hidden: true},
    field({label: 'Certificate', name: 'certificate_id', control: certSelect,
           hint: 'One of your uploaded certificates that covers the domain.'}));
  const modes = h('fieldset', {class: 'field'},
    h('legend', {}, 'Certificate'),
    radio('mode', 'automatic', "Automatic: certgate obtains and renews one from Let's Encrypt", true),
    automatic,
    radio('mode', 'uploaded', 'A certificate I uploaded', false),
    uploaded,
    radio('mode', 'none', "None (for names under the service's own domain)", false));
  modes.addEventListener('change', () => {
    const mode = modes.querySelector('input[name=mode]:checked').value;
    automatic.hidden = mode !== 'automatic';
    uploaded.hidden = mode !== 'uploaded';
  });
  const form = h('form', {'aria-labelledby': 'add-domain-title', novalidate: true},
    field({label: 'Domain name', name: 'domain', control: domain,
           hint: 'A name you control. A wildcard covers one label: *.example.com covers app.example.com.'}),
    modes,
    field({label: 'Description (optional)', name: 'description', control: description}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Add domain')));
  onSubmit(form, async () => {
    const body = {domain: domain.value.trim()};
    const mode = modes.querySelector('input[name=mode]:checked').value;
    if (mode === 'automatic') {
      body.certificate_management_policy = {authority: 'letsencrypt', private_key_type: keyTypeSelect.value};
    } else if (mode === 'uploaded') {
      body.certificate_id = certSelect.value;
    }
    if (description.value) body.description = description.value;
    const created = await post('/reserved_domains', body);
    navigate(`#/domains/${created.id}`, `Added ${created.domain}.`);
  });
  listAll('tls_certificates').then((certs) => {
    const choices = certs.filter((c) => !c.issued_at);
    mount(certSelect, choices.length
      ? choices.map((c) => h('option', {value: c.id},
        `${c.subject_common_name || c.id} (${[...(c.subject_alternative_names?.dns_names ?? [])].join(', ')})`))
      : h('option', {value: ''}, 'No uploaded certificates yet'));
  }, () => mount(certSelect, h('option', {value: ''}, 'Your certificates could not be loaded')));
  return h('details', {class: 'card', id: 'add-domain'},
    h('summary', {id: 'add-domain-title'}, 'Add a domain'), form);
}

export function domainDetail(view, id) {
  mount(view, h('p', {class: 'muted'}, 'Loading…'));
  const status = h('div', {'aria-live': 'polite'});
  const facts = h('section', {class: 'card'});
  const records = h('section', {class: 'card'});
  let domain = null;
  let cert = null;

  async function refresh() {
    try {
      domain = await get(`/reserved_domains/${id}`);
      cert = domain.certificate ? await get(`/tls_certificates/${domain.certificate.id}`).catch(() => null) : null;
    } catch (e) {
      mount(status, loadError(e));
      return true;  // keep trying: the failure may pass
    }
    renderFacts();
    return running(domain);
  }

  function renderFacts() {
    const policy = domain.certificate_management_policy;
    const s = domain.certificate_management_status;
    const job = s?.provisioning_job;
    mount(facts, h('h2', {}, 'Domain'), detailList([
      ['ID', h('code', {}, domain.id)],
      ['Domain', domain.domain],
      ['Certificate', domain.certificate
        ? h('a', {href: `#/certificates/${domain.certificate.id}`},
          cert?.subject_common_name || domain.certificate.id) : 'none yet'],
      ['Management', management(domain)],
      policy ? ['Authority', policy.authority] : null,
      s ? ['Renews', s.renews_at ? formatTime(s.renews_at) : 'once a certificate is issued'] : null,
      s ? ['Provisioning', job ? provisioning(domain) : 'idle'] : null,
      job ? ['Job started', formatTime(job.started_at)] : null,
      ['CNAME target', domain.cname_target ? h('code', {}, domain.cname_target) : "none (under the service's domain)"],
      domain.acme_challenge_cname_target
        ? ['ACME challenge CNAME target', h('code', {}, domain.acme_challenge_cname_target)] : null,
      ['Created', formatTime(domain.created_at)],
      ['Description', domain.description],
      ['Metadata', domain.metadata],
      ['API URI', h('code', {class: 'wrap'}, domain.uri)],
    ]));
  }

  async function checkRecords() {
    if (!domain.cname_target) {
      mount(records, h('h2', {}, 'DNS records'),
        h('p', {}, "This name is under the service's own domain: certgate answers for it already, no DNS record is needed."));
      return false;
    }
    let data;
    try {
      data = await get(`/reserved_domains/${id}/dns_records`);
    } catch (e) {
      mount(records, h('h2', {}, 'DNS records'), loadError(e));
      return running(domain);
    }
    const rows = data.records ?? [];
    const label = {present: 'in place', missing: 'missing', wrong_target: 'points elsewhere', unknown: 'not checked'};
    mount(records, h('h2', {}, 'DNS records'),
      h('p', {}, `Create ${rows.length === 1 ? 'this record' : 'these records'} at your DNS provider. ` +
        'certgate checks them before it asks for a certificate.'),
      h('table', {class: 'data records'},
        h('caption', {class: 'visually-hidden'}, 'DNS records to create'),
        h('thead', {}, h('tr', {}, ['Name', 'Type', 'Value', 'Seen by certgate'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', {}, rows.map((r) => h('tr', {},
          h('td', {'data-label': 'Name'}, h('code', {class: 'wrap'}, r.name), ' ', copyButton(r.name, `the name ${r.name}`)),
          h('td', {'data-label': 'Type'}, r.type),
          h('td', {'data-label': 'Value'}, h('code', {class: 'wrap'}, r.value), ' ', copyButton(r.value, `the value ${r.value}`)),
          h('td', {'data-label': 'Seen by certgate'},
            h('span', {class: `badge record-${r.status}`}, label[r.status] ?? r.status),
            h('p', {class: 'muted'}, r.msg)))))),
      h('p', {class: 'muted'}, `Checked ${formatTime(data.checked_at)}. `,
        h('button', {type: 'button', class: 'small secondary', onclick: () => checkRecords()}, 'Check again')));
    return running(domain);
  }

  const poll = poller(refresh, POLL_MS);
  const dnsPoll = poller(checkRecords, DNS_POLL_MS);
  (async () => {
    const busy = await refresh();
    if (!domain) {
      mount(view, h('p', {}, h('a', {href: '#/domains'}, '← Domains')), status);
      return;
    }
    mount(view,
      h('p', {}, h('a', {href: '#/domains'}, '← Domains')),
      h('div', {class: 'heading'}, h('h1', {}, domain.domain),
        h('button', {type: 'button', class: 'danger', onclick: () => remove(domain, status)}, 'Delete domain')),
      status, facts, records);
    mount(records, h('h2', {}, 'DNS records'), h('p', {class: 'muted'}, 'Checking…'));
    if (busy) poll.kick();
    if (await checkRecords()) dnsPoll.kick();
  })();
  return () => {
    poll.stop();
    dnsPoll.stop();
  };
}

async function remove(domain, status) {
  const ok = await confirmDialog({
    title: `Delete ${domain.domain}?`,
    body: ['certgate stops serving this name and stops renewing its certificate. ' +
      'An uploaded certificate stays in your certificates.'],
    confirmLabel: 'Delete'});
  if (!ok) return;
  try {
    await del(`/reserved_domains/${domain.id}`);
    navigate('#/domains', `Deleted ${domain.domain}.`);
  } catch (e) {
    mount(status, loadError(e));
  }
}

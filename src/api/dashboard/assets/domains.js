// Domains: the list (with live provisioning state and the form to add one),
// and one domain's page: its DNS records to create, how it gets its
// certificate (and the forms to change that), its description.
import {del, get, listAll, patch, post} from './api.js';
import {certName, expiryBadge} from './certificates.js';
import {confirmDialog, copyButton, detailList, field, focusMainIfLost, h, loadError, mount, notice,
  onSubmit, uniqueId} from './dom.js';
import {formatDate, formatTime, keyType, relative, sans} from './format.js';
import {dataTable, pager} from './table.js';
import {navigate} from './app.js';

// How often a page refreshes while a provisioning job runs or waits.
const POLL_MS = 2000;
// How often the DNS records are looked up again meanwhile (each lookup costs
// certgate a resolver round trip per record).
const DNS_POLL_MS = 10000;

// How the domain gets its certificate, in a few words. `cert` is the attached
// certificate's resource when known: one that certgate issued stays attached
// after the policy is removed, and is then not renewed.
function management(d, cert) {
  const policy = d.certificate_management_policy;
  if (policy) return `Automatic (${keyType(policy.private_key_type ?? 'ecdsa')})`;
  if (d.certificate && cert?.issued_at) return 'Off (its last issued certificate, not renewed)';
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

// Runs fn again every ms for as long as it resolves true, once kick()
// started it; stop() ends it for good.
export function poller(fn, ms) {
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
      {label: 'Management', sort: (d) => management(d, certs.get(d.certificate?.id)),
       cell: (d) => management(d, certs.get(d.certificate?.id))},
      {label: 'Provisioning', cell: provisioning},
    ],
    placeholder: 'domain, description…',
    filterText: (d) => [d.domain, d.description, management(d, certs.get(d.certificate?.id))].join(' '),
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

// The key types automatic management offers (certgate's issuer makes RSA
// keys of 4096 bits).
function keyTypeSelect() {
  return h('select', {},
    h('option', {value: 'ecdsa'}, 'ECDSA P-256 (recommended)'), h('option', {value: 'rsa'}, 'RSA 4096'));
}

function createForm() {
  const domain = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
                             placeholder: 'app.example.com or *.example.com'});
  const keyTypeChoice = keyTypeSelect();
  const certSelect = h('select', {}, h('option', {value: ''}, 'Loading your certificates…'));
  const description = h('input', {type: 'text', maxlength: 255});
  const automatic = h('div', {class: 'sub'}, field({label: 'Key type', name: 'certificate_management_policy.private_key_type', control: keyTypeChoice}));
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
      body.certificate_management_policy = {authority: 'letsencrypt', private_key_type: keyTypeChoice.value};
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
  const manage = h('section', {class: 'card', 'aria-labelledby': 'manage-title'});
  const records = h('section', {class: 'card'});
  const about = h('div');
  let domain = null;
  let cert = null;
  // What the certificate panel was drawn for: it is drawn again only when
  // that changes, so a refresh while a job runs keeps what the user chose.
  let drawnFor = null;
  let loads = 0;

  // Only the newest load is shown: a refresh that was under way during an
  // edit answers with the domain as it was before.
  async function load() {
    const ticket = ++loads;
    const d = await get(`/reserved_domains/${id}`);
    const c = d.certificate ? await get(`/tls_certificates/${d.certificate.id}`).catch(() => null) : null;
    if (ticket !== loads) return;
    domain = d;
    cert = c;
    renderFacts();
    const key = JSON.stringify([domain.certificate_management_policy,
      domain.certificate_management_policy ? null : domain.certificate?.id ?? null, domain.cname_target]);
    if (key !== drawnFor) {
      drawnFor = key;
      mount(manage, managementPanel(domain, cert, changed));
    }
  }

  async function refresh() {
    try {
      await load();
    } catch (e) {
      mount(status, loadError(e));
      return true;  // keep trying: the failure may pass
    }
    return running(domain);
  }

  // After an edit: the page shows the domain as the API now has it.
  async function changed(message) {
    try {
      await load();
    } catch (e) {
      mount(status, loadError(e));
      return;
    }
    mount(status, notice(message));
    focusMainIfLost();  // it was on a control of the panel drawn again
    if (running(domain)) {
      poll.kick();
      dnsPoll.kick();
    }
  }

  function renderFacts() {
    const policy = domain.certificate_management_policy;
    const s = domain.certificate_management_status;
    const job = s?.provisioning_job;
    mount(facts, h('h2', {}, 'Domain'), detailList([
      ['ID', h('code', {}, domain.id)],
      ['Domain', domain.domain],
      ['Certificate', domain.certificate
        ? [h('a', {href: `#/certificates/${domain.certificate.id}`},
          cert ? certName(cert) : domain.certificate.id), cert ? [' ', expiryBadge(cert)] : null]
        : 'none yet'],
      ['Management', management(domain, cert)],
      policy ? ['Authority', policy.authority] : null,
      s ? ['Renews', s.renews_at ? formatTime(s.renews_at) : 'once a certificate is issued'] : null,
      s ? ['Provisioning', job ? provisioning(domain) : 'idle'] : null,
      job ? ['Job started', formatTime(job.started_at)] : null,
      ['CNAME target', domain.cname_target ? h('code', {}, domain.cname_target) : "none (under the service's domain)"],
      domain.acme_challenge_cname_target
        ? ['ACME challenge CNAME target', h('code', {}, domain.acme_challenge_cname_target)] : null,
      ['Created', formatTime(domain.created_at)],
      ['Description', domain.description],
      ['Metadata', domain.metadata ? h('code', {class: 'wrap'}, domain.metadata) : ''],
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
    mount(about, aboutForm(domain, changed));
    mount(view,
      h('p', {}, h('a', {href: '#/domains'}, '← Domains')),
      h('div', {class: 'heading'}, h('h1', {}, domain.domain),
        h('button', {type: 'button', class: 'danger', onclick: () => remove(domain, status)}, 'Delete domain')),
      status, facts, manage, records, about);
    mount(records, h('h2', {}, 'DNS records'), h('p', {class: 'muted'}, 'Checking…'));
    if (busy) poll.kick();
    if (await checkRecords()) dnsPoll.kick();
  })();
  return () => {
    poll.stop();
    dnsPoll.stop();
  };
}

// Whether a certificate's names cover the domain: an exact name, or a
// wildcard name one label above it. Only a hint for ordering the choices;
// the API decides, and says why when it refuses.
function covers(cert, domain) {
  const dot = domain.indexOf('.');
  const parent = dot > 0 && !domain.startsWith('*.') ? domain.slice(dot + 1) : null;
  return (cert.subject_alternative_names?.dns_names ?? []).some((name) => {
    const n = name.toLowerCase();
    return n === domain || (parent !== null && n === `*.${parent}`);
  });
}

function certificateChoice(c, domain) {
  return h('option', {value: c.id},
    `${certName(c)}: ${sans(c).join(', ') || 'no names'}; expires ${formatDate(c.not_after)}` +
    (covers(c, domain) ? '' : ` (does not cover ${domain})`));
}

// The certificate panel of a domain's page: switch between automatic
// management and an uploaded certificate, change the key type, detach the
// certificate, turn automatic management off. `changed(message)` shows the
// domain as it now is.
function managementPanel(domain, cert, changed) {
  const policy = domain.certificate_management_policy;
  const title = h('h2', {id: 'manage-title'}, 'Certificate management');
  const uploadedNow = !policy && domain.certificate && !cert?.issued_at ? domain.certificate.id : null;
  const more = moreActions(domain, cert, changed);
  if (!domain.cname_target) {
    // Subdomains of the service's base domain take neither (the API refuses both).
    return [title, h('p', {}, "This name is under the service's own domain, whose certificate serves it: " +
      'it takes neither automatic management nor an uploaded certificate.'), more];
  }

  const keyChoice = keyTypeSelect();
  keyChoice.value = policy?.private_key_type ?? 'ecdsa';
  const certChoice = h('select', {}, h('option', {value: ''}, 'Loading your certificates…'));
  const preview = h('div', {class: 'cert-preview'});
  let uploaded = [];
  const automaticBox = h('div', {class: 'sub'},
    field({label: 'Key type', name: 'certificate_management_policy.private_key_type', control: keyChoice,
           hint: policy ? 'A new key type makes certgate obtain a new certificate; the current one serves until then.'
             : null}));
  const uploadedBox = h('div', {class: 'sub'},
    field({label: 'Certificate', name: 'certificate_id', control: certChoice,
           hint: ['One of your uploaded certificates; those that cover this domain come first. ',
             h('a', {href: '#/certificates'}, 'Upload one'), ' if it is not there.']}),
    preview);
  const modes = h('fieldset', {class: 'field'},
    h('legend', {}, policy || domain.certificate ? 'Change how it gets its certificate' : 'Give it a certificate'),
    radio('manage-mode', 'automatic', "Automatic: certgate obtains and renews one from Let's Encrypt",
      Boolean(policy) || !uploadedNow),
    automaticBox,
    radio('manage-mode', 'uploaded', 'A certificate I uploaded', Boolean(uploadedNow)),
    uploadedBox);
  const submit = h('button', {type: 'submit'});
  const form = h('form', {'aria-labelledby': 'manage-title', novalidate: true},
    modes, h('div', {class: 'actions'}, submit));
  const mode = () => modes.querySelector('input[type=radio]:checked').value;

  function showPreview() {
    const c = uploaded.find((u) => u.id === certChoice.value);
    mount(preview, c ? detailList([
      ['Names', sans(c).join(', ')],
      ['Expires', expiryBadge(c)],
      ['Issuer', c.issuer_common_name],
      ['Key type', keyType(c.private_key_type)],
      covers(c, domain.domain) ? null : ['Covers this domain', `no: certgate will refuse it for ${domain.domain}`],
    ]) : null);
  }

  function update() {
    automaticBox.hidden = mode() !== 'automatic';
    uploadedBox.hidden = mode() !== 'uploaded';
    if (mode() === 'automatic') {
      submit.textContent = policy ? 'Change the key type' : 'Switch to automatic management';
      submit.disabled = Boolean(policy) && keyChoice.value === policy.private_key_type;
    } else {
      submit.textContent = uploadedNow ? 'Use this certificate instead' : 'Use this certificate';
      submit.disabled = !certChoice.value || certChoice.value === uploadedNow;
    }
    showPreview();
  }
  modes.addEventListener('change', update);
  update();

  listAll('tls_certificates').then((certs) => {
    uploaded = certs.filter((c) => !c.issued_at).sort((a, b) =>
      (covers(b, domain.domain) - covers(a, domain.domain)) || (Date.parse(b.not_after) - Date.parse(a.not_after)));
    mount(certChoice, uploaded.length ? uploaded.map((c) => certificateChoice(c, domain.domain))
      : h('option', {value: ''}, 'No uploaded certificates yet'));
    if (uploadedNow) certChoice.value = uploadedNow;
    update();
  }, () => mount(certChoice, h('option', {value: ''}, 'Your certificates could not be loaded')));

  onSubmit(form, async () => {
    if (mode() === 'automatic') {
      const type = keyChoice.value;
      if (!policy && domain.certificate) {
        const ok = await confirmDialog({
          title: `Switch ${domain.domain} to automatic management?`,
          body: [`certgate stops using the certificate ${cert ? certName(cert) : domain.certificate.id} ` +
            "for it (the certificate stays in your certificates) and obtains one from Let's Encrypt."],
          confirmLabel: 'Switch'});
        if (!ok) return;
      }
      await patch(`/reserved_domains/${domain.id}`,
        {certificate_management_policy: {authority: 'letsencrypt', private_key_type: type}});
      await changed(policy
        ? `The key type is now ${keyType(type)}: certgate obtains a new certificate with it.`
        : `Automatic management is on: certgate obtains a certificate with an ${keyType(type)} key.`);
    } else {
      const chosen = uploaded.find((u) => u.id === certChoice.value);
      await patch(`/reserved_domains/${domain.id}`, {certificate_id: certChoice.value});
      await changed(`${domain.domain} uses the certificate ${chosen ? certName(chosen) : certChoice.value}` +
        (policy ? '; automatic management is off.' : '.'));
    }
  });
  return [title, form, more];
}

// Detaching the certificate (without a policy) or turning automatic
// management off (with one), each confirmed first.
function moreActions(domain, cert, changed) {
  const policy = domain.certificate_management_policy;
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const name = cert ? certName(cert) : domain.certificate?.id;
  async function act(button, confirmation, path, message) {
    if (!(await confirmDialog(confirmation))) return;
    error.hidden = true;
    button.disabled = true;
    try {
      await del(path);
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      button.disabled = false;
      return;
    }
    await changed(message);
  }
  let button;
  if (policy) {
    button = h('button', {type: 'button', class: 'danger', onclick: () => act(button, {
      title: `Turn off automatic management for ${domain.domain}?`,
      body: [domain.certificate
        ? `certgate stops renewing its certificate. The certificate it issued last (${name}) stays attached until you replace it or it expires.`
        : 'certgate stops trying to obtain a certificate for it.'],
      confirmLabel: 'Turn off'}, `/reserved_domains/${domain.id}/certificate_management_policy`,
    'Automatic management is off.')}, 'Turn off automatic management');
  } else if (domain.certificate) {
    button = h('button', {type: 'button', class: 'danger', onclick: () => act(button, {
      title: `Detach the certificate from ${domain.domain}?`,
      body: [`certgate stops serving ${domain.domain} with ${name}. The certificate stays in your certificates.`],
      confirmLabel: 'Detach'}, `/reserved_domains/${domain.id}/certificate`,
    `Detached the certificate from ${domain.domain}.`)}, 'Detach the certificate');
  } else {
    return null;
  }
  return h('div', {class: 'more-actions'}, error, h('div', {class: 'actions'}, button));
}

// The domain's description and metadata.
function aboutForm(domain, changed) {
  const description = h('input', {type: 'text', maxlength: 255, value: domain.description ?? ''});
  const metadata = h('textarea', {rows: 3, maxlength: 4096, value: domain.metadata ?? ''});
  const form = h('form', {class: 'card', 'aria-labelledby': 'about-title', novalidate: true},
    h('h2', {id: 'about-title'}, 'Description and metadata'),
    field({label: 'Description', name: 'description', control: description}),
    field({label: 'Metadata', name: 'metadata', control: metadata,
           hint: 'Free text for your own tools, up to 4096 bytes.'}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Save')));
  onSubmit(form, async () => {
    await patch(`/reserved_domains/${domain.id}`, {description: description.value, metadata: metadata.value});
    await changed('Saved.');
  });
  return form;
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

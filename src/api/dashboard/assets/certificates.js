// Certificates: the list (with upload), and one certificate's page (chain,
// edit, delete).
import {del, get, listAll, patch, post} from './api.js';
import {confirmDialog, copyButton, detailList, field, h, loadError, mount, notice, onSubmit}
  from './dom.js';
import {expiry, formatDate, formatTime, keyType, sans} from './format.js';
import {dataTable, pager} from './table.js';
import {navigate} from './app.js';

// Domain names by the id of the certificate they use.
async function domainsByCertificate() {
  const byCert = new Map();
  for (const d of await listAll('reserved_domains')) {
    if (!d.certificate) continue;
    if (!byCert.has(d.certificate.id)) byCert.set(d.certificate.id, []);
    byCert.get(d.certificate.id).push(d);
  }
  return byCert;
}

export function expiryBadge(cert) {
  const e = expiry(cert.not_after);
  return h('span', {class: `expiry ${e.level}`},
    h('span', {class: 'date'}, formatDate(cert.not_after)), ' ',
    h('span', {class: 'badge'}, e.text));
}

function source(cert) {
  return cert.issued_at ? 'Automatic' : 'Uploaded';
}

export function certName(cert) {
  return cert.subject_common_name || sans(cert)[0] || cert.id;
}

export function certificateList(view) {
  const status = h('div', {'aria-live': 'polite'});
  const loadProblem = h('div');
  let domains = new Map();
  const table = dataTable({
    label: 'Certificates',
    columns: [
      {label: 'Common name', sort: certName,
       cell: (c) => h('a', {href: `#/certificates/${c.id}`}, certName(c))},
      {label: 'Names (SANs)', sort: (c) => sans(c).join(' '),
       cell: (c) => h('span', {class: 'names'}, sans(c).join(', ') || '—')},
      {label: 'Issuer', sort: (c) => c.issuer_common_name ?? '', cell: (c) => c.issuer_common_name || '—'},
      {label: 'Key', sort: (c) => c.private_key_type ?? '', cell: (c) => keyType(c.private_key_type)},
      {label: 'Expires', sort: (c) => Date.parse(c.not_after) || 0, cell: expiryBadge},
      {label: 'Source', sort: source, cell: source},
      {label: 'Domains', sort: (c) => (domains.get(c.id) ?? []).length,
       cell: (c) => {
         const list = domains.get(c.id) ?? [];
         return list.length
           ? list.map((d, i) => [i ? ', ' : '', h('a', {href: `#/domains/${d.id}`}, d.domain)])
           : h('span', {class: 'muted'}, 'none');
       }},
    ],
    placeholder: 'name, issuer, domain…',
    filterText: (c) => [certName(c), ...sans(c), c.issuer_common_name, c.description,
      ...(domains.get(c.id) ?? []).map((d) => d.domain)].join(' '),
  });
  const empty = h('section', {class: 'empty', hidden: true},
    h('h2', {}, 'No certificates yet'),
    h('p', {}, 'Upload a certificate chain and its private key below, or ',
      h('a', {href: '#/domains'}, 'add a domain with automatic management'),
      ' and certgate will obtain and renew one for it.'));
  const pages = pager({
    collection: 'tls_certificates',
    fetchPage: async (path) => {
      const [page, byCert] = await Promise.all([get(path), domainsByCertificate()]);
      domains = byCert;
      return page;
    },
    onPage: (items) => {
      mount(loadProblem);
      empty.hidden = items.length > 0;
      table.element.hidden = items.length === 0;
      table.setRows(items);
    },
    onError: (e) => mount(loadProblem, loadError(e)),
  });

  const upload = uploadForm(async (cert) => {
    mount(status, notice(`Uploaded the certificate for ${certName(cert)}; it expires ${formatDate(cert.not_after)}.`));
    await pages.reload();
  });
  mount(view,
    h('div', {class: 'heading'}, h('h1', {}, 'Certificates'),
      h('a', {class: 'button', href: '#upload', onclick: (e) => {
        e.preventDefault();
        upload.open = true;
        upload.querySelector('textarea').focus();
      }}, 'Upload a certificate')),
    status, loadProblem, empty, table.element, pages.element, upload);
  table.element.hidden = true;
  pages.reload();
}

// A textarea for PEM text with a file chooser that fills it.
function pemField({label, fileLabel, name, hint, rows = 8}) {
  const text = h('textarea', {rows, spellcheck: 'false', class: 'mono', required: true,
                              placeholder: '-----BEGIN …-----'});
  const chooserId = `${name}-file`;
  const chooser = h('input', {type: 'file', id: chooserId, accept: '.pem,.crt,.cer,.key,.txt'});
  chooser.addEventListener('change', async () => {
    const files = [...chooser.files];
    const parts = await Promise.all(files.map((f) => f.text()));
    text.value = parts.map((p) => p.trim()).join('\n') + '\n';
  });
  const box = field({label, name, control: text, hint});
  box.insertBefore(h('div', {class: 'file-pick'},
    h('label', {for: chooserId}, `…or choose a ${fileLabel} file`), chooser), box.querySelector('.field-error'));
  return box;
}

function uploadForm(onUploaded) {
  const description = h('input', {type: 'text', maxlength: 255});
  const metadata = h('textarea', {rows: 2, maxlength: 4096});
  const form = h('form', {'aria-labelledby': 'upload-title', novalidate: true},
    pemField({label: 'Certificate chain (PEM)', fileLabel: 'certificate chain', name: 'certificate_pem',
              hint: 'The leaf certificate first, then each intermediate; the root may be left out.'}),
    pemField({label: 'Private key (PEM)', fileLabel: 'private key', name: 'private_key_pem', rows: 5,
              hint: 'The unencrypted RSA, ECDSA or Ed25519 key of the leaf. certgate seals it; it is never shown again.'}),
    field({label: 'Description (optional)', name: 'description', control: description}),
    field({label: 'Metadata (optional)', name: 'metadata', control: metadata,
           hint: 'Free text for your own tools, up to 4096 bytes.'}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Upload')));
  onSubmit(form, async () => {
    const body = {
      certificate_pem: form.elements.certificate_pem.value,
      private_key_pem: form.elements.private_key_pem.value,
    };
    if (description.value) body.description = description.value;
    if (metadata.value) body.metadata = metadata.value;
    const cert = await post('/tls_certificates', body);
    form.reset();
    details.open = false;
    await onUploaded(cert);
  });
  const details = h('details', {class: 'card', id: 'upload'},
    h('summary', {id: 'upload-title'}, 'Upload a certificate'), form);
  return details;
}

export function certificateDetail(view, id) {
  mount(view, h('p', {class: 'muted'}, 'Loading…'));
  (async () => {
    let cert;
    let chain;
    let domains;
    try {
      [cert, chain, domains] = await Promise.all([
        get(`/tls_certificates/${id}`), get(`/tls_certificates/${id}/chain`), domainsByCertificate()]);
    } catch (e) {
      mount(view, h('p', {}, h('a', {href: '#/certificates'}, '← Certificates')), loadError(e));
      return;
    }
    const using = domains.get(cert.id) ?? [];
    const names = cert.subject_alternative_names ?? {};
    const status = h('div', {'aria-live': 'polite'});
    const subjectParts = [
      ['Organization', cert.subject_organization], ['Organizational unit', cert.subject_organizational_unit],
      ['Locality', cert.subject_locality], ['State or province', cert.subject_province],
      ['Country', cert.subject_country]].filter(([, v]) => v);
    mount(view,
      h('p', {}, h('a', {href: '#/certificates'}, '← Certificates')),
      h('div', {class: 'heading'}, h('h1', {}, certName(cert)),
        h('button', {type: 'button', class: 'danger', onclick: () => remove(cert, status)},
          'Delete certificate')),
      status,
      h('section', {class: 'card'}, h('h2', {}, 'Certificate'), detailList([
        ['ID', h('code', {}, cert.id)],
        ['Common name', cert.subject_common_name],
        ['DNS names', (names.dns_names ?? []).join(', ')],
        ['IP addresses', (names.ips ?? []).join(', ')],
        ...subjectParts,
        ['Issuer', cert.issuer_common_name],
        ['Valid from', formatTime(cert.not_before)],
        ['Valid until', [formatTime(cert.not_after), ' ', expiryBadge(cert)]],
        ['Source', cert.issued_at ? `Automatic, issued ${formatTime(cert.issued_at)}` : 'Uploaded'],
        ['Key type', keyType(cert.private_key_type)],
        ['Serial number', h('code', {class: 'wrap'}, cert.serial_number)],
        ['Key usages', (cert.key_usages ?? []).join(', ')],
        ['Extended key usages', (cert.extended_key_usages ?? []).join(', ')],
        ['Domains using it', using.length
          ? using.map((d, i) => [i ? ', ' : '', h('a', {href: `#/domains/${d.id}`}, d.domain)]) : 'none'],
        ['Created', formatTime(cert.created_at)],
        ['Description', cert.description],
        ['Metadata', cert.metadata ? h('code', {class: 'wrap'}, cert.metadata) : ''],
        ['API URI', h('code', {class: 'wrap'}, cert.uri)],
      ])),
      h('section', {class: 'card'}, h('h2', {}, 'Chain'),
        h('ol', {class: 'chain'}, (chain.certificates ?? []).map((c, i) => h('li', {},
          h('p', {class: 'chain-role'}, i === 0 ? 'Leaf' : 'Issuer of the one above'),
          detailList([
            ['Subject', h('code', {class: 'wrap'}, c.subject)],
            ['Issuer', h('code', {class: 'wrap'}, c.issuer)],
            ['Valid', `${formatTime(c.not_before)} to ${formatTime(c.not_after)}`],
            ['SHA-256 fingerprint', h('code', {class: 'wrap'}, c.sha256_fingerprint)],
          ])))),
        h('details', {}, h('summary', {}, 'Show the chain as PEM'),
          h('pre', {class: 'mono'}, cert.certificate_pem), copyButton(cert.certificate_pem, 'the chain PEM'))),
      editForm(cert, status));
  })();
}

function editForm(cert, status) {
  const description = h('input', {type: 'text', maxlength: 255, value: cert.description ?? ''});
  const metadata = h('textarea', {rows: 3, maxlength: 4096, value: cert.metadata ?? ''});
  const form = h('form', {class: 'card', 'aria-labelledby': 'edit-title', novalidate: true},
    h('h2', {id: 'edit-title'}, 'Description and metadata'),
    field({label: 'Description', name: 'description', control: description}),
    field({label: 'Metadata', name: 'metadata', control: metadata}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Save')));
  onSubmit(form, async () => {
    await patch(`/tls_certificates/${cert.id}`, {description: description.value, metadata: metadata.value});
    mount(status, notice('Saved.'));
  });
  return form;
}

async function remove(cert, status) {
  // Asked now, not when the page loaded: domains may have changed since.
  let using;
  try {
    using = (await domainsByCertificate()).get(cert.id) ?? [];
  } catch (e) {
    mount(status, loadError(e));
    return;
  }
  const body = using.length
    ? [`These domains use this certificate: ${using.map((d) => d.domain).join(', ')}.`,
       'certgate will not delete it until each of them uses another certificate or none.']
    : ['No domain uses this certificate. Its private key is destroyed with it.'];
  const ok = await confirmDialog({title: `Delete the certificate for ${certName(cert)}?`,
                                  body, confirmLabel: 'Delete'});
  if (!ok) return;
  try {
    await del(`/tls_certificates/${cert.id}`);
    navigate('#/certificates', `Deleted the certificate for ${certName(cert)}.`);
  } catch (e) {
    mount(status, loadError(e));
  }
}

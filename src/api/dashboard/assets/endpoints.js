// Endpoints: the list, the form to create one (with its traffic policy), and
// deletion.
import {del, get, post} from './api.js';
import {confirmDialog, field, focusMainIfLost, h, loadError, mount, notice, onSubmit} from './dom.js';
import {formatTime} from './format.js';
import {dataTable, pager} from './table.js';

const EXAMPLE_POLICY = `on_tcp_connect:
  - actions:
      - type: terminate-tls
        config:
          min_version: "1.2"
`;

export function endpointList(view) {
  const status = h('div', {'aria-live': 'polite'});
  const table = dataTable({
    label: 'Endpoints',
    columns: [
      {label: 'URL', sort: (e) => e.url, cell: (e) => h('code', {class: 'wrap'}, e.url)},
      {label: 'Upstream', sort: (e) => e.upstream_url,
       cell: (e) => h('code', {class: 'wrap'}, e.upstream_url)},
      {label: 'Traffic policy', cell: (e) => (e.traffic_policy
        ? h('details', {}, h('summary', {}, 'Show'), h('pre', {class: 'mono'}, e.traffic_policy))
        : h('span', {class: 'muted'}, 'none'))},
      {label: 'Description', sort: (e) => e.description ?? '', cell: (e) => e.description || '—'},
      {label: 'Created', sort: (e) => e.created_at, cell: (e) => formatTime(e.created_at)},
      {label: '', cell: (e) => h('button', {type: 'button', class: 'small danger',
        'aria-label': `Delete the endpoint ${e.url}`, onclick: () => remove(e)}, 'Delete')},
    ],
    placeholder: 'url, upstream url, description…',
    filterText: (e) => [e.url, e.upstream_url, e.description].join(' '),
  });
  const empty = h('section', {class: 'empty', hidden: true},
    h('h2', {}, 'No endpoints yet'),
    h('p', {}, 'An endpoint routes traffic for one of your ',
      h('a', {href: '#/domains'}, 'domains'),
      ' to an upstream server. Create one below.'));
  const pages = pager({
    collection: 'endpoints',
    fetchPage: get,
    onPage: (items) => {
      empty.hidden = items.length > 0;
      table.element.hidden = items.length === 0;
      table.setRows(items);
    },
    onError: (e) => mount(status, loadError(e)),
  });

  async function remove(endpoint) {
    const ok = await confirmDialog({title: `Delete the endpoint ${endpoint.url}?`,
      body: ['New connections to it stop being routed to its upstream.'], confirmLabel: 'Delete'});
    if (!ok) return;
    try {
      await del(`/endpoints/${endpoint.id}`);
      mount(status, notice(`Deleted the endpoint ${endpoint.url}.`));
      await pages.reload();
      focusMainIfLost();  // it was on the deleted row's button
    } catch (e) {
      mount(status, loadError(e));
    }
  }

  const url = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
                          placeholder: 'https://app.example.com'});
  const upstreamUrl = h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', required: true,
                               placeholder: 'http://127.0.0.1:8080'});
  const policy = h('textarea', {rows: 8, class: 'mono', spellcheck: 'false', placeholder: EXAMPLE_POLICY});
  const description = h('input', {type: 'text', maxlength: 255});
  const form = h('form', {'aria-labelledby': 'add-endpoint-title', novalidate: true},
    field({label: 'URL', name: 'url', control: url,
           hint: 'https://host to terminate TLS and proxy HTTP, or tls://host:port to pass TLS through. The host must be one of your domains.'}),
    field({label: 'Upstream', name: 'upstream_url', control: upstreamUrl,
           hint: 'Where traffic goes: http://, https:// or tcp:// with host and port.'}),
    field({label: 'Traffic policy (optional, YAML or JSON)', name: 'traffic_policy', control: policy,
           hint: 'certgate supports the terminate-tls action in on_tcp_connect.'}),
    field({label: 'Description (optional)', name: 'description', control: description}),
    h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Create endpoint')));
  onSubmit(form, async () => {
    const body = {url: url.value.trim(), upstream_url: upstreamUrl.value.trim()};
    if (policy.value.trim()) body.traffic_policy = policy.value;
    if (description.value) body.description = description.value;
    const created = await post('/endpoints', body);
    form.reset();
    mount(status, notice(`Created the endpoint ${created.url}.`));
    await pages.reload();
  });

  mount(view,
    h('div', {class: 'heading'}, h('h1', {}, 'Endpoints')),
    status, empty, table.element, pages.element,
    h('details', {class: 'card', id: 'add-endpoint'},
      h('summary', {id: 'add-endpoint-title'}, 'Create an endpoint'), form));
  table.element.hidden = true;
  pages.reload();
}

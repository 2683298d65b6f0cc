// A table of API resources with a filter box and sortable columns, and the
// pager that walks the API's pages (next_page_uri / before_id). At phone
// width app.css turns each row into a card labelled by data-label.
import {h, mount, uniqueId} from './dom.js';

// A selector for the same control in a rebuilt row: a link by its target,
// a button by its accessible name. null for anything else.
function focusKey(element) {
  if (element.matches('a[href]')) return `a[href="${CSS.escape(element.getAttribute('href'))}"]`;
  const name = element.getAttribute('aria-label');
  if (element.matches('button') && name) return `button[aria-label="${CSS.escape(name)}"]`;
  return null;
}

// columns: [{label, cell(row) -> node|string, sort?(row) -> string|number}]
// filterText(row): the text the filter box searches; placeholder hints at it.
// Returns {element, setRows(rows)}.
export function dataTable({label, columns, filterText, placeholder = '', initialSort = null}) {
  let rows = [];
  let sort = initialSort;  // {index, dir: 1 | -1}
  const filterId = uniqueId('filter');
  const filter = h('input', {type: 'search', id: filterId, autocomplete: 'off',
                             placeholder});
  const count = h('span', {class: 'count', 'aria-live': 'polite'});
  const headRow = h('tr');
  const body = h('tbody');
  const none = h('p', {class: 'no-match', hidden: true});
  const table = h('table', {class: 'data'},
    h('caption', {class: 'visually-hidden'}, label), h('thead', {}, headRow), body);

  function renderHead() {
    mount(headRow, columns.map((col, index) => {
      if (!col.sort) return h('th', {scope: 'col'}, col.label);
      const active = sort && sort.index === index;
      const ariaSort = active ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none';
      const arrow = active ? (sort.dir === 1 ? ' ▲' : ' ▼') : '';
      return h('th', {scope: 'col', 'aria-sort': ariaSort},
        h('button', {type: 'button', class: 'sort', onclick: () => {
          sort = {index, dir: active ? -sort.dir : 1};
          renderHead();
          renderBody();
          // The header was rebuilt: keep the keyboard on this column's button.
          headRow.children[index].querySelector('button').focus();
        }}, col.label, h('span', {'aria-hidden': 'true'}, arrow)));
    }));
  }

  function renderBody() {
    const q = filter.value.trim().toLowerCase();
    let shown = q ? rows.filter((r) => filterText(r).toLowerCase().includes(q)) : rows.slice();
    if (sort) {
      const key = columns[sort.index].sort;
      shown.sort((a, b) => {
        const x = key(a);
        const y = key(b);
        const c = typeof x === 'number' && typeof y === 'number'
          ? x - y : String(x).localeCompare(String(y));
        return c * sort.dir;
      });
    }
    // A refresh rebuilds the rows: a link or button of theirs that had the
    // keyboard focus gets it back in its new row.
    const focused = body.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    mount(body, shown.map((row) => h('tr', {},
      columns.map((col) => h('td', {'data-label': col.label}, col.cell(row))))));
    if (focused) body.querySelector(focused)?.focus();
    count.textContent = q ? `${shown.length} of ${rows.length} shown` : `${rows.length} on this page`;
    none.hidden = shown.length > 0;
    none.textContent = `Nothing on this page matches “${filter.value.trim()}”.`;
    table.hidden = shown.length === 0;
  }

  filter.addEventListener('input', renderBody);
  renderHead();
  const element = h('div', {class: 'table-wrap'},
    h('div', {class: 'table-tools'}, h('label', {for: filterId}, 'Filter'), filter, count),
    table, none);
  return {
    element,
    setRows(newRows) {
      rows = newRows;
      renderBody();
    },
  };
}

// Walks a list's pages, newest first. fetchPage(path) returns the API's list
// body; onPage(items) shows one page; onError(error) reports a failure.
// Returns {element, reload()}; reload() shows the current page again (or
// the one a click asked for, while it loads).
// The buttons wait while a page loads, and only the newest load is shown,
// so fast clicks cannot skip a page or show an older answer.
export function pager({collection, pageSize = 25, fetchPage, onPage, onError}) {
  // The before_id of each page reached, so "Previous" can go back.
  let stack = [null];
  let next = null;
  let loads = 0;
  let wanted = stack;  // the stack being loaded, or the current one
  const prev = h('button', {type: 'button', class: 'secondary'}, '← Previous page');
  const nextButton = h('button', {type: 'button', class: 'secondary'}, 'Next page →');
  const where = h('span', {class: 'page-no'});
  const element = h('nav', {class: 'pager', 'aria-label': 'Pages', hidden: true},
    prev, where, nextButton);

  function showButtons() {
    prev.disabled = stack.length === 1;
    nextButton.disabled = !next;
  }

  // Shows the page at the end of target (a stack like `stack`), which
  // becomes the current one once it has loaded.
  async function load(target) {
    const ticket = ++loads;
    wanted = target;
    prev.disabled = true;
    nextButton.disabled = true;
    const before = target[target.length - 1];
    const query = before ? `&before_id=${encodeURIComponent(before)}` : '';
    try {
      const data = await fetchPage(`/${collection}?limit=${pageSize}${query}`);
      if (ticket !== loads) return;  // a newer load replaced this one
      const items = data[collection] ?? [];
      if (!items.length && target.length > 1) {
        // This page emptied (its last item was deleted): show the one before.
        load(target.slice(0, -1));
        return;
      }
      stack = target;
      next = data.next_page_uri && items.length ? items[items.length - 1].id : null;
      showButtons();
      where.textContent = `Page ${stack.length}`;
      element.hidden = stack.length === 1 && !next;
      onPage(items);
    } catch (e) {
      if (ticket !== loads) return;
      wanted = stack;
      showButtons();
      onError(e);
    }
  }
  prev.addEventListener('click', () => {
    if (stack.length > 1) load(stack.slice(0, -1));
  });
  nextButton.addEventListener('click', () => {
    if (next) load([...stack, next]);
  });
  // A refresh while the user's page change loads goes on with that change.
  return {element, reload: () => load(wanted)};
}

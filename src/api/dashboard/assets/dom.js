// Building the page from data without ever parsing data as HTML: every text
// goes in through a text node, so a certificate's subject or a domain's
// description cannot inject markup.

// h('a', {href: '#/x', class: 'btn'}, 'text', childNode, [more, children])
// Attributes: `class`, `for`, data-*/aria-* and the rest as attributes;
// `on<event>` as listeners; booleans add or leave out the attribute.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'value' && 'value' in el) {
      el.value = value;
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

// Replaces the node's children.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

// A labelled form control with a slot for the error message that concerns
// it; the control is described by both its hint and its error.
export function field({label, name, control, hint}) {
  const id = uniqueId(`f-${name}`);
  control.id = id;
  control.name = name;
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  control.setAttribute('aria-describedby', [hintId, errorId].filter(Boolean).join(' '));
  return h('div', {class: 'field', 'data-field': name},
    h('label', {for: id}, label),
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    control,
    h('p', {class: 'field-error', id: errorId, role: 'alert', hidden: true}));
}

// A button that copies `text` to the clipboard and says so.
export function copyButton(text, what) {
  const button = h('button', {type: 'button', class: 'small', 'aria-label': `Copy ${what}`}, 'Copy');
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      // Clipboard access needs a secure context; select the text instead.
      button.textContent = 'Select and copy';
      const target = button.previousElementSibling;
      if (target) window.getSelection()?.selectAllChildren(target);
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  });
  return button;
}

// A modal confirmation. Resolves true when the user confirms.
export function confirmDialog({title, body, confirmLabel}) {
  return new Promise((resolve) => {
    const dialog = h('dialog', {class: 'confirm', 'aria-labelledby': 'confirm-title'},
      h('h2', {id: 'confirm-title'}, title),
      ...[body].flat().map((p) => (p instanceof Node ? p : h('p', {}, p))),
      h('form', {method: 'dialog', class: 'actions'},
        h('button', {value: 'cancel', class: 'secondary'}, 'Cancel'),
        h('button', {value: 'confirm', class: 'danger'}, confirmLabel)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

// Puts the keyboard focus at the start of the page's content when it is
// not there: after a navigation (it was on a link in the header), or when
// the element holding it went away (a re-rendered list, a deleted row).
export function focusMainIfLost() {
  const main = document.getElementById('main');
  if (!main.contains(document.activeElement)) main.focus();
}

// A status line for notices after an action ("Certificate deleted").
export function notice(text, kind = 'ok') {
  return h('p', {class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status'}, text);
}

// Shows an API error on a form: next to the field it concerns when the form
// has that field, otherwise in the form's error box.
export function showFormError(form, error) {
  clearFormErrors(form);
  const box = error.field && form.querySelector(`[data-field="${error.field}"]`);
  if (box) {
    const slot = box.querySelector('.field-error');
    const control = box.querySelector('input, textarea, select');
    slot.textContent = error.message;
    slot.hidden = false;
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.focus();
    }
    return;
  }
  let general = form.querySelector(':scope > .form-error');
  if (!general) {
    general = h('p', {class: 'form-error', role: 'alert'});
    const actions = form.querySelector(':scope > .actions');
    form.insertBefore(general, actions);
  }
  general.textContent = error.message;
  general.hidden = false;
}

export function clearFormErrors(form) {
  for (const slot of form.querySelectorAll('.field-error, :scope > .form-error')) {
    slot.hidden = true;
    slot.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

// Runs an async form action with the submit button disabled meanwhile.
export function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll('button[type=submit]');
    buttons.forEach((b) => { b.disabled = true; });
    clearFormErrors(form);
    try {
      await action();
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      showFormError(form, e);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

// A definition list of label/value pairs; values may be nodes.
export function detailList(pairs) {
  return h('dl', {class: 'details'}, pairs.filter(Boolean).map(([label, value]) => [
    h('dt', {}, label),
    h('dd', {}, value === undefined || value === null || value === '' ? '—' : value),
  ]));
}

// A message in place of a list or page that failed to load.
export function loadError(error) {
  return h('p', {class: 'notice error', role: 'alert'}, error.message);
}

// DOM helpers shared by the pages. Everything is built with createElement and textContent: no HTML strings, so
// nothing the API returns can become markup, and the page needs no 'unsafe-inline' in its Content-Security-Policy.

import { describeError } from './messages.js';

/** Creates an element. `props`: `class`, `text`, `on<Event>` handlers, booleans as present/absent attributes,
 *  anything else as an attribute. Children may be nodes, strings, arrays, or null/false (skipped). */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.className = value;
    else if (key === 'text') element.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

/** Appends nodes, strings and (nested) arrays of them, skipping null, undefined and false. */
export function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let nextId = 0;
/** A unique id for label/input pairs. */
export function uid(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/** A labelled input. `mode` is the account-center mode: 'ReadOnly' renders it disabled. */
export function field(labelText, inputProps = {}, { hint, mode = 'Edit' } = {}) {
  const id = inputProps.id ?? uid('field');
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h(inputProps.multiline ? 'textarea' : 'input', {
    ...inputProps,
    multiline: undefined,
    id,
    'aria-describedby': hintId,
    disabled: mode !== 'Edit' || inputProps.disabled,
  });
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id, text: labelText }),
    input,
    hint ? h('p', { class: 'hint', id: hintId, text: hint }) : null);
  return { wrapper, input };
}

/** A form whose submit runs `action` with the submit button busy, and shows any error inside the form. */
export function form({ label, onSubmit, submitLabel, mode = 'Edit', children }) {
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', text: submitLabel, disabled: mode !== 'Edit' });
  const element = h('form', { 'aria-label': label, novalidate: true }, children, error, h('div', { class: 'actions' }, submit));
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    error.hidden = true;
    busy(submit, () => onSubmit(element)).catch((cause) => showFormError(error, cause));
  });
  return element;
}

export function showFormError(element, cause) {
  if (cause instanceof Cancelled) return;
  element.textContent = describeError(cause);
  element.hidden = false;
  element.closest('form, section, dialog')?.querySelector('[aria-invalid="true"]')?.focus();
}

/** Runs `action` with `button` disabled and marked busy, so slow actions show progress and cannot run twice. */
export async function busy(button, action) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = 'Working…';
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = label;
  }
}

/** A button running `action` busy; an error is shown in the nearest section's error line. */
export function actionButton(text, action, props = {}) {
  const button = h('button', { type: 'button', ...props, text });
  button.addEventListener('click', () => {
    busy(button, action).catch((cause) => reportError(button, cause));
  });
  return button;
}

function reportError(near, cause) {
  if (cause instanceof Cancelled) return;
  const section = near.closest('section') ?? document.querySelector('main');
  let line = section.querySelector(':scope > .section-error');
  if (!line) {
    line = h('p', { class: 'section-error form-error', role: 'alert' });
    section.append(line);
  }
  line.textContent = describeError(cause);
  line.hidden = false;
}

/** Tells a screen reader and the eye that something worked. */
export function announce(message) {
  const status = document.getElementById('status');
  status.textContent = '';
  // A fresh text node after clearing makes screen readers read the same message twice in a row.
  requestAnimationFrame(() => { status.textContent = message; });
  status.hidden = false;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { status.hidden = true; }, 6000);
}

/** Thrown when the person closes a dialog: callers stop quietly. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

/** A modal dialog built from a form. `build(form, finish)` returns the fields (`finish(value)` ends the dialog); `submit(form)` resolves the dialog's value
 *  or throws to show an error and keep the dialog open. Escape or Cancel rejects with `Cancelled`. */
export function modal({ title, description, build, submit, submitLabel = 'Continue', danger = false }) {
  return new Promise((resolve, reject) => {
    const titleId = uid('dialog-title');
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const submitButton = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', text: submitLabel });
    const cancel = h('button', { type: 'button', text: 'Cancel' });
    const formElement = h('form', { method: 'dialog', novalidate: true });
    const dialogElement = h('dialog', { 'aria-labelledby': titleId }, formElement);
    let settled = false;
    const close = () => { dialogElement.close(); dialogElement.remove(); };
    // Lets a control inside the dialog (such as "use a code instead") end it with a value of its own.
    const finish = (value) => { settled = true; close(); resolve(value); };
    append(formElement, [
      h('h2', { id: titleId, text: title }),
      description ? h('p', { text: description }) : null,
      build(formElement, finish),
      error,
      h('div', { class: 'actions' }, cancel, submitButton)]);
    cancel.addEventListener('click', () => { settled = true; close(); reject(new Cancelled()); });
    dialogElement.addEventListener('cancel', () => { settled = true; dialogElement.remove(); reject(new Cancelled()); });
    formElement.addEventListener('submit', (event) => {
      event.preventDefault();
      error.hidden = true;
      busy(submitButton, () => submit(formElement))
        .then((value) => { settled = true; close(); resolve(value); })
        .catch((cause) => { if (!settled) showFormError(error, cause); });
    });
    document.body.append(dialogElement);
    dialogElement.showModal();
    formElement.querySelector('input, textarea, select')?.focus();
  });
}

/** Asks a yes/no question; resolves when confirmed, rejects with `Cancelled` otherwise. */
export function confirmAction(title, description, submitLabel, danger = true) {
  return modal({ title, description, build: () => [], submit: async () => true, submitLabel, danger });
}

/** Offers `text` as a file download. */
export function download(filename, text, type = 'text/plain') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function formatDate(milliseconds) {
  if (!milliseconds) return '—';
  return new Date(milliseconds).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A page section with a heading; `mode` 'ReadOnly' adds a note that the administrator locked it. */
export function section(title, { mode = 'Edit', description } = {}, ...children) {
  const headingId = uid('section');
  return h('section', { class: 'card', 'aria-labelledby': headingId },
    h('h2', { id: headingId, text: title }),
    description ? h('p', { class: 'description', text: description }) : null,
    mode === 'ReadOnly' ? h('p', { class: 'locked', text: 'Your administrator does not let you change this.' }) : null,
    children);
}

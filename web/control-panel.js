// Buttons for a consumer's or collector's control PV: configure (JSON arguments), reset
// statistics, get statistics, stop; each a write of {command, args} whose answer is shown with
// the statusMessage the server then holds. Disabled, saying why, when the dashboard is read-only.
import { cardHead } from './image-view.js';
import { appendSorted, el } from './dom.js';

export class ControlPanel {
  constructor(pv, parent, { writable, write, onClose }) {
    this.pv = pv;
    this.write = write;
    const id = `ctl-${Math.random().toString(36).slice(2, 8)}`;
    this.args = el('textarea', { id: `${id}-args`, rows: 3, spellcheck: 'false' }, '{}');
    this.status = el('output', { class: 'status-message', 'aria-live': 'polite' }, '(no status message yet)');
    this.answer = el('p', { class: 'answer', 'aria-live': 'polite' });
    this.identity = el('p', { class: 'info' });
    const button = (label, command, cls = '') => {
      const b = el('button', { type: 'button', class: cls, disabled: !writable }, label);
      b.onclick = () => this.send(command);
      return b;
    };
    this.writable = writable;
    this.buttons = [
      button('Configure', 'configure'),
      button('Reset stats', 'reset_stats'),
      button('Get stats', 'get_stats'),
      button('Stop', 'stop', 'danger'),
    ];
    this.note = el(
      'p',
      { class: 'note readonly', hidden: writable },
      'Read-only: the dashboard was started without --write, so commands cannot be sent.',
    );
    this.card = el(
      'article',
      { class: 'card control-card', 'data-pv': pv },
      cardHead(pv, 'control', onClose),
      this.identity,
      el('label', { for: this.args.id }, 'Configuration (JSON, sent with Configure)'),
      this.args,
      el('div', { class: 'buttons' }, ...this.buttons),
      this.note,
      el('p', { class: 'label' }, 'Server status message'),
      this.status,
      this.answer,
    );
    appendSorted(parent, this.card);
  }

  async send(command) {
    let value = { command };
    if (command === 'configure') {
      const text = this.args.value.trim() || '{}';
      try {
        JSON.parse(text);
      } catch (err) {
        this.showAnswer(false, `The configuration is not JSON: ${err.message}`);
        return;
      }
      value = { command, args: text };
    }
    this.buttons.forEach((b) => (b.disabled = true));
    this.answer.textContent = `Sending ${command}…`;
    const result = await this.write(this.pv, value);
    this.buttons.forEach((b) => (b.disabled = !this.writable));
    if (result.value) this.update(result.value); // the PV as the put left it: its statusMessage
    this.showAnswer(
      result.ok,
      result.ok ? `${command}: done${result.message ? ` (${result.message})` : ''}` : `${command} failed: ${result.message}`,
    );
  }

  showAnswer(ok, text) {
    this.answer.textContent = text;
    this.answer.classList.toggle('failed', !ok);
  }

  update(value, state) {
    // With --write, the access rules may still refuse this client: the server says so in `readonly`.
    if (this.writable && state?.readonly === true) {
      this.writable = false;
      this.buttons.forEach((b) => (b.disabled = true));
      this.note.textContent = 'Read-only: the access rules do not let this page write to this PV.';
      this.note.hidden = false;
    }
    if (typeof value?.statusMessage === 'string' && value.statusMessage) this.status.textContent = value.statusMessage;
    const id = value?.consumerId ?? value?.collectorId;
    const who = 'consumerId' in (value ?? {}) ? 'consumer' : 'collector';
    if (id !== undefined) this.identity.textContent = `${who} ${id}${value.command ? ` · last command: ${value.command}` : ''}`;
  }
}

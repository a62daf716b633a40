/**
 * One chip's table: availability (while offline, the QEMU options that
 * attach a guest, selectable and with a copy button), and per line its number, name, the
 * guest's direction and trigger, level, pending/queued, and for host-driven
 * lines ON, OFF, TOGGLE and pulse buttons and a pwm waveform's start and stop. Commands go to
 * `bridge/request/set`, so the bridge's answer (and a refusal's reason)
 * comes back to this page on `bridge/response/set` with its transaction.
 */
import { el, setText } from './dom.ts';
import type { ChipModel, LineModel } from './model.ts';

export type SendCommand = (chip: string, line: string, command: Record<string, unknown>) => Promise<{ ok: boolean; text: string }>;

interface Row {
  tr: HTMLTableRowElement;
  direction: HTMLElement;
  trigger: HTMLElement;
  level: HTMLElement;
  pending: HTMLElement;
  edges: HTMLElement;
  result: HTMLElement;
  controls: HTMLElement;
  controlsFor: string | undefined;
}

export class ChipPanel {
  readonly root: HTMLElement;
  readonly #chip: ChipModel;
  readonly #send: SendCommand;
  readonly #availability: HTMLElement;
  readonly #agent: HTMLElement;
  readonly #body: HTMLTableSectionElement;
  readonly #attach: HTMLElement;
  readonly #attachCommand: HTMLElement;
  readonly #rows = new Map<string, Row>();

  constructor(chip: ChipModel, send: SendCommand) {
    this.#chip = chip;
    this.#send = send;
    this.#availability = el('span', { class: 'badge' });
    this.#agent = el('span', { class: 'badge' });
    this.#body = el('tbody');
    this.#attachCommand = el('pre', { class: 'attach-command' });
    const copy = el('button', { type: 'button', 'data-action': 'copy' }, 'copy');
    copy.addEventListener('click', () => {
      const text = this.#attachCommand.textContent;
      // The Clipboard API needs a secure context (https or localhost): elsewhere the text stays selectable.
      navigator.clipboard.writeText(text).then(
        () => { setText(copy, 'copied'); },
        () => { setText(copy, 'select the text to copy'); },
      );
    });
    this.#attach = el('div', { class: 'attach', hidden: '' }, el('p', {}, 'No guest is attached. Start QEMU with these options (or run ', el('code', {}, `vgpio2mqtt qemu-args ${chip.name}`), '):'), this.#attachCommand, copy);
    const head = el('tr', {}, ...['#', 'name', 'guest direction', 'trigger', 'level', 'pending / queued', 'edges host/guest/received/agent', 'host drives', ''].map((h) => el('th', {}, h)));
    this.root = el(
      'section',
      { class: 'chip', 'data-chip': chip.name },
      el('h2', {}, `chip ${chip.name} `, this.#availability, ' agent ', this.#agent),
      this.#attach,
      el('table', { class: 'lines' }, el('thead', {}, head), this.#body),
    );
  }

  update(lines: LineModel[]): void {
    const availability = this.#chip.availability ?? 'unknown';
    setText(this.#availability, availability);
    this.#availability.className = `badge ${availability === 'online' ? 'on' : 'off'}`;
    const attach = this.#chip.attach;
    this.#attach.hidden = availability === 'online' || attach === undefined;
    setText(this.#attachCommand, attach?.command ?? '');
    setText(this.#agent, this.#chip.agent ?? 'none');
    this.#agent.className = `badge ${this.#chip.agent === 'online' ? 'on' : 'off'}`;
    lines.forEach((line, index) => {
      const row = this.#row(line);
      if (this.#body.children[index] !== row.tr) this.#body.insertBefore(row.tr, this.#body.children[index] ?? null);
      setText(row.direction, line.direction ?? '?');
      setText(row.trigger, line.trigger ?? '?');
      setText(row.level, line.state ?? '?');
      row.level.className = `level ${line.level === 1 ? 'high' : line.level === 0 ? 'low' : ''}`;
      setText(row.pending, `${line.pending === undefined ? '?' : line.pending ? 'pending' : '-'} / ${line.queued ?? '?'}`);
      const c = line.counts;
      setText(row.edges, `${c.host}/${c.guest}/${c.received}/${c.agent}`);
      if (row.controlsFor !== line.expected) this.#controls(row, line);
    });
  }

  #row(line: LineModel): Row {
    let row = this.#rows.get(line.name);
    if (row !== undefined) return row;
    const cell = (): HTMLElement => el('td');
    row = { tr: el('tr', { 'data-line': line.name }), direction: cell(), trigger: cell(), level: cell(), pending: cell(), edges: cell(), controls: cell(), result: el('td', { class: 'result' }), controlsFor: undefined };
    row.tr.append(el('td', {}, String(line.number)), el('td', { class: 'name' }, line.name), row.direction, row.trigger, row.level, row.pending, row.edges, row.controls, row.result);
    this.#rows.set(line.name, row);
    return row;
  }

  #controls(row: Row, line: LineModel): void {
    row.controlsFor = line.expected;
    row.controls.replaceChildren();
    if (line.expected !== 'input') {
      row.controls.append('(guest drives)');
      return;
    }
    const send = (command: Record<string, unknown>): void => {
      setText(row.result, '…');
      row.result.className = 'result';
      this.#send(this.#chip.name, line.name, command).then(
        ({ ok, text }) => {
          setText(row.result, text);
          row.result.className = `result ${ok ? 'ok' : 'refused'}`;
        },
        (error: unknown) => {
          setText(row.result, (error as Error).message);
          row.result.className = 'result refused';
        },
      );
    };
    const button = (label: string, command: () => Record<string, unknown>): HTMLButtonElement => {
      const b = el('button', { type: 'button', 'data-action': label }, label);
      b.addEventListener('click', () => {
        send(command());
      });
      return b;
    };
    const duration = el('input', { type: 'number', min: '1', value: '200', class: 'pulse-ms', title: 'pulse length in ms' });
    // A pwm waveform, the payload `vgpio2mqtt set --pwm` sends; the bridge checks the numbers (and refuses with the reason shown here).
    const period = el('input', { type: 'number', min: '1', value: '20', class: 'pwm-period', title: 'pwm period in ms' });
    const duty = el('input', { type: 'number', min: '1', max: '99', value: '50', class: 'pwm-duty', title: 'pwm duty cycle in %' });
    row.controls.append(
      button('ON', () => ({ state: 'ON' })),
      button('OFF', () => ({ state: 'OFF' })),
      button('TOGGLE', () => ({ state: 'TOGGLE' })),
      button('pulse', () => ({ state: 'ON', pulse_ms: Number(duration.value) })),
      duration,
      ' ms ',
      el('span', { class: 'pwm' },
        button('pwm', () => ({ pwm: { period_ms: Number(period.value), duty: Number(duty.value) } })),
        period,
        ' ms ',
        duty,
        ' % ',
        // Any command stops a waveform; OFF leaves the line OFF.
        button('stop', () => ({ state: 'OFF' })),
      ),
    );
  }
}

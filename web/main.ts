/**
 * The web view: reads /config.json, connects to MQTT over WebSocket
 * (asking for a login when the broker wants one), subscribes to the base
 * topic and keeps a PageModel; the DOM and the waveforms are refreshed once
 * per animation frame, never per message, so a burst of edges costs one
 * redraw.
 */
import type { MqttClient } from 'mqtt';
import { brokerUrl, connect, type Login } from './connection.ts';
import { el, setText } from './dom.ts';
import { PageModel, type ChipModel } from './model.ts';
import { ChipPanel } from './panel.ts';
import { DEFAULT_CAPACITY } from './trace-buffer.ts';
import { chipVcd } from './vcd-export.ts';
import { Waveform, type Window } from './waveform.ts';

interface PageConfig {
  base_topic: string;
  version: string;
  mqtt: string | null;
}

/** What the tests and the bench read from the page (window.vgpio). */
export interface PageProbe {
  model: PageModel;
  waveforms: Map<string, Waveform>;
  /** With ?stats: host wall-clock time each edge (chip/line/seq) was first drawn. */
  rendered: Map<string, number>;
  frames: number;
}

declare global {
  var vgpio: PageProbe | undefined;
}

const params = new URLSearchParams(location.search);
/** ?buffer=N: events kept per line (a power of two); the bench lowers it to reach the bound quickly. */
const capacity = Number(params.get('buffer') ?? DEFAULT_CAPACITY);
const statsOn = params.has('stats');

const status = document.getElementById('status') ?? el('div');
const chipsRoot = document.getElementById('chips') ?? el('div');
const eventsRoot = document.getElementById('events') ?? el('ul');
const loginForm = document.getElementById('login') as HTMLFormElement | null;

function showStatus(text: string, ok: boolean): void {
  setText(status, text);
  status.className = ok ? 'ok' : 'warn';
}

async function main(): Promise<void> {
  const config = (await (await fetch('config.json')).json()) as PageConfig;
  setText(document.getElementById('version') ?? el('span'), config.version);
  const model = new PageModel({ base: config.base_topic, capacity });
  const panels = new Map<string, { panel: ChipPanel; waveform: Waveform }>();
  const pendingEdges: string[] = [];
  const probe: PageProbe = { model, waveforms: new Map(), rendered: new Map(), frames: 0 };
  globalThis.vgpio = probe;
  if (statsOn) model.edgeSeen = (chip, line, seq) => pendingEdges.push(`${chip}/${line}/${seq}`);

  let client: MqttClient | undefined;
  let sequence = 0;
  const token = Math.random().toString(36).slice(2, 10);
  const request = (command: string, body: Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (client?.connected !== true) {
        reject(new Error('not connected'));
        return;
      }
      sequence += 1;
      const transaction = `web-${token}-${sequence}`;
      const timer = setTimeout(() => {
        model.forget(transaction);
        reject(new Error('no answer from the bridge within 5 s'));
      }, 5000);
      model.expect(transaction, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      client.publish(model.topics.request(command), JSON.stringify({ ...body, transaction }));
    });

  const send = async (chip: string, line: string, command: Record<string, unknown>): Promise<{ ok: boolean; text: string }> => {
    const response = await request('set', { chip, line, ...command });
    if (response.status !== 'ok') return { ok: false, text: `refused: ${String(response.error)}` };
    const data = response.data as { result?: string; state?: string };
    return { ok: true, text: `${data.result ?? 'ok'} (${data.state ?? '?'})` };
  };

  const download = (chip: ChipModel, window: Window | undefined): void => {
    const text = chipVcd(chip.name, model.linesOf(chip), window, Date.now());
    const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })), download: `${chip.name}-${window === undefined ? 'all' : 'window'}.vcd` });
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); }, 10_000);
  };

  let dirty = true;
  model.changed = () => {
    dirty = true;
  };

  /*
   * The trace is redrawn at most 30 times a second and the table 10 times:
   * in a browser without a GPU every redraw of a 32-lane canvas is rastered
   * in software, and at 60 frames a second that starved the message
   * handling under 1,600 edges/s (bench/web.ts).
   */
  const TRACE_MS = 1000 / 30;
  const TABLE_MS = 100;
  let lastTrace = 0;
  let lastTable = 0;
  const frame = (time: number): void => {
    requestAnimationFrame(frame);
    if (time - lastTrace < TRACE_MS - 2) return;
    lastTrace = time;
    const now = Date.now();
    if (dirty && time - lastTable >= TABLE_MS - 2) {
      dirty = false;
      lastTable = time;
      for (const chip of model.chips.values()) {
        let view = panels.get(chip.name);
        if (view === undefined) {
          const waveform = new Waveform(chip, () => model.linesOf(chip), download);
          view = { panel: new ChipPanel(chip, send), waveform };
          panels.set(chip.name, view);
          probe.waveforms.set(chip.name, waveform);
          chipsRoot.append(view.panel.root, waveform.root);
        }
        view.panel.update(model.linesOf(chip));
      }
      eventsRoot.replaceChildren(...model.events.slice(-10).reverse().map((e) => el('li', {}, `${new Date(e.timeMs).toLocaleTimeString()} ${e.text}`)));
    }
    for (const { waveform } of panels.values()) waveform.render(now);
    probe.frames += 1;
    if (pendingEdges.length > 0) {
      const drawn = Date.now();
      for (const key of pendingEdges) if (!probe.rendered.has(key)) probe.rendered.set(key, drawn);
      pendingEdges.length = 0;
    }
  };
  requestAnimationFrame(frame);

  if (config.mqtt === null) {
    showStatus('no live view: the bridge uses an external broker and web.mqtt_url is not set (see docs/web.md)', false);
    return;
  }
  /**
   * Once subscribed: the bridge's recent edges of every chip, so the
   * waveform starts with the last seconds rather than at page load (the
   * model leaves out those that also arrived live meanwhile).
   */
  const loadHistory = (): void => {
    model.collectLive();
    request('chips', {})
      .then((response) => {
        const chips = Array.isArray(response.data) ? (response.data as { name?: unknown }[]) : [];
        for (const { name } of chips) {
          if (typeof name !== 'string' || model.chip(name).historyLoaded) continue;
          // No history (a bridge without the trace request, or no answer): stop remembering live edges for it.
          const none = { chip: name, edges: [] };
          request('trace', { chip: name }).then(
            (answer) => {
              model.loadTrace(answer.status === 'ok' ? answer.data : none);
            },
            () => {
              model.loadTrace(none);
            },
          );
        }
      })
      .catch(() => undefined);
  };
  const url = brokerUrl(config.mqtt, location);
  let refresh: ReturnType<typeof setInterval> | undefined;
  const start = (login: Login | undefined): void => {
    client = connect(url, login, {
      status: showStatus,
      loginNeeded: (message) => {
        showStatus(message, false);
        if (loginForm !== null) loginForm.hidden = false;
      },
      connected: (c) => {
        if (loginForm !== null) loginForm.hidden = true;
        c.subscribe(model.filter, { qos: 0 }, (error, granted) => {
          // A SUBACK failure (128) means the login may not read these topics.
          if (error !== null || granted?.some((g) => g.qos === 128) === true) {
            showStatus(`not allowed to subscribe to ${model.filter}`, false);
            return;
          }
          loadHistory();
        });
        // pending/queued are on no topic: ask for them now and every 2 s.
        const ask = (): void => {
          request('chips', {}).catch(() => undefined);
        };
        ask();
        clearInterval(refresh);
        refresh = setInterval(ask, 2000);
      },
      message: (topic, payload) => {
        model.handle(topic, payload);
      },
    });
  };
  loginForm?.addEventListener('submit', (event) => {
    event.preventDefault();
    const field = (name: string): string => (loginForm.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '';
    client?.end(true);
    start({ username: field('username'), password: field('password') });
  });
  start(undefined);
}

main().catch((error: unknown) => {
  showStatus(`the page could not start: ${(error as Error).message}`, false);
});

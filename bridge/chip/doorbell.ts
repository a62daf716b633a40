/**
 * The chip's doorbell, both ways: one from the guest wakes a scan, and the
 * bridge sends one to the guest's interrupt vector when an input change
 * raised its interrupt. Sent doorbells coalesce per turn of the event loop
 * (see send()). ("ring" in this bridge is the guest's event ring,
 * ring-events.ts; only the addon's endpoint calls a doorbell a ring.)
 */
import { protocol } from '../../native/index.ts';
import type { Logger } from '../log.ts';
import type { ChipMetrics } from '../metrics/events.ts';
import type { Transport } from './transport.ts';

export interface DoorbellContext {
  metrics: ChipMetrics;
  log: Logger;
  /** Logs and emits a problem. */
  problem: (message: string) => void;
  /** Whether the guest may be sent a doorbell now (online, chip open). */
  canSend: () => boolean;
  /** The guest's peer id, read from shared memory. */
  guestPeer: () => number;
  /** Whether shared memory can still be read (see RegionGuard.usable). */
  usable: () => boolean;
}

export class Doorbell {
  readonly #endpoint: Transport['endpoint'];
  readonly #context: DoorbellContext;
  /** A doorbell was sent in this turn of the event loop; further sends set #again. */
  #sentThisTurn = false;
  #again = false;

  constructor(endpoint: Transport['endpoint'], context: DoorbellContext) {
    this.#endpoint = endpoint;
    this.#context = context;
  }

  /**
   * Calls `received` for every doorbell from the guest, after emitting
   * `doorbell-received`; peers joining, leaving and a lost server
   * connection call `changed`.
   */
  listen(received: () => void, changed: () => void): void {
    const endpoint = this.#endpoint;
    if (endpoint === null) return;
    const { metrics, log, problem } = this.#context;
    endpoint.on('ring', () => {
      metrics.emit('doorbell-received', process.hrtime.bigint());
      received();
    });
    endpoint.on('join', (peer) => {
      log.info(`ivshmem peer ${peer.id} joined with ${peer.vectors} vector(s)`);
      changed();
    });
    endpoint.on('leave', (id) => {
      log.info(`ivshmem peer ${id} left`);
      changed();
    });
    endpoint.on('error', (error) => {
      problem(`ivshmem: ${error.message}`);
      // A lost server connection leaves no peers: the guest is offline.
      changed();
    });
  }

  /**
   * Sends the guest a doorbell at once for the first interrupt raised in a
   * turn of the event loop, and once more at the end of that turn for all
   * the others (a socket read of many commands, a scan moving queues on):
   * the guest's handler reads every pending line of a bank at once, so one
   * doorbell serves them all, and an eventfd write is a system call. A lone
   * command's doorbell is sent as soon as it is written, before its state
   * and edge are published.
   */
  send(): void {
    if (this.#sentThisTurn) {
      this.#again = true;
      return;
    }
    this.#sendNow();
    this.#sentThisTurn = true;
    setImmediate(() => {
      this.#sentThisTurn = false;
      if (!this.#again) return;
      this.#again = false;
      // Later than the command that asked for it: the guest peer is read from a mapping that must still be the file's.
      if (this.#context.usable()) this.#sendNow();
    });
  }

  #sendNow(): void {
    const endpoint = this.#endpoint;
    if (endpoint === null || !this.#context.canSend()) return;
    const guest = this.#context.guestPeer();
    try {
      endpoint.ring(guest, protocol.VECTOR_GUEST);
      this.#context.metrics.emit('doorbell-sent');
    } catch (error) {
      // The guest left between the availability check and the doorbell: it rescans when it comes back.
      this.#context.log.debug(`cannot send guest peer ${guest} a doorbell: ${(error as Error).message}`);
    }
  }
}

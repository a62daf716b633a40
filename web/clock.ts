/**
 * Places guest timestamps (`guest_ns`, the guest's CLOCK_MONOTONIC) on the
 * host wall clock the waveform uses. Bridge edges that carry both `ts_ms`
 * and `guest_ns` give the offset; the smallest `ts_ms - guest_ns` seen is
 * the one with the least delivery delay, so it is kept. Until one is seen,
 * a guest-only event is placed at the time it arrived.
 */
export class GuestClock {
  #offsetMs: number | undefined;

  /** Learns from an event stamped on both clocks. */
  observe(tsMs: number, guestNs: number): void {
    const offset = tsMs - guestNs / 1e6;
    if (this.#offsetMs === undefined || offset < this.#offsetMs) this.#offsetMs = offset;
  }

  /** Host wall-clock ms for a guest timestamp, or `fallbackMs` while no offset is known. */
  toHost(guestNs: number, fallbackMs: number): number {
    return this.#offsetMs === undefined ? fallbackMs : this.#offsetMs + guestNs / 1e6;
  }

  get known(): boolean {
    return this.#offsetMs !== undefined;
  }
}

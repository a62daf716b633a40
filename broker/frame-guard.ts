/**
 * Limits for one network client of the embedded broker, enforced without
 * standing between the socket and Aedes (an earlier Transform + Duplex.from
 * in the stream's path halved the broker's message rate):
 *
 * - maximum packet size: Aedes has no such option, and its parser buffers
 *   a whole packet before looking at it (one 128 MiB PUBLISH took the
 *   process from 92 to 340 MB). The MQTT fixed header announces a packet's
 *   length before its body, so `watchPacketSizes` follows packet boundaries
 *   in the bytes Aedes reads (a 'data' listener beside Aedes' 'readable'
 *   one sees each chunk as Aedes reads it) and closes the connection at the
 *   first packet announced larger than the limit, before its body is read:
 *   memory stays bounded by one read.
 * - publish rate: a token bucket of PUBLISH packets per second, checked in
 *   Aedes' authorizePublish hook. A client over its rate is not dropped but
 *   slowed down: its PUBLISH is authorised only when it has tokens again,
 *   and Aedes reads nothing more from a client until every packet of its
 *   last read is handled, so TCP back-pressure holds it while the other
 *   clients keep being served.
 */
import type { Duplex } from 'node:stream';

export interface ClientLimits {
  /** Largest packet accepted, in bytes (fixed header included). */
  maxPacketBytes: number;
  /** PUBLISH packets per second a client may send on average; null: no limit. */
  publishRate: number | null;
}

/** The remaining-length field is 1..4 bytes of 7 bits each. */
const MAX_LENGTH_BYTES = 4;

/** Tokens refill at `rate` per second up to `rate` (one second's burst). */
export class TokenBucket {
  readonly #rate: number;
  #tokens: number;
  #at = performance.now();

  constructor(rate: number) {
    this.#rate = rate;
    this.#tokens = rate;
  }

  /** Takes one token; returns how many ms to wait until the debt is paid (0: none). */
  take(): number {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#rate;
  }
}

/** Follows MQTT packet boundaries through a byte stream, looking only at fixed headers. */
class PacketSizes {
  readonly #max: number;
  /** Body bytes of the current packet still to come. */
  #body = 0;
  /** Bytes of the current fixed header seen: 0 (none), 1 (type byte), then length bytes. */
  #header = 0;
  #length = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Returns why the stream must be closed, or undefined while every packet is within the limit. */
  feed(chunk: Buffer): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#body > 0) {
        // Skip the body without looking at it: this is what keeps the cost near nothing.
        const n = Math.min(this.#body, chunk.length - i);
        this.#body -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (this.#header === 0) {
        this.#length = 0;
        this.#header = 1;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** (this.#header - 1);
      this.#header += 1;
      if ((byte & 0x80) !== 0) {
        if (this.#header > MAX_LENGTH_BYTES) return 'malformed packet length';
        continue;
      }
      const size = this.#header + this.#length;
      if (size > this.#max) return `packet of ${size} bytes is larger than the limit of ${this.#max} (broker.max_packet_bytes)`;
      this.#body = this.#length;
      this.#header = 0;
    }
    return undefined;
  }
}

/**
 * Watches the packets Aedes reads from `stream` (call it after
 * `aedes.handle(stream)`, so Aedes' 'readable' listener keeps control of
 * the reads and this 'data' listener only sees them); a packet over
 * `maxPacketBytes` destroys the stream and calls `refused` with the reason.
 */
export function watchPacketSizes(stream: Duplex, maxPacketBytes: number, refused: (reason: string) => void): void {
  const sizes = new PacketSizes(maxPacketBytes);
  const onData = (chunk: Buffer): void => {
    const reason = sizes.feed(chunk);
    if (reason === undefined) return;
    stream.off('data', onData);
    refused(reason);
    stream.destroy();
  };
  stream.on('data', onData);
}

/**
 * Bounds what `stream` holds unsent for a client that does not read: past
 * the high-water mark write() returns false, and Aedes then waits for
 * 'drain' but keeps routing (each delivery writes its packet first), so
 * a subscriber that stops reading grows the process by everything
 * published to it. At each write() that returns false, `pending()` (the
 * bytes the stream and what lies under it hold) is compared with
 * `maxBytes`; past it, `over` is told once and the stream destroyed, which
 * frees its buffers with it (Aedes drops the client on 'close').
 * Wraps write() (after oneWritePerTurn/oneFramePerTick): a check only when
 * the stream is already behind costs the common case nothing.
 */
export function boundOutput(stream: Duplex, maxBytes: number, pending: () => number, over: (bytes: number) => void): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]): boolean => {
    const ok = write(...args);
    if (ok || stream.destroyed) return ok;
    const bytes = pending();
    if (bytes > maxBytes) {
      over(bytes);
      stream.destroy();
    }
    return false;
  }) as Duplex['write'];
}

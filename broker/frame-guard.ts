/**
 * Limits for one network client of the embedded broker, enforced on its
 * byte stream before Aedes parses it (Aedes has no such options, and its
 * parser buffers a whole packet before looking at it: one 128 MiB PUBLISH
 * took the process from 92 to 340 MB):
 *
 * - maximum packet size: the MQTT fixed header announces a packet's length
 *   before its body; a packet announced larger than the limit closes the
 *   connection before its body is read, so memory stays bounded;
 * - publish rate: a token bucket of PUBLISH packets per second. A client
 *   over its rate is not dropped but slowed down: its bytes are passed on
 *   only when it has tokens again, so TCP back-pressure holds it while the
 *   other clients keep being served.
 *
 * The bytes pass through unchanged; only packet boundaries are tracked.
 */
import { Duplex, Transform, type TransformCallback } from 'node:stream';

export interface ClientLimits {
  /** Largest packet accepted, in bytes (fixed header included). */
  maxPacketBytes: number;
  /** PUBLISH packets per second a client may send on average; null: no limit. */
  publishRate: number | null;
}

const PUBLISH = 3;
/** The remaining-length field is 1..4 bytes of 7 bits each. */
const MAX_LENGTH_BYTES = 4;

export class LimitError extends Error {
  override readonly name = 'LimitError';
}

/** Tokens refill at `rate` per second up to `rate` (one second's burst). */
class TokenBucket {
  readonly #rate: number;
  #tokens: number;
  #at = performance.now();

  constructor(rate: number) {
    this.#rate = rate;
    this.#tokens = rate;
  }

  /** Takes `n` tokens; returns how many ms to wait until the debt is paid (0: none). */
  take(n: number): number {
    const now = performance.now();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#at) * this.#rate) / 1000);
    this.#at = now;
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.#rate;
  }
}

class FrameGuard extends Transform {
  readonly #limits: ClientLimits;
  readonly #bucket: TokenBucket | undefined;
  /** Body bytes of the current packet still to pass. */
  #body = 0;
  /** Bytes of the current fixed header seen: 0 (none), 1 (type byte), then length bytes. */
  #header = 0;
  #type = 0;
  #length = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(limits: ClientLimits) {
    super();
    this.#limits = limits;
    this.#bucket = limits.publishRate === null ? undefined : new TokenBucket(limits.publishRate);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let publishes = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#body > 0) {
        const n = Math.min(this.#body, chunk.length - i);
        this.#body -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (this.#header === 0) {
        this.#type = byte >> 4;
        this.#length = 0;
        this.#header = 1;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** (this.#header - 1);
      this.#header += 1;
      if ((byte & 0x80) !== 0) {
        if (this.#header > MAX_LENGTH_BYTES) {
          done(new LimitError('malformed packet length'));
          return;
        }
        continue;
      }
      const size = this.#header + this.#length;
      if (size > this.#limits.maxPacketBytes) {
        done(new LimitError(`packet of ${size} bytes is larger than the limit of ${this.#limits.maxPacketBytes} (broker.max_packet_bytes)`));
        return;
      }
      if (this.#type === PUBLISH) publishes += 1;
      this.#body = this.#length;
      this.#header = 0;
    }
    this.push(chunk);
    const wait = this.#bucket?.take(publishes) ?? 0;
    if (wait <= 0) {
      done();
      return;
    }
    this.#timer = setTimeout(done, wait);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.#timer);
    callback(error);
  }
}

/**
 * The stream to hand to Aedes instead of `socket`: reads go through the
 * guard, writes go straight to the socket. A broken limit destroys the
 * socket and calls `refused` with the reason.
 */
export function guardClient(socket: Duplex, limits: ClientLimits, refused: (reason: string) => void): Duplex {
  const guard = new FrameGuard(limits);
  guard.on('error', (error) => {
    refused(error.message);
    socket.destroy();
  });
  socket.on('close', () => guard.destroy());
  socket.pipe(guard);
  return Duplex.from({ readable: guard, writable: socket });
}

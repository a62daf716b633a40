/**
 * Two connected in-memory Duplex streams: what one writes, the other
 * reads. (Node 22 has stream.duplexPair; Node 20, our floor, does not.)
 */
import { Duplex } from 'node:stream';

class Half extends Duplex {
  other: Half | undefined;

  override _read(): void {
    // Data is pushed by the other half's _write.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const other = this.other;
    if (other === undefined || other.destroyed) {
      callback(new Error('the other end of the stream pair is closed'));
      return;
    }
    other.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.other?.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const other = this.other;
    this.other = undefined;
    if (other !== undefined && !other.destroyed) other.destroy();
    callback(error);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new Half();
  const b = new Half();
  a.other = b;
  b.other = a;
  return [a, b];
}

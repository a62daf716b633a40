/**
 * The words of a region only the host writes, guarded against a guest that
 * writes them anyway: the header words (host_gen and the host's peer id
 * included), the label
 * and names table as the host wrote them at open, and every bank's `in`
 * word as the host last wrote it. restore() puts back whatever a guest
 * changed and says what it was; the caller counts every restore and
 * reports an episode once.
 */
import { protocol } from '../../native/index.ts';
import type { VgpioRegion } from '../shm/region.ts';

export class HostWords {
  readonly #region: VgpioRegion;
  readonly #header: [offset: number, value: number][];
  readonly #label: Buffer;
  readonly #names: Buffer;
  /** Each bank's `in` word as the host last wrote it. */
  readonly #inputs: Uint32Array;

  /** Takes what the region holds now as the host's own values (call right after opening it). */
  constructor(region: VgpioRegion, hostPeer: number) {
    const { mem, layout } = region;
    this.#region = region;
    this.#header = [
      [protocol.HDR_MAGIC, protocol.SHM_MAGIC],
      [protocol.HDR_VERSION, protocol.SHM_VERSION],
      [protocol.HDR_NGPIO, layout.ngpio],
      [protocol.HDR_FEATURES, region.features],
      // Bumped by the host at open only (region.ts): a guest that changed it would make a new host instance out of nothing.
      [protocol.HDR_HOST_GEN, region.hostGen],
      [protocol.HDR_HOST_PEER, hostPeer],
      [protocol.HDR_NAMES_OFF, layout.namesOff],
      [protocol.HDR_RING_OFF, layout.ringOff],
      [protocol.HDR_RING_LEN, layout.ringLen],
      [protocol.HDR_BANK_OFF, layout.bankOff],
    ];
    this.#label = mem.read(protocol.HDR_LABEL, protocol.LABEL_LEN);
    this.#names = mem.read(layout.namesOff, layout.ngpio * protocol.NAME_LEN);
    this.#inputs = new Uint32Array(Math.ceil(layout.ngpio / protocol.BANK_LINES));
    this.#inputs.forEach((_, bank) => (this.#inputs[bank] = mem.load32(this.#inputOff(bank))));
  }

  #inputOff(bank: number): number {
    return this.#region.layout.bankOff + bank * protocol.BANK_STRIDE + protocol.BANK_IN;
  }

  /** Records a change the host itself wrote to `in` (call after every host write). */
  wroteInput(line: number, level: 0 | 1): void {
    const bank = Math.floor(line / protocol.BANK_LINES);
    const mask = (1 << (line % protocol.BANK_LINES)) >>> 0;
    const word = this.#inputs[bank] ?? 0;
    this.#inputs[bank] = level === 1 ? word | mask : word & ~mask;
  }

  /**
   * Restores every host-owned word a guest changed; returns what was
   * restored, empty when all was intact. `identity` also compares the label
   * and the names table (ngpio x 32 bytes: for the poll timer, not for
   * every doorbell).
   */
  restore(identity: boolean): string[] {
    const mem = this.#region.mem;
    const restored: string[] = [];
    for (const [offset, value] of this.#header) {
      const found = mem.load32(offset);
      if (found === value) continue;
      restored.push(`header 0x${offset.toString(16)}=0x${found.toString(16)}`);
      mem.store32(offset, value);
    }
    this.#inputs.forEach((value, bank) => {
      const off = this.#inputOff(bank);
      const found = mem.load32(off);
      if (found === value) return;
      restored.push(`in of bank ${bank}=0x${found.toString(16)}`);
      mem.store32(off, value);
    });
    if (identity) {
      for (const [what, offset, bytes] of [
        ['label', protocol.HDR_LABEL, this.#label],
        ['names', this.#region.layout.namesOff, this.#names],
      ] as const) {
        if (mem.read(offset, bytes.length).equals(bytes)) continue;
        restored.push(what);
        mem.write(offset, bytes);
      }
    }
    return restored;
  }
}

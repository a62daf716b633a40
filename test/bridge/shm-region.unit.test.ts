/**
 * The host's protocol layer (bridge/shm) on a real shared-memory file:
 * region set-up and re-attachment, per-line registers, the no-lost-edge
 * input queue and the event-ring reader. The test plays the guest by
 * writing the guest-owned words, with offsets from the addon's constants.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { protocol, SharedMemory } from '../../native/index.ts';
import { RegionError, VgpioRegion, type RegionConfig } from '../../bridge/shm/region.ts';
import { LineRegisters } from '../../bridge/shm/line-registers.ts';
import { InputDriver } from '../../bridge/shm/input-driver.ts';
import { EventRingReader } from '../../bridge/shm/event-ring.ts';

const config: RegionConfig = {
  ngpio: 40,
  label: 'test-chip',
  names: ['button', undefined, 'led'],
  doorbell: true,
  hostPeer: 0,
};

describe('bridge/shm', () => {
  let dir: string;
  let mem: SharedMemory;

  before(() => {
    dir = mkdtempSync('/dev/shm/vgpio-shm-test-');
    mem = SharedMemory.open(join(dir, 'region'), { size: VgpioRegion.requiredSize(1024), create: true });
  });
  after(() => {
    mem.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    mem.write(0, Buffer.alloc(mem.size));
  });

  describe('region', () => {
    it('sizes regions as powers of two that hold the default layout', () => {
      assert.equal(VgpioRegion.requiredSize(32), protocol.SHM_SIZE_MIN * 2);
      assert.equal(VgpioRegion.requiredSize(1024), 65536);
      assert.equal(VgpioRegion.requiredSize(1), protocol.SHM_SIZE_MIN * 2);
    });

    it('writes a header, label and names a guest can check', () => {
      const region = VgpioRegion.initialise(mem, config);
      assert.equal(mem.load32(protocol.HDR_MAGIC), protocol.SHM_MAGIC);
      assert.equal(mem.load32(protocol.HDR_VERSION), protocol.SHM_VERSION);
      assert.equal(mem.load32(protocol.HDR_NGPIO), 40);
      assert.equal(region.features & protocol.FEAT_DOORBELL, protocol.FEAT_DOORBELL);
      assert.equal(region.hostGen, 1);
      assert.equal(region.guestPeer, protocol.PEER_NONE);
      assert.equal(region.guestBound, false);
      assert.equal(mem.read(protocol.HDR_LABEL, protocol.LABEL_LEN).toString('utf8').replace(/\0+$/, ''), 'test-chip');
      const name = (line: number): string =>
        mem.read(region.layout.namesOff + line * protocol.NAME_LEN, protocol.NAME_LEN).toString('utf8').replace(/\0+$/, '');
      assert.deepEqual([name(0), name(1), name(2), name(3)], ['button', '', 'led', '']);
    });

    it('re-attaches keeping line levels, and re-initialises with a new host generation', () => {
      const first = VgpioRegion.initialise(mem, config);
      new LineRegisters(mem, first.layout.bankOff, 40).setInput(33, 1);
      const { region, reattached } = VgpioRegion.open(mem, { ...config, label: 'renamed' });
      assert.equal(reattached, true);
      assert.equal(new LineRegisters(mem, region.layout.bankOff, 40).input(33), 1);
      assert.equal(region.hostGen, 1);
      assert.equal(mem.read(protocol.HDR_LABEL, 7).toString(), 'renamed');

      const other = VgpioRegion.open(mem, { ...config, ngpio: 64 });
      assert.equal(other.reattached, false);
      assert.equal(other.region.hostGen, 2);
      assert.equal(new LineRegisters(mem, other.region.layout.bankOff, 64).input(33), 0);
    });

    it('refuses regions it cannot trust, with the reason', () => {
      assert.throws(() => VgpioRegion.attach(mem, config), /no vgpio header/);
      VgpioRegion.initialise(mem, config);
      mem.store32(protocol.HDR_BANK_OFF, mem.size - 4);
      assert.throws(() => VgpioRegion.attach(mem, config), /outside the region/);
      mem.store32(protocol.HDR_BANK_OFF, 2);
      assert.throws(() => VgpioRegion.attach(mem, config), /misaligned|outside/);
      mem.store32(protocol.HDR_NGPIO, 5000);
      assert.throws(() => VgpioRegion.attach(mem, config), /line count/);
      // A region an older bridge left (version 1 had irq_pend) and one of a future version.
      for (const version of [protocol.SHM_VERSION - 1, protocol.SHM_VERSION + 1]) {
        VgpioRegion.initialise(mem, config);
        mem.store32(protocol.HDR_VERSION, version);
        assert.throws(() => VgpioRegion.attach(mem, config), new RegExp(`protocol version ${version}, expected ${protocol.SHM_VERSION}`));
        assert.equal(VgpioRegion.open(mem, config).reattached, false, 'open() lays the region out afresh');
        assert.equal(mem.load32(protocol.HDR_VERSION), protocol.SHM_VERSION);
      }
    });

    it('rejects a label or name that does not fit before writing anything', () => {
      VgpioRegion.initialise(mem, config);
      const before = mem.read(0, 4096);
      assert.throws(() => VgpioRegion.initialise(mem, { ...config, label: 'x'.repeat(32) }), RegionError);
      assert.throws(() => VgpioRegion.initialise(mem, { ...config, names: ['ü'.repeat(16)] }), /name of line 0/);
      assert.throws(() => VgpioRegion.initialise(mem, { ...config, ngpio: 0 }), /ngpio must be an integer in \[1, 1024\], got 0/);
      assert.deepEqual(mem.read(0, 4096), before);
    });
  });

  describe('line registers', () => {
    it('changes one bit of a word and leaves the other lines alone', () => {
      const region = VgpioRegion.initialise(mem, config);
      const lines = new LineRegisters(mem, region.layout.bankOff, 40);
      const inWord = (bank: number): number => mem.load32(region.layout.bankOff + bank * protocol.BANK_STRIDE + protocol.BANK_IN);
      assert.equal(lines.setInput(31, 1), 0);
      assert.equal(lines.setInput(0, 1), 0);
      assert.equal(lines.setInput(32, 1), 0);
      assert.equal(inWord(0), 0x80000001);
      assert.equal(inWord(1), 1);
      assert.equal(lines.setInput(31, 0), 1);
      assert.equal(inWord(0), 1);
      assert.throws(() => lines.setInput(40, 1), RangeError);
      assert.throws(() => lines.input(-1), RangeError);
      assert.throws(() => lines.input(1.5), RangeError);
    });

    it('reads the guest-owned words into a line state', () => {
      const region = VgpioRegion.initialise(mem, config);
      const bank1 = region.layout.bankOff + protocol.BANK_STRIDE;
      mem.store32(bank1 + protocol.BANK_DIR, 1 << 2);
      mem.store32(bank1 + protocol.BANK_OUT, 1 << 2);
      mem.store32(bank1 + protocol.BANK_IRQ_EN, 1 << 3);
      mem.store32(bank1 + protocol.BANK_IRQ_FALL, 1 << 3);
      const lines = new LineRegisters(mem, region.layout.bankOff, 40);
      const led = lines.state(34);
      assert.equal(led.isOutput, true);
      assert.equal(led.level, 1);
      const button = lines.state(35);
      assert.deepEqual(button.irq, { enabled: true, rising: false, falling: true, high: false, low: false });
      assert.equal(lines.snapshot().length, 40);
      assert.equal(lines.snapshot()[34]?.level, 1);
    });
  });

  describe('input driver', () => {
    let region: VgpioRegion;
    let lines: LineRegisters;
    let rings: number;
    let driver: InputDriver;
    const bankWord = (line: number, field: number): number =>
      region.layout.bankOff + Math.floor(line / protocol.BANK_LINES) * protocol.BANK_STRIDE + field;
    const guestEnable = (line: number, ...fields: number[]): void => {
      for (const field of [protocol.BANK_IRQ_EN, ...fields]) mem.fetchOr32(bankWord(line, field), 1 << line % 32);
    };
    /** The guest's acknowledgement: it flips its own irq_ack bit of the line to match irq_raise. */
    const guestAck = (line: number): void => {
      const word = bankWord(line, protocol.BANK_IRQ_ACK);
      mem.store32(word, (mem.load32(word) ^ (1 << line % 32)) >>> 0);
    };

    beforeEach(() => {
      region = VgpioRegion.initialise(mem, config);
      lines = new LineRegisters(mem, region.layout.bankOff, 40);
      rings = 0;
      driver = new InputDriver(lines, { queueLimit: 2, doorbell: () => (rings += 1) });
    });

    it('writes levels without interrupts when the guest asked for none', () => {
      assert.equal(driver.set(5, 1), 'applied');
      assert.equal(driver.set(5, 1), 'unchanged');
      assert.equal(lines.input(5), 1);
      assert.equal(rings, 0);
      assert.equal(lines.pending(5), false);
    });

    it('raises by flipping only the host\'s irq_raise bit, never a bit the guest writes', () => {
      const raiseWord = bankWord(33, protocol.BANK_IRQ_RAISE);
      const ackWord = bankWord(33, protocol.BANK_IRQ_ACK);
      mem.store32(ackWord, 0x0000_0f00); // the guest's word, as a guest might have left it
      mem.store32(raiseWord, 0x0000_0f00);
      assert.equal(lines.raisePending(33), false);
      assert.equal(mem.load32(raiseWord), 0x0000_0f02);
      assert.equal(lines.pending(33), true);
      assert.equal(lines.bank(1).irqPend, 0x2);
      assert.equal(lines.raisePending(33), true, 'still pending: raising again changes nothing');
      assert.equal(mem.load32(raiseWord), 0x0000_0f02);
      guestAck(33);
      assert.equal(lines.pending(33), false);
      assert.equal(lines.raisePending(33), false);
      assert.equal(mem.load32(raiseWord), 0x0000_0f00, 'the next raise flips the bit back');
      assert.equal(lines.pending(33), true);
      assert.equal(mem.load32(ackWord), 0x0000_0f02, 'the host never wrote irq_ack');
    });

    it('raises an interrupt and rings only for the edges the guest enabled', () => {
      guestEnable(36, protocol.BANK_IRQ_RISE);
      assert.equal(driver.set(36, 1), 'interrupt');
      assert.equal(lines.pending(36), true);
      assert.equal(rings, 1);
      guestAck(36);
      assert.equal(driver.set(36, 0), 'applied');
      assert.equal(rings, 1);
    });

    it('queues changes behind a pending interrupt and applies them as the guest acknowledges', () => {
      guestEnable(7, protocol.BANK_IRQ_RISE, protocol.BANK_IRQ_FALL);
      assert.equal(driver.set(7, 1), 'interrupt');
      assert.equal(driver.set(7, 0), 'queued');
      assert.equal(driver.set(7, 1), 'queued');
      assert.equal(driver.set(7, 0), 'overflow');
      assert.equal(lines.input(7), 1, 'a queued change must not reach `in` early');
      assert.equal(lines.state(7).ackRequested, true);
      assert.equal(driver.queued(7), 2);

      driver.acknowledged(); // a ring without an ack changes nothing
      assert.equal(lines.input(7), 1);

      guestAck(7);
      driver.acknowledged();
      assert.equal(lines.input(7), 0);
      assert.equal(lines.pending(7), true);
      assert.equal(rings, 2);
      assert.equal(lines.state(7).ackRequested, true, 'one change still waits');

      guestAck(7);
      driver.acknowledged();
      assert.equal(lines.input(7), 1);
      assert.equal(rings, 3);
      assert.equal(driver.queued(7), 0);
      assert.equal(lines.state(7).ackRequested, false);
    });

    it('applies a queued change at once when the guest acked before the request was seen', () => {
      guestEnable(9, protocol.BANK_IRQ_RISE, protocol.BANK_IRQ_FALL);
      driver.set(9, 1);
      guestAck(9);
      // The queue is empty and pend is clear: no queueing at all.
      assert.equal(driver.set(9, 0), 'interrupt');
      assert.equal(lines.input(9), 0);
    });

    it('forgets queued changes when told the guest went away', () => {
      guestEnable(3, protocol.BANK_IRQ_RISE, protocol.BANK_IRQ_FALL);
      driver.set(3, 1);
      driver.set(3, 0);
      driver.clear();
      assert.equal(driver.queued(3), 0);
      assert.equal(lines.state(3).ackRequested, false);
    });

    it('refuses a queue limit that is not a positive integer', () => {
      assert.throws(() => new InputDriver(lines, { queueLimit: 0, doorbell: () => undefined }), /queueLimit/);
    });
  });

  describe('event ring reader', () => {
    let region: VgpioRegion;
    let reader: EventRingReader;
    let head: number;
    const ringWord = (field: number): number => region.layout.ringOff + field;
    const guestAppend = (line: number, kind: number, value: number): void => {
      const entry = Buffer.alloc(protocol.EVENT_SIZE);
      entry.writeBigUInt64LE(123456789n + BigInt(head), protocol.EVENT_GUEST_NS);
      entry.writeUInt16LE(line, protocol.EVENT_LINE);
      entry.writeUInt8(kind, protocol.EVENT_KIND);
      entry.writeUInt8(value, protocol.EVENT_VALUE);
      entry.writeUInt32LE(head, protocol.EVENT_SEQ);
      const slot = head % region.layout.ringLen;
      mem.write(region.layout.ringOff + protocol.RING_HEADER_SIZE + slot * protocol.EVENT_SIZE, entry);
      head = (head + 1) >>> 0;
      mem.store32(ringWord(protocol.RING_HEAD), head);
    };

    beforeEach(() => {
      region = VgpioRegion.initialise(mem, { ...config, ringLen: 16 });
      reader = new EventRingReader(mem, region.layout.ringOff, region.layout.ringLen, 40);
      head = 0;
    });

    it('returns the entries the guest appended, in order, and moves the tail', () => {
      guestAppend(2, protocol.EV_DIRECTION, 1);
      guestAppend(2, protocol.EV_OUTPUT, 1);
      assert.equal(reader.backlog, 2);
      const { events, dropped, corrupt, invalid } = reader.drain();
      assert.deepEqual(
        events.map((e) => [e.line, e.kind, e.value, e.seq]),
        [
          [2, protocol.EV_DIRECTION, 1, 0],
          [2, protocol.EV_OUTPUT, 1, 1],
        ],
      );
      assert.equal(events[1]?.guestNs, 123456790n);
      assert.deepEqual([dropped, corrupt, invalid], [0, false, 0]);
      assert.equal(mem.load32(ringWord(protocol.RING_TAIL)), 2);
      assert.equal(reader.drain().events.length, 0);
    });

    it('wraps around the ring', () => {
      for (let i = 0; i < 40; i++) {
        guestAppend(i % 40, protocol.EV_OUTPUT, i & 1);
        if (i % 10 === 9) assert.equal(reader.drain().events.length, 10);
      }
      assert.equal(mem.load32(ringWord(protocol.RING_TAIL)), 40);
    });

    it('skips entries with a line or kind it does not know, and counts them', () => {
      guestAppend(40, protocol.EV_OUTPUT, 1);
      guestAppend(1, 99, 1);
      guestAppend(1, protocol.EV_OUTPUT, 1);
      const result = reader.drain();
      assert.equal(result.invalid, 2);
      assert.deepEqual(result.events.map((e) => e.line), [1]);
    });

    it('reports a head that runs past the ring as corrupt and resynchronises to it', () => {
      mem.store32(ringWord(protocol.RING_HEAD), 1000);
      const result = reader.drain();
      assert.equal(result.corrupt, true);
      assert.equal(result.events.length, 0);
      assert.equal(mem.load32(ringWord(protocol.RING_TAIL)), 1000);
    });

    it('reports entries the guest dropped since the last drain', () => {
      mem.store32(ringWord(protocol.RING_DROPPED), 3);
      assert.equal(reader.drain().dropped, 3);
      assert.equal(reader.drain().dropped, 0);
    });
  });
});

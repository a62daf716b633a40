/**
 * The addon's protocol exports: every constant of kernel/vgpio_shm.h (no
 * more, no less than the TypeScript name list) and the header's own layout
 * functions, with bad arguments rejected before they reach the C code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { protocol, defaultLayout, checkLayout, doorbellValue, type ShmLayout } from '../../native/index.ts';
import { PROTOCOL_NAMES } from '../../native/protocol.ts';

const header = readFileSync(resolve(import.meta.dirname, '../../kernel/vgpio_shm.h'), 'utf8');

describe('protocol constants', () => {
  it('exports every valued object-like VGPIO_ macro of the header, and the TS list names each', () => {
    const defined = [...header.matchAll(/^#define\s+VGPIO_(\w+)(?!\w|\()[ \t]+\S/gm)]
      .map((m) => m[1] ?? '')
      .filter((name) => name !== 'STATIC_ASSERT');
    assert.ok(defined.length > 50, 'the header parse found the constants');
    assert.deepEqual(Object.keys(protocol).sort(), [...defined].sort());
    assert.deepEqual([...PROTOCOL_NAMES].sort(), [...defined].sort());
  });

  it('holds the values the compiler computed, immutably', () => {
    assert.equal(protocol.SHM_MAGIC, Buffer.from('VPIO').readUInt32LE(0));
    assert.equal(protocol.PEER_NONE, 2 ** 32 - 1);
    assert.equal(protocol.FEAT_KNOWN, protocol.FEAT_DOORBELL | protocol.FEAT_NAMES | protocol.FEAT_EVENT_RING);
    assert.ok(Object.isFrozen(protocol));
    assert.throws(() => {
      (protocol as Record<string, number>).SHM_MAGIC = 0;
    }, TypeError);
  });
});

describe('doorbellValue', () => {
  it('puts the peer in the high and the vector in the low 16 bits', () => {
    assert.equal(doorbellValue(0, 0), 0);
    assert.equal(doorbellValue(3, 1), 3 * 0x10000 + 1);
    assert.equal(doorbellValue(0xffff, 0xffff), 2 ** 32 - 1);
    assert.throws(() => doorbellValue(0x10000, 0), RangeError);
    assert.throws(() => doorbellValue(1, -1), RangeError);
  });
});

describe('defaultLayout and checkLayout', () => {
  it('lays out header, names, banks and ring in order, aligned, and checks OK when it fits', () => {
    const ngpio = 40;
    const ringLen = protocol.RING_LEN_DEFAULT;
    const l = defaultLayout(ngpio, ringLen);
    const banks = Math.ceil(ngpio / protocol.BANK_LINES);
    assert.equal(l.ngpio, ngpio);
    assert.equal(l.ringLen, ringLen);
    assert.equal(l.namesOff, protocol.HDR_SIZE);
    assert.equal(l.bankOff % protocol.LAYOUT_ALIGN, 0);
    assert.ok(l.bankOff >= l.namesOff + ngpio * protocol.NAME_LEN);
    assert.equal(l.ringOff % protocol.LAYOUT_ALIGN, 0);
    assert.ok(l.ringOff >= l.bankOff + banks * protocol.BANK_STRIDE);
    assert.equal(l.end, l.ringOff + protocol.RING_HEADER_SIZE + ringLen * protocol.EVENT_SIZE);
    assert.equal(checkLayout(l, 8192, true, true), protocol.LAYOUT_OK);
    assert.equal(checkLayout(l, l.end, true, true), protocol.LAYOUT_OK);
    assert.equal(checkLayout(l, l.end - 1, true, true), protocol.LAYOUT_OUT_OF_BOUNDS);
  });

  it('reports each reason a layout is unusable', () => {
    const good = defaultLayout(8, 16);
    const size = 4096;
    const check = (change: Partial<ShmLayout>, names = true, ring = true): number =>
      checkLayout({ ...good, ...change }, size, names, ring);
    assert.equal(check({}), protocol.LAYOUT_OK);
    assert.equal(check({ ngpio: 0 }), protocol.LAYOUT_BAD_NGPIO);
    assert.equal(check({ ngpio: protocol.NGPIO_MAX + 1 }), protocol.LAYOUT_BAD_NGPIO);
    assert.equal(check({ ringLen: 24 }), protocol.LAYOUT_BAD_RING_LEN);
    assert.equal(check({ ringLen: 24 }, true, false), protocol.LAYOUT_OK, 'ring fields ignored without a ring');
    assert.equal(check({ bankOff: good.bankOff + 2 }), protocol.LAYOUT_MISALIGNED);
    assert.equal(check({ ringOff: size }), protocol.LAYOUT_OUT_OF_BOUNDS);
    assert.equal(check({ bankOff: 0 }), protocol.LAYOUT_OUT_OF_BOUNDS, 'tables may not overlay the header');
    assert.equal(check({ bankOff: good.namesOff }), protocol.LAYOUT_OVERLAP);
    assert.equal(check({ bankOff: good.namesOff }, false, true), protocol.LAYOUT_OK, 'names ignored without names');
  });

  it('rejects bad arguments with clear errors instead of computing garbage', () => {
    assert.throws(() => defaultLayout(0, 16), { name: 'RangeError', message: /ngpio must be an integer in \[1, 1024\]/ });
    assert.throws(() => defaultLayout(1.5, 16), RangeError);
    assert.throws(() => defaultLayout(8, protocol.RING_LEN_MAX + 1), /ringLen/);
    assert.throws(() => defaultLayout('8' as unknown as number, 16), TypeError);
    const good = defaultLayout(8, 16);
    assert.throws(() => checkLayout({ ...good, bankOff: -64 }, 4096, true, true), /layout.bankOff must be a 32-bit/);
    assert.throws(() => checkLayout({ ...good, end: Number.NaN }, 4096, true, true), RangeError);
    assert.throws(() => checkLayout(null as unknown as ShmLayout, 4096, true, true), TypeError);
    assert.throws(() => checkLayout(good, -1, true, true), /size/);
  });
});

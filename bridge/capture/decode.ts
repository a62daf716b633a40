/**
 * `vgpio2mqtt capture --decode`: sigrok's protocol decoders (Debian's
 * sigrok-cli, the library PulseView uses) run over the VCD a capture wrote,
 * so the edges are read as the bytes they carry (docs/capture.md). The
 * decoders are sigrok's; this file only checks the spec against the
 * captured lines before recording, and picks the sample rate sigrok reads
 * the 1 ns file at.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { KnownLine } from '../cli/known-chips.ts';
import { uniqueNames } from './vcd.ts';

export class DecodeArgsError extends Error {
  override readonly name = 'DecodeArgsError';
}

export interface DecodeSpec {
  protocol: 'uart' | 'i2c';
  /** Decoder channel (rx, scl, sda) -> the VCD signal name of its line. */
  channels: Record<string, string>;
  /** uart only: bits per second. */
  baud?: number;
  /** As given, for messages. */
  text: string;
}

const CHANNELS = { uart: ['rx'], i2c: ['scl', 'sda'] } as const;
const MAX_BAUD = 1_000_000;

/**
 * `uart:rx=LINE,baud=N` or `i2c:scl=LINE,sda=LINE`; LINE is a name or number of
 * one of the captured `lines` (in capture order), so a decode on a line
 * the capture does not record is refused before recording.
 */
export function parseDecode(text: string, lines: readonly KnownLine[]): DecodeSpec {
  const usage = 'write --decode uart:rx=LINE,baud=N or --decode i2c:scl=LINE,sda=LINE';
  const [protocol = '', rest = ''] = text.split(':', 2);
  if (protocol !== 'uart' && protocol !== 'i2c') throw new DecodeArgsError(`--decode ${JSON.stringify(text)}: unknown protocol ${JSON.stringify(protocol)}; ${usage}`);
  const names = uniqueNames(lines.map((l) => ({ name: l.name })));
  const spec: DecodeSpec = { protocol, channels: {}, text };
  for (const pair of rest.split(',').filter((p) => p !== '')) {
    const [key = '', value = ''] = pair.split('=', 2);
    if (protocol === 'uart' && key === 'baud') {
      const baud = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!(baud >= 1 && baud <= MAX_BAUD)) throw new DecodeArgsError(`--decode ${text}: baud ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_BAUD}`);
      spec.baud = baud;
    } else if ((CHANNELS[protocol] as readonly string[]).includes(key)) {
      const index = lines.findIndex((l) => l.name === value) >= 0 ? lines.findIndex((l) => l.name === value) : lines.findIndex((l) => /^\d+$/.test(value) && l.line === Number(value));
      const name = names[index];
      if (name === undefined) throw new DecodeArgsError(`--decode ${text}: line ${JSON.stringify(value)} is not in the capture; captured lines: ${lines.map((l) => l.name).join(', ')} (add it to --lines)`);
      spec.channels[key] = name;
    } else throw new DecodeArgsError(`--decode ${text}: ${JSON.stringify(key)} is not an option of ${protocol}; ${usage}`);
  }
  const missing = CHANNELS[protocol].filter((c) => spec.channels[c] === undefined);
  if (missing.length > 0) throw new DecodeArgsError(`--decode ${text}: ${protocol} needs ${missing.map((m) => `${m}=LINE`).join(' and ')}; ${usage}`);
  if (protocol === 'uart' && spec.baud === undefined) throw new DecodeArgsError(`--decode ${text}: uart needs baud=N; ${usage}`);
  return spec;
}

/**
 * sigrok-cli's arguments for `file`. The 1 ns timescale would be a 1 GHz
 * sample rate (billions of samples a second): UART is read at about 100
 * samples a bit with idle time longer than 30 bits compressed (a frame
 * is at most 12 bits, so no frame is cut); I2C is clocked by SCL, so 1 µs
 * samples with idle time over 1 ms compressed keep every edge in order.
 */
export function sigrokArgs(spec: DecodeSpec, file: string): string[] {
  if (spec.protocol === 'uart') {
    const downsample = Math.max(1, Math.floor(1e9 / (spec.baud ?? 1) / 100));
    return ['-I', `vcd:downsample=${downsample}:compress=3000`, '-i', file, '-P', `uart:rx=${spec.channels.rx ?? ''}:baudrate=${spec.baud ?? 0}`, '-A', 'uart=rx-data'];
  }
  return ['-I', 'vcd:downsample=1000:compress=1000', '-i', file, '-P', `i2c:scl=${spec.channels.scl ?? ''}:sda=${spec.channels.sda ?? ''}`, '-A', 'i2c=address-read:address-write:data-read:data-write'];
}

export interface Decoded {
  /** sigrok's annotation rows without the decoder name, e.g. `48` or `Address write: 50`. */
  rows: string[];
  /** The bytes: uart's data, i2c's address and data bytes, in order. */
  bytes: number[];
}

/** Runs sigrok-cli over the capture's VCD file. */
export async function decodeFile(spec: DecodeSpec, file: string): Promise<Decoded> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('sigrok-cli', sigrokArgs(spec, file), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const e = error as Error & { code?: unknown; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('--decode needs sigrok-cli with its protocol decoders (Debian: apt install sigrok-cli); the capture was written');
    throw new Error(`sigrok-cli could not decode ${file}: ${(e.stderr ?? e.message).trim()}`);
  }
  const rows = stdout.split('\n').filter((r) => r.includes(': ')).map((r) => r.slice(r.indexOf(': ') + 2).trim());
  const bytes = rows.flatMap((r) => {
    const hex = /(?:^|: )([0-9A-Fa-f]{2})$/.exec(r);
    return hex === null ? [] : [Number.parseInt(hex[1] ?? '', 16)];
  });
  return { rows, bytes };
}

/** What capture prints: `decode uart rx=tx at 300 baud: 48 69 21 "Hi!"`. */
export function decodedText(spec: DecodeSpec, decoded: Decoded): string {
  const hex = decoded.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const channels = Object.entries(spec.channels).map(([k, v]) => `${k}=${v}`).join(' ');
  if (spec.protocol === 'uart') {
    const ascii = decoded.bytes.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    return `decode uart ${channels} at ${spec.baud ?? 0} baud: ${decoded.bytes.length} byte(s): ${hex} ${JSON.stringify(ascii)}`;
  }
  return `decode i2c ${channels}: ${decoded.rows.length === 0 ? 'nothing' : decoded.rows.join(', ')}`;
}

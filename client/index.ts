/**
 * A typed client for tests of a guest's software against a running
 * vgpio2mqtt bridge: `import { connect } from 'vgpio2mqtt/client'`.
 * See docs/testing.md.
 */
export { connect, Vgpio, type ConnectOptions } from './vgpio.ts';
export { Chip } from './chip.ts';
export { Line, DEFAULT_TIMEOUT_MS, type Level, type LevelLike, type EdgeMatch } from './line.ts';
export { EdgeStream, type Edge, type EdgeKind, type EdgeSource, type EdgesOptions } from './edges.ts';
export { measureEdges, type Measurement } from './measure.ts';
export { VgpioError, type VgpioErrorCode } from './errors.ts';
export type { ChipInfo, LineInfo, SetAnswer } from './link.ts';

/**
 * The native layer's public interface: the only module the rest of
 * vgpio2mqtt imports from native/.
 */
export { protocol, type ProtocolConstants, type ProtocolName } from './protocol.ts';
export { defaultLayout, checkLayout, type ShmLayout } from './layout.ts';
export { SharedMemory, type SharedMemoryOptions } from './shared-memory.ts';

/**
 * The native layer's public interface: the only module the rest of
 * vgpio2mqtt imports from native/.
 */
export { protocol, doorbellValue, type ProtocolConstants, type ProtocolName } from './protocol.ts';
export { defaultLayout, checkLayout, type ShmLayout } from './layout.ts';
export { SharedMemory, type SharedMemoryOptions } from './shared-memory.ts';
export type { DoorbellEndpoint, DoorbellEvents, PeerInfo } from './doorbell-endpoint.ts';
export { IvshmemServer, type IvshmemServerOptions } from './ivshmem-server.ts';
export { IvshmemClient, type IvshmemClientOptions } from './ivshmem-client.ts';
export { listenUnix } from './unix-listen.ts';
export { preparePrivatePath } from './private-path.ts';

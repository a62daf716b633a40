// Entry point of the vgpio2mqtt addon. The addon is deliberately thin (in
// the style of serialport's bindings-cpp): it wraps the system calls
// JavaScript cannot make (mmap and atomics, eventfd, SCM_RIGHTS fd passing
// on unix sockets) and watches fds with libuv's uv_poll_t. The ivshmem
// protocol itself (peer ids, message order, joins and leaves) lives in
// TypeScript (native/ivshmem-*.ts), where it is easier to read and test.
#include <napi.h>

#include "fd_watcher.h"
#include "protocol.h"
#include "shared_memory.h"
#include "syscalls.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vgpio::InitProtocol(env, exports);
  vgpio::SharedMemory::Init(env, exports);
  vgpio::FdWatcher::Init(env, exports);
  vgpio::InitSyscalls(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vgpio_native, Init)

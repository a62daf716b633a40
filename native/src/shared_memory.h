#ifndef VGPIO_NATIVE_SHARED_MEMORY_H
#define VGPIO_NATIVE_SHARED_MEMORY_H

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace vgpio {

// A MAP_SHARED mapping of a shared-memory file or received fd. It owns the fd (kept open so a server can pass it to
// peers) and the mapping; close() or garbage collection releases both. The
// 32-bit atomics run in JavaScript over words() (native/shared-memory.ts).
// The mapping is registered with the fault guard (fault_guard.h): an access
// past the end of a truncated file is counted in faults() instead of
// killing the process.
class SharedMemory : public Napi::ObjectWrap<SharedMemory> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit SharedMemory(const Napi::CallbackInfo& info);
  ~SharedMemory() override;

 private:
  static Napi::Value OpenFile(const Napi::CallbackInfo& info);
  static Napi::Value MapFd(const Napi::CallbackInfo& info);

  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Words(const Napi::CallbackInfo& info);
  Napi::Value FileSize(const Napi::CallbackInfo& info);
  Napi::Value FaultCounter(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  void Release();
  void CheckOpen(Napi::Env env) const;
  size_t CheckedRange(const Napi::CallbackInfo& info, size_t length);  // checked offset argument 0

  int fd_ = -1;
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  int guard_ = -1;  // fault_guard slot, -1 when unguarded
  Napi::Reference<Napi::ArrayBuffer> words_;  // the one ArrayBuffer over base_, once asked for
  Napi::Reference<Napi::ArrayBuffer> fault_counter_;  // the one ArrayBuffer over the guard's count, once asked for
};

}  // namespace vgpio

#endif

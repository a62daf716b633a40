#ifndef VGPIO_NATIVE_FD_WATCHER_H
#define VGPIO_NATIVE_FD_WATCHER_H

#include <napi.h>
#include <uv.h>

namespace vgpio {

// Watches one fd for readability (or hang-up) with a uv_poll_t on the Node
// event loop and calls a JavaScript callback (status, events) each time.
// No threads and no busy loops: libuv's epoll wakes us. The watcher does not
// own the fd; close() must be called before the owner closes the fd.
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit FdWatcher(const Napi::CallbackInfo& info);

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Stop();

  uv_poll_t* handle_ = nullptr;  // freed in the uv_close callback
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

}  // namespace vgpio

#endif

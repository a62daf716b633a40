#include "fd_watcher.h"

#include "util.h"

namespace vgpio {

void FdWatcher::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "FdWatcher", {InstanceMethod<&FdWatcher::Close>("close")});
  exports.Set("FdWatcher", cls);
}

// new FdWatcher(fd, callback): starts watching at once.
FdWatcher::FdWatcher(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<FdWatcher>(info), context_(info.Env(), "vgpio:FdWatcher") {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "callback must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no libuv loop");
  handle_ = new uv_poll_t;
  int err = uv_poll_init(loop, handle_, fd);
  if (err == 0) {
    handle_->data = this;
    err = uv_poll_start(handle_, UV_READABLE | UV_DISCONNECT, OnPoll);
    if (err != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      handle_ = nullptr;
    }
  } else {
    delete handle_;
    handle_ = nullptr;
  }
  if (err != 0) ThrowErrno(env, "uv_poll_start", "", -err);
  callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  Ref();  // an active watcher stays alive even if JavaScript drops it
}

void FdWatcher::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<FdWatcher*>(handle->data);
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  try {
    self->callback_.MakeCallback(self->Value(), {Napi::Number::New(env, status), Napi::Number::New(env, events)},
                                 self->context_);
  } catch (const Napi::Error& error) {
    // Nothing on the stack can catch it: report it like any uncaught exception.
    napi_fatal_exception(env, error.Value());
  }
}

void FdWatcher::Stop() {
  if (handle_ == nullptr) return;
  uv_poll_stop(handle_);
  uv_close(reinterpret_cast<uv_handle_t*>(handle_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  handle_ = nullptr;
  Unref();
}

Napi::Value FdWatcher::Close(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

}  // namespace vgpio

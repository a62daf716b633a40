#include "util.h"

#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace vgpio {

void ThrowErrno(Napi::Env env, const char* syscall, const std::string& path, int err) {
  if (err == 0) err = errno;
  std::string message = std::string(syscall) + (path.empty() ? "" : " " + path) + ": " +
                        std::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, uv_err_name(uv_translate_sys_error(err))));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  throw error;
}

double IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, double min,
                  double max) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) {
    throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  }
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || std::trunc(value) != value || value < min || value > max) {
    throw Napi::RangeError::New(env, std::string(name) + " must be an integer in [" +
                                         std::to_string(static_cast<int64_t>(min)) + ", " +
                                         std::to_string(static_cast<int64_t>(max)) + "], got " +
                                         info[index].ToString().Utf8Value());
  }
  return value;
}

uint32_t Uint32BitsArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  double value = IntegerArg(info, index, name, -2147483648.0, 4294967295.0);
  return static_cast<uint32_t>(static_cast<int64_t>(value));
}

int FdArg(const Napi::CallbackInfo& info, size_t index) {
  return static_cast<int>(IntegerArg(info, index, "fd", 0, 2147483647.0));
}

std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

}  // namespace vgpio

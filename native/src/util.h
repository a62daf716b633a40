// Small helpers shared by the addon's source files: argument checks that
// throw JavaScript errors, and errno-carrying system errors shaped like
// Node's own (message "syscall path: text", .code, .errno, .syscall).
#ifndef VGPIO_NATIVE_UTIL_H
#define VGPIO_NATIVE_UTIL_H

#include <napi.h>

#include <cstdint>
#include <string>

namespace vgpio {

// Throws a system error for the current errno (or `err` when given).
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, const std::string& path = "",
                             int err = 0);

// An integer argument in [min, max]; TypeError if not a number, RangeError if
// not an integer in range.
double IntegerArg(const Napi::CallbackInfo& info, size_t index, const char* name, double min,
                  double max);

// A 32-bit value: any integer in [-2^31, 2^32), taken modulo 2^32 so that
// JavaScript's signed bit operations (~mask) can be passed directly.
uint32_t Uint32BitsArg(const Napi::CallbackInfo& info, size_t index, const char* name);

// A file descriptor argument (a non-negative int).
int FdArg(const Napi::CallbackInfo& info, size_t index);

std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* name);

}  // namespace vgpio

#endif

#include "shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "fault_guard.h"
#include "util.h"
#include "vgpio_shm.h"

namespace vgpio {

namespace {

bool ValidSize(uint64_t size) {
  return size >= VGPIO_SHM_SIZE_MIN && (size & (size - 1)) == 0;
}

std::string SizeError(uint64_t size, const std::string& what) {
  return what + " size " + std::to_string(size) + " is not a power of two >= " +
         std::to_string(VGPIO_SHM_SIZE_MIN);
}

// Creation token: only OpenFile and MapFd may construct.
struct Mapping {
  int fd;
  uint8_t* base;
  size_t size;
};

}  // namespace

void SharedMemory::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(
      env, "NativeSharedMemory",
      {
          StaticMethod<&SharedMemory::OpenFile>("openFile"),
          StaticMethod<&SharedMemory::MapFd>("mapFd"),
          InstanceAccessor<&SharedMemory::Size>("size"),
          InstanceAccessor<&SharedMemory::Fd>("fd"),
          InstanceMethod<&SharedMemory::Words>("words"),
          InstanceMethod<&SharedMemory::FileSize>("fileSize"),
          InstanceMethod<&SharedMemory::FaultCounter>("faultCounter"),
          InstanceMethod<&SharedMemory::Read>("read"),
          InstanceMethod<&SharedMemory::Write>("write"),
          InstanceMethod<&SharedMemory::Close>("close"),
      });
  // Per-environment (worker-safe) reference used by openFile/mapFd to construct.
  env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(cls)));
  exports.Set("NativeSharedMemory", cls);
}

SharedMemory::SharedMemory(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SharedMemory>(info) {
  // Only reachable through OpenFile/MapFd, which pass an External<Mapping>.
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "use NativeSharedMemory.openFile or mapFd");
  }
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  fd_ = m->fd;
  base_ = m->base;
  size_ = m->size;
  // Unguarded only if sigaction failed or every slot is taken: then a truncation kills the process, as it always could.
  if (fault_guard::Install()) guard_ = fault_guard::Register(base_, size_);
}

SharedMemory::~SharedMemory() { Release(); }

void SharedMemory::Release() {
  fault_guard::Unregister(guard_);
  guard_ = -1;
  if (base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  fd_ = -1;
}

// openFile(path, size, create, mode): size 0 means "whatever the existing file has".
// A file this call created is removed again if anything after creation fails;
// an existing file is never truncated or resized.
Napi::Value SharedMemory::OpenFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  auto want = static_cast<uint64_t>(IntegerArg(info, 1, "size", 0, 9007199254740991.0));
  bool create = info.Length() > 2 && info[2].ToBoolean();
  auto mode = static_cast<mode_t>(IntegerArg(info, 3, "mode", 0, 07777));
  if (want != 0 && !ValidSize(want)) throw Napi::RangeError::New(env, SizeError(want, "shared memory"));
  if (create && want == 0) throw Napi::TypeError::New(env, "creating shared memory needs a size");

  // O_EXCL creates only a new file (never through a symlink); an existing
  // one is opened without following a symlink (ELOOP) and, below, must be
  // ours and writable by nobody else: another local user's file is one they
  // can write into, or swap for their own.
  bool created = false;
  int fd = -1;
  if (create) {
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0) {
      created = true;
    } else if (errno != EEXIST) {
      ThrowErrno(env, "open", path);
    }
  }
  if (fd < 0) {
    fd = open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP) throw Napi::Error::New(env, path + " is a symlink; refusing to follow it");
    if (fd < 0) ThrowErrno(env, "open", path);
  }
  auto fail = [&](const std::string& message) {
    if (created) unlink(path.c_str());
    close(fd);
    throw Napi::Error::New(env, message);
  };
  auto fail_errno = [&](const char* syscall) {
    int err = errno;
    if (created) unlink(path.c_str());
    close(fd);
    ThrowErrno(env, syscall, path, err);
  };

  struct stat st;
  if (fstat(fd, &st) != 0) fail_errno("fstat");
  if (!S_ISREG(st.st_mode)) fail(path + " is not a regular file");
  if (!created && st.st_uid != geteuid()) {
    fail("refusing " + path + ": it belongs to another user (owner uid " + std::to_string(st.st_uid) +
         ", this process runs as uid " + std::to_string(geteuid()) + "); remove it or choose another path");
  }
  if (!created && (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail("refusing " + path + ": other users may write it (mode " + octal + "); remove it or chmod go-w it");
  }
  auto have = static_cast<uint64_t>(st.st_size);
  if (created) {
    if (ftruncate(fd, static_cast<off_t>(want)) != 0) fail_errno("ftruncate");
    have = want;
  } else if (want != 0 && have != want) {
    fail(path + " is " + std::to_string(have) + " bytes, expected " + std::to_string(want) +
         " (an existing file is never resized)");
  } else if (!ValidSize(have)) {
    fail(path + ": " + SizeError(have, "file"));
  }

  void* base = mmap(nullptr, have, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail_errno("mmap");
  Mapping m{fd, static_cast<uint8_t*>(base), static_cast<size_t>(have)};
  return env.GetInstanceData<Napi::FunctionReference>()->New({Napi::External<Mapping>::New(env, &m)});
}

// mapFd(fd): maps a received shared-memory fd. Takes ownership of the fd
// only on success; on failure the caller still owns (and closes) it.
Napi::Value SharedMemory::MapFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, "fstat");
  auto size = static_cast<uint64_t>(st.st_size);
  if (!ValidSize(size)) throw Napi::Error::New(env, SizeError(size, "received shared memory"));
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) ThrowErrno(env, "mmap");
  Mapping m{fd, static_cast<uint8_t*>(base), static_cast<size_t>(size)};
  return env.GetInstanceData<Napi::FunctionReference>()->New({Napi::External<Mapping>::New(env, &m)});
}

void SharedMemory::CheckOpen(Napi::Env env) const {
  if (base_ == nullptr) throw Napi::Error::New(env, "shared memory is closed");
}

size_t SharedMemory::CheckedRange(const Napi::CallbackInfo& info, size_t length) {
  CheckOpen(info.Env());
  double offset = IntegerArg(info, 0, "offset", 0, 9007199254740991.0);
  if (length > size_ || offset > static_cast<double>(size_ - length)) {
    throw Napi::RangeError::New(info.Env(), "offset " + std::to_string(static_cast<uint64_t>(offset)) +
                                                " + " + std::to_string(length) + " is outside the " +
                                                std::to_string(size_) + "-byte shared memory");
  }
  return static_cast<size_t>(offset);
}

Napi::Value SharedMemory::Size(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(size_));
}

Napi::Value SharedMemory::Fd(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  return Napi::Number::New(info.Env(), fd_);
}

// words(): the mapping as an ArrayBuffer, created once per mapping (V8 must
// not see two ArrayBuffers over one pointer). The 32-bit accesses are
// Atomics on a Uint32Array over it in JavaScript, which the JIT inlines: a
// native call per word cost ~120 ns against ~9 ns, and a command reads tens
// of words. The buffer has no finalizer: the mapping belongs to this object,
// and the TypeScript wrapper drops the buffer when it closes the mapping.
Napi::Value SharedMemory::Words(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!words_.IsEmpty()) return words_.Value();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, base_, size_);
  words_ = Napi::Persistent(buffer);
  return buffer;
}

// fileSize(): the size of the file behind the mapping now (fstat), so the
// bridge notices a truncation that no access has met yet, or one inside the
// last page, which reads zeros without a fault (the fault guard catches the
// rest). One system call, without fs.fstatSync's Stats object and its four
// Dates.
Napi::Value SharedMemory::FileSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  struct stat st;
  if (fstat(fd_, &st) != 0) ThrowErrno(env, "fstat");
  return Napi::Number::New(env, static_cast<double>(st.st_size));
}

// faultCounter(): the fault guard's count for this mapping as a 4-byte
// ArrayBuffer, read with Atomics in JavaScript: the bridge asks after each
// step of a command, and a native call each was 4% of its time under a
// flood. Over a zero word of its own when the mapping is unguarded.
// Detached at close, before the slot can serve another mapping.
Napi::Value SharedMemory::FaultCounter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!fault_counter_.IsEmpty()) return fault_counter_.Value();
  uint32_t* counter = fault_guard::FaultCounter(guard_);
  Napi::ArrayBuffer buffer = counter == nullptr ? Napi::ArrayBuffer::New(env, sizeof(uint32_t))
                                                : Napi::ArrayBuffer::New(env, counter, sizeof(uint32_t));
  fault_counter_ = Napi::Persistent(buffer);
  return buffer;
}

Napi::Value SharedMemory::Read(const Napi::CallbackInfo& info) {
  CheckOpen(info.Env());
  auto length = static_cast<size_t>(IntegerArg(info, 1, "length", 0, static_cast<double>(size_)));
  size_t offset = CheckedRange(info, length);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), base_ + offset, length);
}

Napi::Value SharedMemory::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "data must be a Uint8Array or Buffer");
  }
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  size_t offset = CheckedRange(info, data.ByteLength());
  std::memcpy(base_ + offset, data.Data(), data.ByteLength());
  return env.Undefined();
}

Napi::Value SharedMemory::Close(const Napi::CallbackInfo& info) {
  // Detached, the buffer reads as empty: a Uint32Array left over it cannot reach the unmapped pages.
  if (!words_.IsEmpty()) {
    words_.Value().Detach();
    words_.Reset();
  }
  if (!fault_counter_.IsEmpty()) {
    fault_counter_.Value().Detach();
    fault_counter_.Reset();
  }
  Release();
  return info.Env().Undefined();
}

}  // namespace vgpio

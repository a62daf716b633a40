// Thin wrappers over the system calls the ivshmem protocol needs and Node's
// net module does not offer: passing fds with SCM_RIGHTS, and eventfds.
// Every fd is created non-blocking and close-on-exec; errors throw
// Node-style system errors (.code = "ENOENT", ...). The protocol logic that
// uses them is in native/ivshmem-*.ts.
#include "syscalls.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "util.h"

namespace vgpio {

namespace {

constexpr size_t kMaxFdsPerMessage = 8;  // more than the protocol ever sends; extras are reported

sockaddr_un UnixAddress(Napi::Env env, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    throw Napi::RangeError::New(env, "unix socket path must be 1.." + std::to_string(sizeof(addr.sun_path) - 1) +
                                         " bytes: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// eventfdCreate(): a non-blocking eventfd with counter 0.
Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) ThrowErrno(info.Env(), "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

// eventfdSignal(fd): adds 1 to the counter: rings the peer that reads it.
Napi::Value EventfdSignal(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint64_t one = 1;
  ssize_t n;
  do n = write(fd, &one, sizeof one); while (n < 0 && errno == EINTR);
  // EAGAIN: the counter is saturated, so the peer has a ring pending anyway.
  if (n < 0 && errno != EAGAIN) ThrowErrno(info.Env(), "write");
  return info.Env().Undefined();
}

// eventfdDrain(fd): reads and resets the counter; 0 when nothing was pending.
Napi::Value EventfdDrain(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint64_t count = 0;
  ssize_t n;
  do n = read(fd, &count, sizeof count); while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN) ThrowErrno(info.Env(), "read");
  return Napi::Number::New(info.Env(), n == sizeof count ? static_cast<double>(count) : 0);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  // Linux releases the fd even when close reports EINTR/EIO, so never retry.
  if (close(fd) != 0 && errno != EINTR) ThrowErrno(info.Env(), "close");
  return info.Env().Undefined();
}

// unixListen(path, mode, backlog): a listening socket whose file gets `mode`.
// fchmod before bind makes Linux create the socket file with (at most) those
// permissions, so it is never reachable with looser ones; chmod after bind
// sets exactly `mode` regardless of the umask. EADDRINUSE is left to the
// caller, which decides whether the existing file is stale.
Napi::Value UnixListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  auto mode = static_cast<mode_t>(IntegerArg(info, 1, "mode", 0, 0777));
  int backlog = static_cast<int>(IntegerArg(info, 2, "backlog", 1, 4096));
  sockaddr_un addr = UnixAddress(env, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket");
  auto fail = [&](const char* syscall, bool bound) {
    int err = errno;
    if (bound) unlink(path.c_str());
    close(fd);
    ThrowErrno(env, syscall, path, err);
  };
  if (fchmod(fd, mode) != 0) fail("fchmod", false);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("bind", false);
  if (chmod(path.c_str(), mode) != 0) fail("chmod", true);
  if (listen(fd, backlog) != 0) fail("listen", true);
  return Napi::Number::New(env, fd);
}

// unixConnect(path): a connected, non-blocking stream socket.
Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  sockaddr_un addr = UnixAddress(env, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket");
  int rc;
  do rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr); while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;  // unix sockets connect at once; EAGAIN means the server's backlog is full
    close(fd);
    ThrowErrno(env, "connect", path, err);
  }
  return Napi::Number::New(env, fd);
}

// unixAccept(fd): the next pending connection, or -1 when there is none.
Napi::Value UnixAccept(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  int conn;
  do conn = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); while (conn < 0 && errno == EINTR);
  if (conn < 0) {
    if (errno == EAGAIN || errno == ECONNABORTED) return Napi::Number::New(info.Env(), -1);
    ThrowErrno(info.Env(), "accept4");
  }
  return Napi::Number::New(info.Env(), conn);
}

// sendMessage(fd, value: bigint, passFd: number, -1 for none): one ivshmem
// message, a little-endian int64 with optional SCM_RIGHTS fd. Never blocks:
// a full socket buffer throws EAGAIN (the caller drops a peer that stopped reading).
Napi::Value SendMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsBigInt()) throw Napi::TypeError::New(env, "value must be a bigint");
  bool lossless = false;
  int64_t value = info[1].As<Napi::BigInt>().Int64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(env, "value must fit in an int64");
  int pass_fd = static_cast<int>(IntegerArg(info, 2, "passFd", -1, 2147483647.0));

  uint8_t bytes[8];
  for (int i = 0; i < 8; i++) bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
  iovec iov{bytes, sizeof bytes};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (pass_fd >= 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "sendmsg");
  if (n != sizeof bytes) throw Napi::Error::New(env, "sendmsg: short write of an ivshmem message");
  return env.Undefined();
}

// recvMessage(fd): null when nothing is pending, else { bytes, value, fds }:
// bytes 0 = end of stream, 8 = a whole message (value: bigint), anything
// else = a broken message. fds are the received descriptors (close-on-exec),
// now owned by the caller, which must close the ones it does not keep.
Napi::Value RecvMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  uint8_t bytes[8];
  iovec iov{bytes, sizeof bytes};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    ThrowErrno(env, "recvmsg");
  }
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(received);
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(n)));
  if (n == sizeof bytes) {
    uint64_t raw = 0;
    for (int i = 0; i < 8; i++) raw |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    result.Set("value", Napi::BigInt::New(env, static_cast<int64_t>(raw)));
  }
  Napi::Array list = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  result.Set("fds", list);
  // Descriptors that did not fit were closed by the kernel; say so.
  result.Set("truncated", Napi::Boolean::New(env, (msg.msg_flags & MSG_CTRUNC) != 0));
  return result;
}

}  // namespace

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate, "eventfdCreate"));
  exports.Set("eventfdSignal", Napi::Function::New(env, EventfdSignal, "eventfdSignal"));
  exports.Set("eventfdDrain", Napi::Function::New(env, EventfdDrain, "eventfdDrain"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen, "unixListen"));
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect, "unixConnect"));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept, "unixAccept"));
  exports.Set("sendMessage", Napi::Function::New(env, SendMessage, "sendMessage"));
  exports.Set("recvMessage", Napi::Function::New(env, RecvMessage, "recvMessage"));
}

}  // namespace vgpio

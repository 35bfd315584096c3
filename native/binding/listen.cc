// listen.cc: listening sockets that nobody accepts on yet. The emperor holds an on-demand
// vassal's socket and the app server's master holds its workers' sockets: both must keep
// connections waiting in the kernel's backlog (never accept them), so Node's net.Server,
// which accepts as soon as it listens, will not do.
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "binding.h"

static const int kBacklog = 1024;

// A UNIX socket at path: a stale socket file from an earlier run is replaced, anything
// else at that path is an error (EADDRINUSE), never deleted.
static int ListenUnix(const std::string &path, int *err, const char **syscall) {
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa.sun_path)) {
    *err = ENAMETOOLONG, *syscall = "bind";
    return -1;
  }
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    (void) unlink(path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno, *syscall = "socket";
    return -1;
  }
  if (bind(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa)) < 0) {
    *err = errno, *syscall = "bind";
  } else if (listen(fd, kBacklog) < 0) {
    *err = errno, *syscall = "listen";
  } else {
    return fd;
  }
  close(fd);
  return -1;
}

// host:port (IPv4, [IPv6] or a name; an empty host is every IPv4 address, as uWSGI's :port).
static int ListenTcp(const std::string &host, const std::string &port, int *err, const char **syscall) {
  struct addrinfo hints = {}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int r = getaddrinfo(host.empty() ? "0.0.0.0" : host.c_str(), port.c_str(), &hints, &res);
  if (r != 0) {
    *err = r == EAI_SYSTEM ? errno : EINVAL, *syscall = "getaddrinfo";
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno, *syscall = "socket";
  } else {
    int one = 1;
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
      *err = errno, *syscall = "bind";
    } else if (listen(fd, kBacklog) < 0) {
      *err = errno, *syscall = "listen";
    } else {
      freeaddrinfo(res);
      return fd;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

// listenSocket(address) → fd: a close-on-exec listening socket on `host:port` or a path.
static Napi::Value ListenSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "listenSocket(address: string)");
  std::string addr = info[0].As<Napi::String>().Utf8Value();
  int err = 0;
  const char *syscall = "listen";
  int fd;
  if (addr.find('/') != std::string::npos) {
    fd = ListenUnix(addr, &err, &syscall);
  } else {
    size_t colon = addr.rfind(':');
    if (colon == std::string::npos)
      throw Napi::TypeError::New(env, "listenSocket: expected host:port, :port or a socket path, got " + addr);
    std::string host = addr.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
    fd = ListenTcp(host, addr.substr(colon + 1), &err, &syscall);
  }
  if (fd < 0)
    throw ErrnoError(env, err, syscall);
  return Napi::Number::New(env, fd);
}

// isListeningSocket(fd) → true when fd is a socket in the listening state (fd 0 handed
// over by an on-demand emperor).
static Napi::Value IsListeningSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "isListeningSocket(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value(), on = 0;
  socklen_t len = sizeof(on);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
    return Napi::Boolean::New(env, false);  // ENOTSOCK, EBADF: not one
  return Napi::Boolean::New(env, on != 0);
}

// connectUnix(path) → fd: a close-on-exec, non-blocking AF_UNIX stream connection (the
// emperor's side of the fork server). A UNIX connect never waits: a full backlog is
// EAGAIN and a missing or dead socket ECONNREFUSED or ENOENT, each thrown as an
// ErrnoError with syscall 'connect'; the caller retries, it never blocks the loop.
static Napi::Value ConnectUnix(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "connectUnix(path: string)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path) || path.find('\0') != std::string::npos)
    throw ErrnoError(env, path.empty() ? EINVAL : ENAMETOOLONG, "connect");
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    throw ErrnoError(env, errno, "socket");
  int r;
  do
    r = connect(fd, reinterpret_cast<struct sockaddr *>(&sa), sizeof(sa));
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "connect");
  }
  return Napi::Number::New(env, fd);
}

// sendDatagram(path, data): one datagram to the AF_UNIX datagram socket at path (a leading
// `@` is the abstract namespace), as systemd's sd_notify() does for NOTIFY_SOCKET. Never
// blocks; throws an ErrnoError with syscall 'sendto'.
static Napi::Value SendDatagram(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBuffer())
    throw Napi::TypeError::New(env, "sendDatagram(path: string, data: Buffer)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(sa.sun_path) || path.find('\0') != std::string::npos)
    throw ErrnoError(env, path.empty() ? EINVAL : ENAMETOOLONG, "sendto");
  memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@')
    sa.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    throw ErrnoError(env, errno, "socket");
  ssize_t n;
  do
    n = sendto(fd, data.Data(), data.Length(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr *>(&sa), len);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0)
    throw ErrnoError(env, err, "sendto");
  return env.Undefined();
}

void InitListen(Napi::Env env, Napi::Object exports) {
  exports.Set("sendDatagram", Napi::Function::New<SendDatagram>(env, "sendDatagram"));
  exports.Set("connectUnix", Napi::Function::New<ConnectUnix>(env, "connectUnix"));
  exports.Set("listenSocket", Napi::Function::New<ListenSocket>(env, "listenSocket"));
  exports.Set("isListeningSocket", Napi::Function::New<IsListeningSocket>(env, "isListeningSocket"));
}

// addon.cc: the N-API surface, flat functions over the C executor (classic-level's
// shape). Parent-side syscall failures throw ErrnoError; a failure inside the jail is
// data read from the status fd, never an exception here.
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include <vector>

#include "binding.h"
#include "jail.h"
#include "syscalls.h"

Napi::Error ErrnoError(Napi::Env env, int errnum, const char *syscall) {
  std::string message = std::string(syscall) + ": " + strerror(errnum);
  Napi::Error err = Napi::Error::New(env, message);
  // libuv names only the errnos it maps (not ECHILD, for one): the C library names the rest.
  const char *name = uv_err_name(-errnum);
  if (strncmp(name, "Unknown", 7) == 0 && strerrorname_np(errnum))
    name = strerrorname_np(errnum);
  err.Set("code", name);
  err.Set("errno", Napi::Number::New(env, -errnum));
  err.Set("syscall", syscall);
  return err;
}

static bool ArgIsFd(const Napi::CallbackInfo &info, size_t i) {
  return info.Length() > i && info[i].IsNumber() && info[i].As<Napi::Number>().Int32Value() >= 0;
}

static Napi::Object ErrorRecord(Napi::Env env, const jail_error_t &err) {
  Napi::Object o = Napi::Object::New(env);
  bool progress = (err.stage & JAIL_PROGRESS) != 0;
  const char *stage = jail_stage_to_string(static_cast<jail_stage_t>(err.stage & ~JAIL_PROGRESS));
  o.Set("stage", stage ? stage : "unknown");
  o.Set("progress", Napi::Boolean::New(env, progress));
  o.Set("errno", Napi::Number::New(env, err.errnum));
  o.Set("item", Napi::Number::New(env, err.item));
  o.Set("status", Napi::Number::New(env, err.status));
  return o;
}

// launch(plan: Uint8Array) → {pid, pidfd, statusFd}. The thread is blocked only until
// the helper's exec; setup runs in the helper and reports through statusFd.
static Napi::Value Launch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "launch(plan: Uint8Array)");
  Napi::Uint8Array plan = info[0].As<Napi::Uint8Array>();
  // The helper's PR_SET_PDEATHSIG follows the thread that forks it: a Worker that ends
  // would take its jails with it. jail_launch() refuses too; this says why.
  if (gettid() != getpid()) {
    Napi::Error e = ErrnoError(env, EINVAL, "launch");
    e.Set("message", "launch: only the main thread may launch a jail (its parent-death signal follows the launching thread)");
    e.Set("stage", "prepare");
    e.Set("item", Napi::Number::New(env, -1));
    throw e;
  }
  int helper = HelperFd();
  if (helper < 0)
    throw ErrnoError(env, -helper, "memfd_create");

  jail_child_t child;
  jail_error_t err;
  int r = jail_launch(plan.Data(), plan.ByteLength(), helper, &child, &err);
  if (r < 0) {
    const char *stage = jail_stage_to_string(static_cast<jail_stage_t>(err.stage));
    Napi::Error e = ErrnoError(env, -r, stage ? stage : "launch");
    e.Set("stage", stage ? stage : "unknown");
    e.Set("item", Napi::Number::New(env, err.item));
    throw e;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, child.pid));
  o.Set("pidfd", Napi::Number::New(env, child.pidfd));
  o.Set("statusFd", Napi::Number::New(env, child.status_fd));
  return o;
}

// dropSelf(plan: Uint8Array) → undefined: the calling process takes the plan's uid, gid,
// groups and capabilities (jail_drop_self). Call it on the thread that launches: the
// capabilities are the calling thread's; the ids change in every thread.
static Napi::Value DropSelf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, "dropSelf(plan: Uint8Array)");
  Napi::Uint8Array plan = info[0].As<Napi::Uint8Array>();
  jail_error_t err;
  if (jail_drop_self(plan.Data(), plan.ByteLength(), &err) < 0) {
    const char *stage = jail_stage_to_string(static_cast<jail_stage_t>(err.stage));
    Napi::Error e = ErrnoError(env, err.errnum, stage ? stage : "unknown");
    e.Set("stage", stage ? stage : "unknown");
    e.Set("item", Napi::Number::New(env, err.item));
    throw e;
  }
  return env.Undefined();
}

// readStatus(fd) → undefined (nothing yet), null (EOF) or one record {stage, progress,
// errno, item, status}: progress records say a stage began (the one for `exec` comes just
// before execve); a failure record ends the launch. EOF after the exec's progress record
// means the exec succeeded; EOF before it, that the launch died on the way.
static Napi::Value ReadStatus(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0))
    throw Napi::TypeError::New(env, "readStatus(fd: number)");
  jail_error_t err;
  ssize_t n;
  do
    n = read(info[0].As<Napi::Number>().Int32Value(), &err, sizeof(err));
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN)
    return env.Undefined();
  if (n < 0)
    throw ErrnoError(env, errno, "read");
  if (n == 0)
    return env.Null();
  if (n != sizeof(err))
    throw ErrnoError(env, EPROTO, "read");
  return ErrorRecord(env, err);
}

// waitPidfd(pidfd) → null while the process runs, else {pid, code, signal}: reaps it.
static Napi::Value WaitPidfd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0))
    throw Napi::TypeError::New(env, "waitPidfd(pidfd: number)");
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  int r;
  do
    r = waitid(static_cast<idtype_t>(P_PIDFD), info[0].As<Napi::Number>().Uint32Value(), &si, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    throw ErrnoError(env, errno, "waitid");
  if (si.si_pid == 0)
    return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, si.si_pid));
  bool exited = si.si_code == CLD_EXITED;
  o.Set("code", exited ? Napi::Number::New(env, si.si_status) : env.Null());
  o.Set("signal", exited ? env.Null() : Napi::Number::New(env, si.si_status));
  return o;
}

// Sends sig through pidfd with `uid` as the calling thread's effective uid for the call
// only. kill(2) lets a sender whose effective uid is the target's real uid, so an emperor
// that dropped to its own user keeping just CAP_SETUID (no CAP_KILL) can still signal a
// tenant's vassal. Raw syscalls: this thread alone changes, and its real and saved uids
// stay, so it can always come back. Never uid 0: coming back from euid 0 would clear the
// thread's effective and ambient capabilities. While euid is the tenant's, the process's
// dumpable flag follows fs.suid_dumpable: the emperor refuses to run this way when that is
// 1 (its /proc files would be the tenant's for the window). On failure *call names the
// system call.
static int SignalAs(int pidfd, int sig, uid_t uid, const char **call) {
  uid_t ruid, euid, suid;
  int r;

  *call = "setresuid";
  if (uid == 0 || uid == static_cast<uid_t>(-1))
    return -EPERM;
  if (getresuid(&ruid, &euid, &suid) < 0)
    return *call = "getresuid", -errno;
  if (syscall(SYS_setresuid, -1, uid, -1) < 0)
    return -errno;
  *call = "pidfd_send_signal";
  r = jail__pidfd_send_signal(pidfd, sig, nullptr, 0) < 0 ? -errno : 0;
  if (syscall(SYS_setresuid, -1, euid, -1) < 0) {
    /* Cannot happen (euid is our real uid); going on as the tenant is not an option. */
    static const char msg[] = "jailctl: cannot restore the emperor's effective uid after signalling a jail; aborting\n";
    (void) !write(2, msg, sizeof(msg) - 1);
    abort();
  }
  return r;
}

// pidfdSendSignal(pidfd, signal[, asUid]): no pid reuse race, unlike kill(2). With asUid,
// see SignalAs().
static Napi::Value PidfdSendSignal(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0) || info.Length() < 2 || !info[1].IsNumber() || (info.Length() > 2 && !info[2].IsNumber()))
    throw Napi::TypeError::New(env, "pidfdSendSignal(pidfd: number, signal: number, asUid?: number)");
  int pidfd = info[0].As<Napi::Number>().Int32Value();
  int sig = info[1].As<Napi::Number>().Int32Value();
  const char *call = "pidfd_send_signal";
  int r = info.Length() > 2 ? SignalAs(pidfd, sig, info[2].As<Napi::Number>().Uint32Value(), &call)
                            : (jail__pidfd_send_signal(pidfd, sig, nullptr, 0) < 0 ? -errno : 0);
  if (r < 0)
    throw ErrnoError(env, -r, call);
  return env.Undefined();
}

// setChildSubreaper(on): orphans of our descendants are reparented to us (the fork
// server's grandchildren, adopted vassals).
static Napi::Value SetChildSubreaper(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  bool on = info.Length() < 1 || info[0].ToBoolean();
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0)
    throw ErrnoError(env, errno, "prctl");
  int value = 0;
  if (prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0) < 0)
    throw ErrnoError(env, errno, "prctl");
  return Napi::Boolean::New(env, value != 0);
}

// sendFds(socket, data: Uint8Array, fds: number[]) → bytes sent.
static Napi::Value SendFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0) || info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsArray())
    throw Napi::TypeError::New(env, "sendFds(socket: number, data: Uint8Array, fds: number[])");
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  Napi::Array list = info[2].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list[i];
    if (!v.IsNumber())
      throw Napi::TypeError::New(env, "sendFds: fds must be numbers");
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  ssize_t n = jail_send_fds(info[0].As<Napi::Number>().Int32Value(), data.Data(), data.ByteLength(), fds.data(),
                            fds.size());
  if (n < 0)
    throw ErrnoError(env, static_cast<int>(-n), "sendmsg");
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvFds(socket, maxBytes, maxFds) → {data: Buffer, fds: number[]}; fds are close-on-exec.
static const size_t kMaxRecvBytes = 1 << 20;

static Napi::Value RecvFds(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0) || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "recvFds(socket: number, maxBytes: number, maxFds: number)");
  size_t max_bytes = info[1].As<Napi::Number>().Uint32Value();
  size_t max_fds = info[2].As<Napi::Number>().Uint32Value();
  if (max_bytes > kMaxRecvBytes)  // a std::bad_alloc here would terminate the process
    throw Napi::RangeError::New(env, "recvFds: maxBytes is at most 1 MiB");
  if (max_fds > JAIL_MAX_FDS)
    max_fds = JAIL_MAX_FDS;
  std::vector<uint8_t> buf(max_bytes > 0 ? max_bytes : 1);
  int fds[JAIL_MAX_FDS];
  size_t n_fds = 0;
  ssize_t n = jail_recv_fds(info[0].As<Napi::Number>().Int32Value(), buf.data(), buf.size(), fds, max_fds, &n_fds);
  if (n < 0)
    throw ErrnoError(env, static_cast<int>(-n), "recvmsg");
  try {
    Napi::Object o = Napi::Object::New(env);
    o.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n)));
    Napi::Array list = Napi::Array::New(env, n_fds);
    for (size_t i = 0; i < n_fds; i++)
      list[static_cast<uint32_t>(i)] = Napi::Number::New(env, fds[i]);
    o.Set("fds", list);
    return o;
  } catch (...) {
    for (size_t i = 0; i < n_fds; i++)  // received, but nobody will ever know their numbers
      close(fds[i]);
    throw;
  }
}

// socketPair() → [fd, fd]: a close-on-exec UNIX stream pair (the emperor pipe's shape).
static Napi::Value SocketPair(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    throw ErrnoError(env, errno, "socketpair");
  Napi::Array list = Napi::Array::New(env, 2);
  list[0u] = Napi::Number::New(env, sv[0]);
  list[1u] = Napi::Number::New(env, sv[1]);
  return list;
}

// pipe() → [read, write]: a close-on-exec pipe (a vassal's stdout and stderr: what a
// program expects there; nginx's `error_log /dev/stderr` cannot open a socket).
static Napi::Value Pipe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0)
    throw ErrnoError(env, errno, "pipe2");
  Napi::Array list = Napi::Array::New(env, 2);
  list[0u] = Napi::Number::New(env, fds[0]);
  list[1u] = Napi::Number::New(env, fds[1]);
  return list;
}

// peerCredentials(fd) → {pid, uid, gid} of the process that connected a UNIX socket
// (SO_PEERCRED: what the kernel recorded at connect, not what the peer claims).
static Napi::Value PeerCredentials(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0))
    throw Napi::TypeError::New(env, "peerCredentials(fd: number)");
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(info[0].As<Napi::Number>().Int32Value(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    throw ErrnoError(env, errno, "getsockopt(SO_PEERCRED)");
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, cred.pid));
  o.Set("uid", Napi::Number::New(env, cred.uid));
  o.Set("gid", Napi::Number::New(env, cred.gid));
  return o;
}

// pidfdOpen(pid) → a close-on-exec pidfd (jailctl enter joins the namespaces behind it).
static Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "pidfdOpen(pid: number)");
  int fd = jail__pidfd_open(info[0].As<Napi::Number>().Int32Value(), 0);
  if (fd < 0)
    throw ErrnoError(env, errno, "pidfd_open");
  return Napi::Number::New(env, fd);
}

// openPty() → {master, slave}: a pseudo-terminal pair, both close-on-exec (the slave is
// handed to a jail as its 0, 1, 2 through the plan); the master stays non-blocking.
static Napi::Value OpenPty(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (master < 0)
    throw ErrnoError(env, errno, "posix_openpt");
  char name[64];
  int slave = -1;
  if (grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0 ||
      (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
    int err = errno;
    close(master);
    throw ErrnoError(env, err, "openpty");
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("master", Napi::Number::New(env, master));
  o.Set("slave", Napi::Number::New(env, slave));
  return o;
}

// setWindowSize(fd, columns, rows): TIOCSWINSZ on a pty (the program inside gets SIGWINCH).
static Napi::Value SetWindowSize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0) || info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "setWindowSize(fd: number, columns: number, rows: number)");
  struct winsize ws = {};
  ws.ws_col = static_cast<unsigned short>(info[1].As<Napi::Number>().Uint32Value());
  ws.ws_row = static_cast<unsigned short>(info[2].As<Napi::Number>().Uint32Value());
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSWINSZ, &ws) < 0)
    throw ErrnoError(env, errno, "ioctl(TIOCSWINSZ)");
  return env.Undefined();
}

// setNonBlocking(fd): O_NONBLOCK, so a write to a peer that does not read fails with
// EAGAIN instead of stopping the event loop.
static Napi::Value SetNonBlocking(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0))
    throw Napi::TypeError::New(env, "setNonBlocking(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
    throw ErrnoError(env, errno, "fcntl");
  return env.Undefined();
}

// dupFd(fd) → a close-on-exec duplicate: an fd of our own for as long as a request needs it,
// whoever closes the original meanwhile (its number could be reused by another vassal's fd).
static Napi::Value DupFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!ArgIsFd(info, 0))
    throw Napi::TypeError::New(env, "dupFd(fd: number)");
  int fd = fcntl(info[0].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    throw ErrnoError(env, errno, "fcntl");
  return Napi::Number::New(env, fd);
}

// strerror(errno) → the C library's words for it ("Operation not permitted").
static Napi::Value StrError(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "strerror(errno: number)");
  int e = info[0].As<Napi::Number>().Int32Value();
  return Napi::String::New(env, strerror(e < 0 ? -e : e));
}

// stageNames() → the executor's stage table, in launch order.
static Napi::Value StageNames(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env, _JAIL_STAGE_MAX);
  for (uint32_t i = 0; i < _JAIL_STAGE_MAX; i++)
    list[i] = jail_stage_to_string(static_cast<jail_stage_t>(i));
  return list;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("launch", Napi::Function::New<Launch>(env, "launch"));
  exports.Set("dropSelf", Napi::Function::New<DropSelf>(env, "dropSelf"));
  exports.Set("readStatus", Napi::Function::New<ReadStatus>(env, "readStatus"));
  exports.Set("waitPidfd", Napi::Function::New<WaitPidfd>(env, "waitPidfd"));
  exports.Set("pidfdSendSignal", Napi::Function::New<PidfdSendSignal>(env, "pidfdSendSignal"));
  exports.Set("setChildSubreaper", Napi::Function::New<SetChildSubreaper>(env, "setChildSubreaper"));
  exports.Set("sendFds", Napi::Function::New<SendFds>(env, "sendFds"));
  exports.Set("recvFds", Napi::Function::New<RecvFds>(env, "recvFds"));
  exports.Set("setNonBlocking", Napi::Function::New<SetNonBlocking>(env, "setNonBlocking"));
  exports.Set("dupFd", Napi::Function::New<DupFd>(env, "dupFd"));
  exports.Set("pidfdOpen", Napi::Function::New<PidfdOpen>(env, "pidfdOpen"));
  exports.Set("openPty", Napi::Function::New<OpenPty>(env, "openPty"));
  exports.Set("setWindowSize", Napi::Function::New<SetWindowSize>(env, "setWindowSize"));
  exports.Set("peerCredentials", Napi::Function::New<PeerCredentials>(env, "peerCredentials"));
  exports.Set("socketPair", Napi::Function::New<SocketPair>(env, "socketPair"));
  exports.Set("pipe", Napi::Function::New<Pipe>(env, "pipe"));
  exports.Set("strerror", Napi::Function::New<StrError>(env, "strerror"));
  exports.Set("stageNames", Napi::Function::New<StageNames>(env, "stageNames"));
  InitFdWatcher(env, exports);
  InitListen(env, exports);
  InitReexec(env, exports);
  InitInotify(env, exports);
  InitCgroupRead(env, exports);
  return exports;
}

NODE_API_MODULE(jail_binding, Init)

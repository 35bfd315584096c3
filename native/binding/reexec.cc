// reexec.cc: what an emperor upgrade needs (src/emperor/handover.ts): the handover
// record's memfd, the close-on-exec flag of exactly the fds that cross, and execve() of
// the emperor itself, same pid, so its jails stay its children; the signals it handles
// kept across that execve (sigkeep.c, src/emperor/signal-keep.ts).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "binding.h"
#include "sigkeep.h"

extern "C" const unsigned char jail_sigkeep_blob[];
extern "C" const unsigned char jail_sigkeep_blob_end[];

// memfdCreate(name) → a close-on-exec memfd (the handover record is written to it).
static Napi::Value MemfdCreate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "memfdCreate(name: string)");
  int fd = memfd_create(info[0].As<Napi::String>().Utf8Value().c_str(), MFD_CLOEXEC);
  if (fd < 0)
    throw ErrnoError(env, errno, "memfd_create");
  return Napi::Number::New(env, fd);
}

// setCloseOnExec(fd, on): FD_CLOEXEC set (on) or cleared (the fd crosses the next execve).
static Napi::Value SetCloseOnExec(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean())
    throw Napi::TypeError::New(env, "setCloseOnExec(fd: number, on: boolean)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd < 0 || fcntl(fd, F_SETFD, info[1].As<Napi::Boolean>().Value() ? FD_CLOEXEC : 0) < 0)
    throw ErrnoError(env, fd < 0 ? EBADF : errno, "fcntl");
  return env.Undefined();
}

static std::vector<std::string> Strings(Napi::Env env, Napi::Value v, const char *what) {
  if (!v.IsArray())
    throw Napi::TypeError::New(env, std::string("reexec: ") + what + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value s = a[i];
    if (!s.IsString())
      throw Napi::TypeError::New(env, std::string("reexec: ") + what + " must be an array of strings");
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

// reexec(path, argv, env, keep): execve() of this process. Returns only by throwing (the exec
// failed: this process goes on as it was). Only the main thread may: PR_SET_PDEATHSIG of
// a jail fires when the thread that launched it ends, and an execve from another thread
// ends the main one, the launcher of every jail (the kernel makes the caller the leader).
static Napi::Value Reexec(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || (info.Length() > 3 && !info[3].IsBoolean()))
    throw Napi::TypeError::New(env, "reexec(path: string, argv: string[], env: string[], keep?: boolean)");
  bool keep = info.Length() > 3 && info[3].As<Napi::Boolean>().Value();
  if (gettid() != getpid())
    throw ErrnoError(env, EINVAL, "execve (not the main thread)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> args = Strings(env, info[1], "argv");
  std::vector<std::string> vars = Strings(env, info[2], "env");
  std::vector<char *> argv, envp;
  for (auto &s : args)
    argv.push_back(const_cast<char *>(s.c_str()));
  argv.push_back(nullptr);
  for (auto &s : vars)
    envp.push_back(const_cast<char *>(s.c_str()));
  envp.push_back(nullptr);
  // keep: the signals of sigkeep.h stay blocked into the new program (whose preloaded
  // jail-sigkeep.so catches them before Node's start unblocks them); else the new program
  // starts with none blocked, as from a fresh start. The old mask is back if the exec fails.
  sigset_t mask, saved;
  sigemptyset(&mask);
  if (keep) {
    static const int kept[] = JAIL_SIGKEEP_SIGNALS;
    for (int sig : kept)
      sigaddset(&mask, sig);
  }
  pthread_sigmask(SIG_SETMASK, &mask, &saved);
  execve(path.c_str(), argv.data(), envp.data());
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  throw ErrnoError(env, err, "execve");
}

// sigkeepFd() → a close-on-exec, sealed memfd holding jail-sigkeep.so (embedded in the
// addon, so it always matches it and no file on disk is preloaded into root's exec).
static Napi::Value SigkeepFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = memfd_create("jail-sigkeep", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    throw ErrnoError(env, errno, "memfd_create");
  for (const unsigned char *p = jail_sigkeep_blob; p < jail_sigkeep_blob_end;) {
    ssize_t n = write(fd, p, jail_sigkeep_blob_end - p);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      throw ErrnoError(env, err, "write");
    }
    p += n;
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "fcntl");
  }
  return Napi::Number::New(env, fd);
}

// takeKeptSignals() → the signals jail-sigkeep.so caught since the execve (each once,
// cleared), or null when it is not loaded (not an upgrade's exec, or the preload failed).
// Called once the emperor's own handlers have replaced the library's.
static Napi::Value TakeKeptSignals(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto take = reinterpret_cast<unsigned long long (*)(void)>(dlsym(RTLD_DEFAULT, "jailctl_sigkeep_take"));
  if (!take)
    return env.Null();
  unsigned long long mask = take();
  Napi::Array out = Napi::Array::New(env);
  for (int sig = 1; sig < 64; sig++)
    if (mask & (1ULL << sig))
      out.Set(out.Length(), Napi::Number::New(env, sig));
  return out;
}

void InitReexec(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New<MemfdCreate>(env, "memfdCreate"));
  exports.Set("setCloseOnExec", Napi::Function::New<SetCloseOnExec>(env, "setCloseOnExec"));
  exports.Set("reexec", Napi::Function::New<Reexec>(env, "reexec"));
  exports.Set("sigkeepFd", Napi::Function::New<SigkeepFd>(env, "sigkeepFd"));
  exports.Set("takeKeptSignals", Napi::Function::New<TakeKeptSignals>(env, "takeKeptSignals"));
}

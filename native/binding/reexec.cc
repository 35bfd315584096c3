// reexec.cc: what an emperor upgrade needs (src/emperor/handover.ts): the handover
// record's memfd, the close-on-exec flag of exactly the fds that cross, and execve() of
// the emperor itself, same pid, so its jails stay its children.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "binding.h"

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

// reexec(path, argv, env): execve() of this process. Returns only by throwing (the exec
// failed: this process goes on as it was). Only the main thread may: PR_SET_PDEATHSIG of
// a jail fires when the thread that launched it ends, and an execve from another thread
// ends the main one, the launcher of every jail (the kernel makes the caller the leader).
static Napi::Value Reexec(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString())
    throw Napi::TypeError::New(env, "reexec(path: string, argv: string[], env: string[])");
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
  // The new program starts with no signal blocked, as from a fresh start; the old mask
  // is back if the exec fails.
  sigset_t none, saved;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &saved);
  execve(path.c_str(), argv.data(), envp.data());
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  throw ErrnoError(env, err, "execve");
}

void InitReexec(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New<MemfdCreate>(env, "memfdCreate"));
  exports.Set("setCloseOnExec", Napi::Function::New<SetCloseOnExec>(env, "setCloseOnExec"));
  exports.Set("reexec", Napi::Function::New<Reexec>(env, "reexec"));
}

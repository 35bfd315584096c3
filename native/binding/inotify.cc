// inotify.cc: an inotify instance of the monitor's own. Node's fs.watch shares one instance
// per process and libuv drops IN_Q_OVERFLOW (its wd is -1, which names no watcher), so a
// monitor on fs.watch cannot know that it lost events. Here every event reaches the caller,
// the overflow and a watch the kernel removed (IN_IGNORED) included; the caller polls the
// fd with FdWatcher and reads it when it is readable.
#include <errno.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "binding.h"

// inotifyInit() → a non-blocking, close-on-exec inotify fd.
static Napi::Value InotifyInit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0)
    throw ErrnoError(env, errno, "inotify_init1");
  return Napi::Number::New(env, fd);
}

// inotifyAddWatch(fd, path, mask) → the watch descriptor (the same one again for a path
// already watched: inotify_add_watch(2)).
static Napi::Value InotifyAddWatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "inotifyAddWatch(fd: number, path: string, mask: number)");
  std::string path = info[1].As<Napi::String>().Utf8Value();
  int wd = inotify_add_watch(info[0].As<Napi::Number>().Int32Value(), path.c_str(), info[2].As<Napi::Number>().Uint32Value());
  if (wd < 0)
    throw ErrnoError(env, errno, "inotify_add_watch");
  return Napi::Number::New(env, wd);
}

// inotifyRmWatch(fd, wd): EINVAL (the kernel removed it already) is not an error here.
static Napi::Value InotifyRmWatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "inotifyRmWatch(fd: number, wd: number)");
  if (inotify_rm_watch(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value()) < 0 && errno != EINVAL)
    throw ErrnoError(env, errno, "inotify_rm_watch");
  return env.Undefined();
}

// inotifyRead(fd) → every event queued now, [{wd, mask, name}] (name '' for an event of the
// watched directory itself, or the overflow, whose wd is -1); [] when there is none.
static Napi::Value InotifyRead(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw Napi::TypeError::New(env, "inotifyRead(fd: number)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t len = read(fd, buf, sizeof(buf));
    if (len < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        break;
      throw ErrnoError(env, errno, "read(inotify)");
    }
    if (len == 0)
      break;
    for (char *p = buf; p < buf + len;) {
      const struct inotify_event *e = reinterpret_cast<const struct inotify_event *>(p);
      Napi::Object o = Napi::Object::New(env);
      o.Set("wd", Napi::Number::New(env, e->wd));
      o.Set("mask", Napi::Number::New(env, e->mask));
      o.Set("name", Napi::String::New(env, e->len > 0 ? e->name : ""));
      out[n++] = o;
      p += sizeof(struct inotify_event) + e->len;
    }
  }
  return out;
}

void InitInotify(Napi::Env env, Napi::Object exports) {
  exports.Set("inotifyInit", Napi::Function::New<InotifyInit>(env, "inotifyInit"));
  exports.Set("inotifyAddWatch", Napi::Function::New<InotifyAddWatch>(env, "inotifyAddWatch"));
  exports.Set("inotifyRmWatch", Napi::Function::New<InotifyRmWatch>(env, "inotifyRmWatch"));
  exports.Set("inotifyRead", Napi::Function::New<InotifyRead>(env, "inotifyRead"));
}

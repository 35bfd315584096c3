// fd-watcher.cc: FdWatcher, an ObjectWrap over uv_poll_t. Reports readiness of one fd
// (a pidfd turns readable when its process exits; a status fd when the launch failed
// or the exec succeeded) on the event loop, with no thread per child.
#include <fcntl.h>
#include <uv.h>

#include "binding.h"

class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {InstanceMethod<&FdWatcher::Close>("close"), InstanceMethod<&FdWatcher::RefLoop>("ref"),
                        InstanceMethod<&FdWatcher::UnrefLoop>("unref")});
  }

  // new FdWatcher(fd, callback): callback(events) with events a bit mask
  // (1 readable, 4 disconnect) or a negative errno, until close().
  FdWatcher(const Napi::CallbackInfo &info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "FdWatcher(fd: number, callback: function)").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "FdWatcher: no event loop").ThrowAsJavaScriptException();
      return;
    }
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    handle_ = new uv_poll_t;
    // uv_poll_init sets O_NONBLOCK on the file description, which is shared: an on-demand
    // socket would reach its vassal non-blocking. Polling needs no such mode: restore it.
    int fd = info[0].As<Napi::Number>().Int32Value();
    int flags = fcntl(fd, F_GETFL);
    int r = uv_poll_init(loop, handle_, fd);
    if (r == 0 && flags >= 0)
      (void) fcntl(fd, F_SETFL, flags);
    if (r == 0) {
      handle_->data = this;
      r = uv_poll_start(handle_, UV_READABLE | UV_DISCONNECT, OnEvent);
      if (r != 0)
        CloseHandle();
      else
        Ref();  // an active watcher is not garbage, even if JS dropped it
    } else {
      delete handle_;
      handle_ = nullptr;
    }
    if (r != 0)
      ErrnoError(env, -r, "uv_poll_start").ThrowAsJavaScriptException();
  }

  ~FdWatcher() override { CloseHandle(); }

 private:
  static void OnEvent(uv_poll_t *handle, int status, int events) {
    FdWatcher *self = static_cast<FdWatcher *>(handle->data);
    if (!self || self->callback_.IsEmpty())
      return;
    Napi::Env env = self->callback_.Env();
    Napi::HandleScope scope(env);
    // Called from libuv, not from JS: a C++ exception must not unwind through libuv
    // (std::terminate). A throwing callback becomes the process's uncaughtException.
    try {
      self->callback_.MakeCallback(self->Value(), {Napi::Number::New(env, status < 0 ? status : events)});
    } catch (const Napi::Error &e) {
      napi_fatal_exception(env, e.Value());
    }
  }

  void CloseHandle() {
    if (!handle_)
      return;
    handle_->data = nullptr;
    uv_poll_stop(handle_);
    uv_close(reinterpret_cast<uv_handle_t *>(handle_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
    handle_ = nullptr;
  }

  // Stops watching; the fd itself stays open (its owner closes it). The callback is let go
  // too: it usually closes over this watcher's JS object, and a strong reference held here
  // would keep both alive forever (a leak of one closure per launched jail).
  Napi::Value Close(const Napi::CallbackInfo &info) {
    if (handle_) {
      CloseHandle();
      Unref();
    }
    callback_.Reset();
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo &info) {
    if (handle_)
      uv_ref(reinterpret_cast<uv_handle_t *>(handle_));
    return info.Env().Undefined();
  }

  // An unref'd watcher does not keep the process alive on its own.
  Napi::Value UnrefLoop(const Napi::CallbackInfo &info) {
    if (handle_)
      uv_unref(reinterpret_cast<uv_handle_t *>(handle_));
    return info.Env().Undefined();
  }

  Napi::FunctionReference callback_;
  uv_poll_t *handle_ = nullptr;
};

void InitFdWatcher(Napi::Env env, Napi::Object exports) {
  exports.Set("FdWatcher", FdWatcher::Define(env));
}

// binding.h: what the addon's files share.
#ifndef JAIL_BINDING_H
#define JAIL_BINDING_H

#include <napi.h>

// Throws an Error shaped like Node's ErrnoException: code ('EPERM'), errno (negative),
// syscall, and the message "syscall: strerror".
Napi::Error ErrnoError(Napi::Env env, int errnum, const char *syscall);

// The sealed memfd holding jail-helper, created once per process. Returns -errno.
int HelperFd();

// Registers the FdWatcher class on exports.
void InitFdWatcher(Napi::Env env, Napi::Object exports);
void InitListen(Napi::Env env, Napi::Object exports);
void InitReexec(Napi::Env env, Napi::Object exports);
void InitInotify(Napi::Env env, Napi::Object exports);
void InitCgroupRead(Napi::Env env, Napi::Object exports);

#endif

// cgroup-read.cc: one call that reads many cgroup files the caller holds open. A scrape of
// every jail's numbers (ps, stats, metrics) reads 6 to 9 small files a jail; through Node's
// fs each is an open, a read, a read to EOF and a close plus the JavaScript around them,
// ~13 µs a file on a VM where system calls are dear. Here each is one pread(2) at offset 0
// (kernfs regenerates the text at offset 0) parsed in place: ~1 µs.
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"

// What a file holds and which number of it is wanted; the same codes as CgroupFileKind in
// src/native/binding.ts.
enum Kind : uint8_t {
  KIND_NUMBER = 0,         // one unsigned integer: memory.current, memory.usage_in_bytes…
  KIND_USAGE_USEC = 1,     // cpu.stat: "usage_usec N"
  KIND_OOM_KILL = 2,       // memory.events (v2), memory.oom_control (v1): "oom_kill N"
  KIND_NR_DESCENDANTS = 3, // cgroup.stat: "nr_descendants N"
  KIND_AVG10 = 4,          // *.pressure: "some avg10=X.YY avg60=…"
  KIND_LINES = 5,          // cgroup.procs: how many lines (one pid each)
};

// The value of the line "KEY N" of a flat-keyed file, or NAN.
static double keyed(const char *text, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = text; *line != '\0';) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(line + klen + 1, &end, 10);
      return (errno == 0 && end != line + klen + 1) ? static_cast<double>(v) : NAN;
    }
    const char *nl = strchr(line, '\n');
    if (nl == nullptr)
      break;
    line = nl + 1;
  }
  return NAN;
}

static double parse(Kind kind, const char *text) {
  char *end;
  switch (kind) {
  case KIND_NUMBER: {
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    return (errno == 0 && end != text) ? static_cast<double>(v) : NAN; // "max" is no number
  }
  case KIND_USAGE_USEC:
    return keyed(text, "usage_usec");
  case KIND_OOM_KILL:
    return keyed(text, "oom_kill");
  case KIND_NR_DESCENDANTS:
    return keyed(text, "nr_descendants");
  case KIND_AVG10: {
    static const char prefix[] = "some avg10=";
    if (strncmp(text, prefix, sizeof(prefix) - 1) != 0)
      return NAN;
    double v = strtod(text + sizeof(prefix) - 1, &end);
    return end != text + sizeof(prefix) - 1 ? v : NAN;
  }
  case KIND_LINES:
    break; // counted while reading
  }
  return NAN;
}

// The number one file gives, or NAN when it cannot be read (the cgroup was removed: ENODEV).
static double readOne(int fd, Kind kind) {
  char buf[4096];
  if (kind == KIND_LINES) {
    // A list of any length: read it through, counting newlines.
    double lines = 0;
    for (off_t off = 0;;) {
      ssize_t n = pread(fd, buf, sizeof(buf), off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return NAN;
      if (n == 0)
        return lines;
      for (ssize_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
      off += n;
    }
  }
  ssize_t n;
  do
    n = pread(fd, buf, sizeof(buf) - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return NAN;
  buf[n] = '\0'; // every number wanted is in the first 4 KiB of its file
  return parse(kind, buf);
}

// cgroupReadNumbers(fds: Int32Array, kinds: Uint8Array, out: Float64Array): out[i] is the
// number of file fds[i] read as kinds[i], NaN when it has none (a negative fd: not held).
static Napi::Value CgroupReadNumbers(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray())
    throw Napi::TypeError::New(env, "cgroupReadNumbers(fds: Int32Array, kinds: Uint8Array, out: Float64Array)");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>(), k = info[1].As<Napi::TypedArray>(), o = info[2].As<Napi::TypedArray>();
  if (a.TypedArrayType() != napi_int32_array || k.TypedArrayType() != napi_uint8_array || o.TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "cgroupReadNumbers(fds: Int32Array, kinds: Uint8Array, out: Float64Array)");
  Napi::Int32Array fds = a.As<Napi::Int32Array>();
  Napi::Uint8Array kinds = k.As<Napi::Uint8Array>();
  Napi::Float64Array out = o.As<Napi::Float64Array>();
  size_t n = fds.ElementLength();
  if (kinds.ElementLength() != n || out.ElementLength() != n)
    throw Napi::RangeError::New(env, "cgroupReadNumbers: fds, kinds and out must have one element per file");
  for (size_t i = 0; i < n; i++) {
    if (kinds[i] > KIND_LINES)
      throw Napi::RangeError::New(env, "cgroupReadNumbers: unknown kind " + std::to_string(kinds[i]));
    out[i] = fds[i] < 0 ? NAN : readOne(fds[i], static_cast<Kind>(kinds[i]));
  }
  return env.Undefined();
}

void InitCgroupRead(Napi::Env env, Napi::Object exports) {
  exports.Set("cgroupReadNumbers", Napi::Function::New<CgroupReadNumbers>(env, "cgroupReadNumbers"));
}

// helper-memfd.cc: jail-helper lives inside the addon (embedded by native/tools/embed.js)
// and is exec'd from a sealed memfd: there is no file on disk for a jail to overwrite
// (runc's CVE-2019-5736), and the helper always matches the addon that launches it.
#include <errno.h>
#include <fcntl.h>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>

#include "binding.h"

extern "C" const unsigned char jail_helper_blob[];
extern "C" const unsigned char jail_helper_blob_end[];

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static int CreateHelperFd() {
  // MFD_EXEC matters where vm.memfd_noexec defaults memfds to non-executable; kernels
  // before 6.3 do not know it and say EINVAL.
  int fd = memfd_create("jail-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (fd < 0 && errno == EINVAL)
    fd = memfd_create("jail-helper", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -errno;
  const unsigned char *p = jail_helper_blob;
  while (p < jail_helper_blob_end) {
    ssize_t n = write(fd, p, jail_helper_blob_end - p);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      return -err;
    }
    p += n;
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
  return fd;
}

int HelperFd() {
  // One per process: every addon instance (main thread, workers) shares it. Only success
  // is kept: a transient EMFILE or ENOMEM must not disable launching for good.
  static std::mutex lock;
  static int fd = -1;
  std::lock_guard<std::mutex> guard(lock);
  if (fd < 0) {
    int r = CreateHelperFd();
    if (r < 0)
      return r;
    fd = r;
  }
  return fd;
}

/* pack_util.c - see pack_util.h. */
#include "pack_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

pv_status pv__read_file(const char *root, const char *rel, uint64_t max_bytes, uint8_t **buf,
                        size_t *len, char *err, size_t cap) {
  *buf = NULL;
  *len = 0;
  char *path = join(root, rel);
  if (!path) return PV_ERR_NOMEM;
  pv_status st = PV_OK;
  /* O_NONBLOCK: a FIFO by an image's name must not block the build in
   * open(2); it is then refused as not a regular file. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    snprintf(err, cap, "cannot open: %s", strerror(errno));
    free(path);
    return PV_ERR_IO;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    snprintf(err, cap, "not a regular file");
    st = PV_ERR_IO;
    goto out;
  }
  if (max_bytes && (uint64_t)sb.st_size > max_bytes) {
    snprintf(err, cap, "file is %lld bytes, over the limit %llu", (long long)sb.st_size,
             (unsigned long long)max_bytes);
    st = PV_ERR_LIMIT;
    goto out;
  }
  size_t n = (size_t)sb.st_size;
  uint8_t *b = malloc(n ? n : 1);
  if (!b) {
    snprintf(err, cap, "out of memory reading %zu bytes", n);
    st = PV_ERR_NOMEM;
    goto out;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, b + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      snprintf(err, cap, "read error: %s", r < 0 ? strerror(errno) : "file shrank while reading");
      free(b);
      st = PV_ERR_IO;
      goto out;
    }
    got += (size_t)r;
  }
  *buf = b;
  *len = n;
out:
  close(fd);
  free(path);
  return st;
}

int pv__create_file(const char *dir, const char *name, char *err, size_t cap) {
  char *p = join(dir, name);
  if (!p) return -1;
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) snprintf(err, cap, "%s: %s", p, strerror(errno));
  free(p);
  return fd;
}

pv_status pv__write_all(int fd, const void *buf, size_t n, uint64_t *offset, char *err, size_t cap) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      snprintf(err, cap, "write failed: %s", w < 0 ? strerror(errno) : "no progress");
      return PV_ERR_IO;
    }
    p += w;
    n -= (size_t)w;
    *offset += (uint64_t)w;
  }
  return PV_OK;
}

pv_status pv__fsync_close(int fd, char *err, size_t cap) {
  int a = fsync(fd), e = errno;
  int b = close(fd);
  if (a != 0 || b != 0) {
    snprintf(err, cap, "fsync/close failed: %s", strerror(a != 0 ? e : errno));
    return PV_ERR_IO;
  }
  return PV_OK;
}

pv_status pv__fsync_path(const char *dir, const char *name, char *err, size_t cap) {
  char *p = name ? join(dir, name) : strdup(dir);
  if (!p) return PV_ERR_NOMEM;
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  pv_status st = PV_OK;
  if (fd < 0 || fsync(fd) != 0) {
    snprintf(err, cap, "fsync %s: %s", p, strerror(errno));
    st = PV_ERR_IO;
  }
  if (fd >= 0) close(fd);
  free(p);
  return st;
}

FILE *pv__fopen_in(const char *dir, const char *name, char *err, size_t cap) {
  char *p = join(dir, name);
  if (!p) return NULL;
  FILE *f = fopen(p, "wbx");
  if (!f) snprintf(err, cap, "%s: %s", p, strerror(errno));
  free(p);
  return f;
}

pv_status pv__make_tmpdir(const char *out_dir, char **tmp, char *err, size_t cap) {
  size_t n = strlen(out_dir);
  while (n > 1 && out_dir[n - 1] == '/') n--;
  char *t = malloc(n + 16);
  if (!t) return PV_ERR_NOMEM;
  memcpy(t, out_dir, n);
  memcpy(t + n, ".tmp-XXXXXX", 12);
  if (!mkdtemp(t)) {
    snprintf(err, cap, "cannot create a temporary directory next to %s: %s", out_dir,
             strerror(errno));
    free(t);
    return PV_ERR_IO;
  }
  *tmp = t;
  return PV_OK;
}

static pv_status fsync_parent(const char *path, char *err, size_t cap) {
  char *c = strdup(path);
  if (!c) return PV_ERR_NOMEM;
  pv_status st = pv__fsync_path(dirname(c), NULL, err, cap);
  free(c);
  return st;
}

pv_status pv__commit_dir(const char *tmp, const char *out_dir, int force, char *err, size_t cap) {
  pv_status st;
  if ((st = pv__fsync_path(tmp, NULL, err, cap)) != PV_OK) return st;
  if (rename(tmp, out_dir) == 0) return fsync_parent(out_dir, err, cap);
  if (!force || (errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR && errno != EISDIR)) {
    snprintf(err, cap, "cannot move the build into %s: %s", out_dir, strerror(errno));
    return errno == EEXIST || errno == ENOTEMPTY ? PV_ERR_EXISTS : PV_ERR_IO;
  }
  /* --force: move the old output aside, put the new one in place, then
   * delete the old one; at every instant one complete dataset is at a
   * well-known name. */
  size_t n = strlen(out_dir);
  char *old = malloc(n + 16);
  if (!old) return PV_ERR_NOMEM;
  snprintf(old, n + 16, "%s.old-XXXXXX", out_dir);
  if (!mkdtemp(old) || rmdir(old) != 0 || rename(out_dir, old) != 0) {
    snprintf(err, cap, "cannot move the old %s aside: %s", out_dir, strerror(errno));
    free(old);
    return PV_ERR_IO;
  }
  if (rename(tmp, out_dir) != 0) {
    snprintf(err, cap, "cannot move the build into %s: %s", out_dir, strerror(errno));
    rename(old, out_dir);
    free(old);
    return PV_ERR_IO;
  }
  st = fsync_parent(out_dir, err, cap);
  pv__remove_tree(old);
  free(old);
  return st;
}

int pv__remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path);
  DIR *d = opendir(path);
  if (!d) return -1;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *c = join(path, e->d_name);
    if (!c || pv__remove_tree(c) != 0) rc = -1;
    free(c);
  }
  closedir(d);
  return rmdir(path) == 0 ? rc : -1;
}

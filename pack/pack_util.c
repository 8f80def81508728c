/* pack_util.c - see pack_util.h. */
#include "pack_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pv_format.h"

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

void pv__file_stamp_of(const struct stat *sb, pv__file_stamp *stamp) {
  stamp->size = (uint64_t)sb->st_size;
  stamp->mtime_sec = (uint64_t)sb->st_mtim.tv_sec;
  stamp->mtime_nsec = (uint32_t)sb->st_mtim.tv_nsec;
  stamp->present = 1;
}

pv_status pv__read_file(const char *root, const char *rel, uint64_t max_bytes, uint8_t **buf,
                        size_t *len, char *err, size_t cap) {
  return pv__read_file_stamped(root, rel, max_bytes, buf, len, NULL, err, cap);
}

pv_status pv__read_file_stamped(const char *root, const char *rel, uint64_t max_bytes,
                                uint8_t **buf, size_t *len, pv__file_stamp *stamp, char *err,
                                size_t cap) {
  *buf = NULL;
  *len = 0;
  if (stamp) memset(stamp, 0, sizeof *stamp);
  char *path = join(root, rel);
  if (!path) return PV_ERR_NOMEM;
  pv_status st = PV_OK;
  /* O_NONBLOCK: a FIFO by an image's name must not block the build in
   * open(2); it is then refused as not a regular file. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat sb;
  if (fd < 0) {
    snprintf(err, cap, "cannot open: %s", strerror(errno));
    if (stamp && stat(path, &sb) == 0) pv__file_stamp_of(&sb, stamp); /* there, unreadable */
    free(path);
    return PV_ERR_IO;
  }
  int stat_rc = fstat(fd, &sb);
  if (stat_rc == 0 && stamp) pv__file_stamp_of(&sb, stamp);
  if (stat_rc != 0 || !S_ISREG(sb.st_mode)) {
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

pv_status pv__mkdir_if_missing(const char *dir, char *err, size_t cap) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
    struct stat sb;
    if (lstat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return PV_OK;
    snprintf(err, cap, "%s exists and is not a directory", dir);
    return PV_ERR_IO;
  }
  snprintf(err, cap, "cannot create %s: %s", dir, strerror(errno));
  return PV_ERR_IO;
}

int pv__create_file(const char *dir, const char *name, char *err, size_t cap) {
  char *p = join(dir, name);
  if (!p) return -1;
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666); /* less the umask */
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

/* ---- temporary directory and commit ----------------------------------------- */

/* mkdtemp() creates mode 0700 whatever the umask, and the directory keeps
 * that mode when it is renamed into place; mkdir(0777) applies the umask
 * like any other directory the user creates. The name is unique the way
 * mkdtemp's is: random letters, retried on EEXIST. */
pv_status pv__make_tmpdir(const char *out_dir, char **tmp, char *err, size_t cap) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  size_t n = strlen(out_dir);
  while (n > 1 && out_dir[n - 1] == '/') n--;
  char *t = malloc(n + 16);
  if (!t) return PV_ERR_NOMEM;
  memcpy(t, out_dir, n);
  memcpy(t + n, ".tmp-", 5);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 12) ^
               (uint64_t)(uintptr_t)t;
  for (int attempt = 0; attempt < 1000; attempt++) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int k = 0; k < 6; k++, z /= 62) t[n + 5 + k] = abc[z % 62];
    t[n + 11] = 0;
    if (mkdir(t, 0777) == 0) {
      *tmp = t;
      return PV_OK;
    }
    if (errno != EEXIST) break;
  }
  snprintf(err, cap, "cannot create a temporary directory next to %s: %s", out_dir,
           strerror(errno));
  free(t);
  return PV_ERR_IO;
}

static pv_status fsync_parent(const char *path, char *err, size_t cap) {
  char *c = strdup(path);
  if (!c) return PV_ERR_NOMEM;
  pv_status st = pv__fsync_path(dirname(c), NULL, err, cap);
  free(c);
  return st;
}

pv_status pv__commit_dir(const char *tmp, const char *out_dir, int force, char **leftover,
                         char *err, size_t cap) {
  pv_status st;
  *leftover = NULL;
  if ((st = pv__fsync_path(tmp, NULL, err, cap)) != PV_OK) return st;
  if (rename(tmp, out_dir) == 0) return fsync_parent(out_dir, err, cap);
  if (!force || (errno != EEXIST && errno != ENOTEMPTY && errno != ENOTDIR && errno != EISDIR)) {
    snprintf(err, cap, "cannot move the build into %s: %s", out_dir, strerror(errno));
    return errno == EEXIST || errno == ENOTEMPTY ? PV_ERR_EXISTS : PV_ERR_IO;
  }
  /* --force: checked before the build started; checked again here, since
   * the directory may have changed in the meantime. */
  char why[512];
  if (!pv__is_dataset_dir(out_dir, why, sizeof why)) {
    snprintf(err, cap, "refusing to replace %s: %s", out_dir, why);
    return PV_ERR_EXISTS;
  }
  /* Move the old dataset aside, put the new one in place, then delete the
   * old one; at every instant one complete dataset is at a well-known name. */
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
  if (pv__remove_dataset_dir(old) != 0)
    *leftover = old; /* something that is not ours appeared in it: keep it */
  else
    free(old);
  return st;
}

int pv__is_dataset_dir(const char *dir, char *why, size_t cap) {
  struct stat sb;
  if (lstat(dir, &sb) != 0) {
    snprintf(why, cap, "%s", strerror(errno));
    return 0;
  }
  if (S_ISLNK(sb.st_mode)) {
    snprintf(why, cap, "it is a symbolic link");
    return 0;
  }
  if (!S_ISDIR(sb.st_mode)) {
    snprintf(why, cap, "it is not a directory");
    return 0;
  }
  pv__dir_scan s;
  if (pv__scan_dir(dir, &s, why, cap) != PV_OK) return 0;
  if (s.other[0]) {
    char w[300];
    snprintf(w, sizeof w, "it holds '%s', which pvpack build does not write", s.other);
    snprintf(why, cap, "%s", w);
    return 0;
  }
  if (!s.index_ok) {
    snprintf(why, cap, s.has_index ? "its %s is not a pvpack index" : "it has no %s",
             PV_INDEX_FILENAME);
    return 0;
  }
  return 1;
}

int pv__remove_dataset_dir(const char *dir) {
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (dfd < 0) return errno == ENOENT ? 0 : -1;
  DIR *d = fdopendir(dfd);
  if (!d) {
    close(dfd);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat sb;
    if (pv__is_dataset_file_name(e->d_name) &&
        fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
      unlinkat(dfd, e->d_name, 0);
  }
  closedir(d);
  return rmdir(dir);
}

/* ---- where the output may go ------------------------------------------------- */

/* Is st the same file as path or as one of the directories above it? path
 * is absolute and resolved (realpath), so its prefixes are its ancestors. */
static int chain_has(const char *path, const struct stat *st) {
  size_t n = strlen(path);
  char *p = malloc(n + 2);
  if (!p) return 0;
  int hit = 0;
  for (size_t i = 1; i <= n && !hit; i++) {
    if (i < n && path[i] != '/') continue;
    memcpy(p, path, i);
    p[i] = 0;
    struct stat x;
    if (stat(p, &x) == 0 && x.st_dev == st->st_dev && x.st_ino == st->st_ino) hit = 1;
  }
  struct stat root;
  if (!hit && stat("/", &root) == 0 && root.st_dev == st->st_dev && root.st_ino == st->st_ino)
    hit = 1;
  free(p);
  return hit;
}

/* Is `inner` (resolved) equal to `outer` or below it, as strings? */
static int path_within(const char *inner, const char *outer) {
  size_t n = strlen(outer);
  if (n == 1 && outer[0] == '/') return 1;
  return !strncmp(inner, outer, n) && (inner[n] == 0 || inner[n] == '/');
}

static pv_status check_output(const char *src_abs, const char *out_dir, int force,
                              int relation_only, char *err, size_t cap) {
  struct stat src_st, out_lst, out_st;
  char *out_real = NULL, *copy = NULL;
  pv_status st = PV_OK;
  if (stat(src_abs, &src_st) != 0) {
    snprintf(err, cap, "%s: %s", src_abs, strerror(errno));
    return PV_ERR_IO;
  }
  int exists = lstat(out_dir, &out_lst) == 0;
  if (!exists && errno != ENOENT) {
    snprintf(err, cap, "%s: %s", out_dir, strerror(errno));
    return PV_ERR_IO;
  }
  int followed = exists && stat(out_dir, &out_st) == 0;
  if (followed) {
    out_real = realpath(out_dir, NULL);
  } else if (!exists) {
    /* OUT does not exist yet: resolve its parent, then append its name. */
    copy = strdup(out_dir);
    if (!copy) return PV_ERR_NOMEM;
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
    if (slash) *slash = 0;
    char *pr = realpath(parent, NULL);
    if (!pr) {
      snprintf(err, cap, "%s: the folder it goes in: %s", out_dir, strerror(errno));
      st = errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
      goto out;
    }
    size_t need = strlen(pr) + strlen(base) + 2;
    out_real = malloc(need);
    if (out_real) snprintf(out_real, need, "%s%s%s", pr, strcmp(pr, "/") ? "/" : "", base);
    free(pr);
  }
  if ((exists && followed && !out_real) || (!exists && !out_real)) {
    snprintf(err, cap, "%s: %s", out_dir, out_real ? "cannot resolve" : strerror(errno));
    st = PV_ERR_IO;
    goto out;
  }
  /* Whatever the flags: never write over or around the source. */
  if (followed && ((out_st.st_dev == src_st.st_dev && out_st.st_ino == src_st.st_ino) ||
                   !strcmp(out_real, src_abs))) {
    snprintf(err, cap, "refusing to write to %s: it is the source folder %s", out_dir, src_abs);
    st = PV_ERR_INVALID_ARG;
    goto out;
  }
  if (followed && (chain_has(src_abs, &out_st) || path_within(src_abs, out_real))) {
    snprintf(err, cap,
             "refusing to write to %s: it is a folder above the source %s, which replacing it "
             "would delete",
             out_dir, src_abs);
    st = PV_ERR_INVALID_ARG;
    goto out;
  }
  if (out_real && (chain_has(out_real, &src_st) || path_within(out_real, src_abs))) {
    snprintf(err, cap,
             "refusing to write to %s: it lies inside the source %s (it would become a class "
             "folder of the ImageFolder)",
             out_dir, src_abs);
    st = PV_ERR_INVALID_ARG;
    goto out;
  }
  if (relation_only) goto out;
  if (exists && !force) {
    snprintf(err, cap, "%s already exists (use --force to replace it)", out_dir);
    st = PV_ERR_EXISTS;
    goto out;
  }
  if (exists) {
    char why[512];
    if (!pv__is_dataset_dir(out_dir, why, sizeof why)) {
      snprintf(err, cap,
               "refusing to replace %s: %s; --force replaces only a pvpack dataset (%s, "
               "shard-NNNNN.pvs and %s, nothing else)",
               out_dir, why, PV_INDEX_FILENAME, PV_REPORT_FILENAME);
      st = PV_ERR_EXISTS;
      goto out;
    }
  }
out:
  free(out_real);
  free(copy);
  return st;
}

pv_status pv__check_output(const char *src_abs, const char *out_dir, int force, char *err,
                           size_t cap) {
  return check_output(src_abs, out_dir, force, 0, err, cap);
}

pv_status pv__check_output_place(const char *src_abs, const char *out_dir, char *err, size_t cap) {
  return check_output(src_abs, out_dir, 0, 1, err, cap);
}

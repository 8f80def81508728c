/* dataset_dir.c - see dataset_dir.h. Moved here from pack/pack_util.c
 * unchanged. */
#include "dataset_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pv_format.h"

/* ---- what a dataset directory may hold -------------------------------------- */

/* "shard-NNNNN.pvs" exactly as PV_SHARD_NAME_FMT writes it for some
 * uint32_t: at least five digits, no sign, no extra leading zeros. */
static int is_shard_name(const char *name) {
  if (strncmp(name, "shard-", 6) != 0) return 0;
  const char *d = name + 6;
  uint64_t v = 0;
  size_t k = 0;
  while (d[k] >= '0' && d[k] <= '9') {
    v = v * 10 + (uint64_t)(d[k] - '0');
    if (++k > 10 || v > UINT32_MAX) return 0;
  }
  if (k == 0 || strcmp(d + k, ".pvs") != 0) return 0;
  char back[32];
  snprintf(back, sizeof back, PV_SHARD_NAME_FMT, (unsigned)v);
  return strcmp(back, name) == 0;
}

int pv__is_dataset_file_name(const char *name) {
  return !strcmp(name, PV_INDEX_FILENAME) || !strcmp(name, PV_REPORT_FILENAME) ||
         is_shard_name(name);
}

/* Appends a printable rendering of name (control bytes as '?') to why. */
static void name_into(char *why, size_t cap, const char *fmt, const char *name) {
  char safe[128];
  size_t k = 0;
  for (; name[k] && k + 1 < sizeof safe; k++)
    safe[k] = (unsigned char)name[k] < 0x20 || name[k] == 0x7f ? '?' : name[k];
  safe[k] = 0;
  snprintf(why, cap, fmt, safe);
}

pv_status pv__scan_dir(const char *dir, pv__dir_scan *s, char *why, size_t cap) {
  memset(s, 0, sizeof *s);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    snprintf(why, cap, "cannot open: %s", strerror(errno));
    return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  DIR *d = fdopendir(dfd);
  if (!d) {
    snprintf(why, cap, "cannot read: %s", strerror(errno));
    close(dfd);
    return PV_ERR_IO;
  }
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d)) != NULL) {
    const char *nm = e->d_name;
    if (!strcmp(nm, ".") || !strcmp(nm, "..")) continue;
    s->entries++;
    struct stat sb;
    int known = pv__is_dataset_file_name(nm);
    int reg = fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
    if (is_shard_name(nm)) s->shards++;
    if (!strcmp(nm, PV_INDEX_FILENAME)) {
      s->has_index = 1;
      /* Followed here (the reader follows it too); O_NONBLOCK: a FIFO, or
       * one swapped in after the fstatat, cannot hang us. */
      int fd = openat(dfd, nm, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
      char magic[8];
      struct stat fs;
      if (fd >= 0 && fstat(fd, &fs) == 0 && S_ISREG(fs.st_mode) &&
          pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
          !memcmp(magic, PV_INDEX_MAGIC, sizeof magic)) {
        s->index_magic = 1;
        /* The same file as the entry itself: no link on the way. */
        s->index_ok = reg && fs.st_dev == sb.st_dev && fs.st_ino == sb.st_ino;
      }
      if (fd >= 0) close(fd);
    }
    if ((!known || !reg) && !s->other[0])
      name_into(s->other, sizeof s->other, known ? "%s (not a regular file)" : "%s", nm);
    errno = 0;
  }
  int rerr = errno;
  closedir(d);
  if (rerr) {
    snprintf(why, cap, "cannot read: %s", strerror(rerr));
    return PV_ERR_IO;
  }
  return PV_OK;
}

/* pack_util.h - file-system helpers for the packer (internal to pack/).
 * Every function reports failures as a status plus a one-line reason that
 * names the path. Depends on: libc (POSIX). Thread-safety: reentrant. */
#ifndef PV_PACK_UTIL_H
#define PV_PACK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pv_status.h"

/* Reads root/rel entirely. Files larger than max_bytes are refused with
 * PV_ERR_LIMIT before reading. Returns PV_OK, PV_ERR_IO, PV_ERR_LIMIT,
 * PV_ERR_NOMEM; *buf is malloc'ed (non-NULL even for an empty file). */
pv_status pv__read_file(const char *root, const char *rel, uint64_t max_bytes, uint8_t **buf,
                        size_t *len, char *err, size_t cap);

/* Creates dir/name exclusively (mode 0644); returns an fd or -1. */
int pv__create_file(const char *dir, const char *name, char *err, size_t cap);
/* Writes all n bytes, retrying short writes; advances *offset. */
pv_status pv__write_all(int fd, const void *buf, size_t n, uint64_t *offset, char *err, size_t cap);
/* fsync then close (closes even on failure). */
pv_status pv__fsync_close(int fd, char *err, size_t cap);
/* Opens dir/name and fsyncs it. */
pv_status pv__fsync_path(const char *dir, const char *name, char *err, size_t cap);
/* fopen(dir/name, "wb"), NULL with err set on failure. */
FILE *pv__fopen_in(const char *dir, const char *name, char *err, size_t cap);

/* Creates a fresh temporary directory next to out_dir (same file system,
 * so the final rename is atomic): "<out_dir>.tmp-XXXXXX". */
pv_status pv__make_tmpdir(const char *out_dir, char **tmp, char *err, size_t cap);
/* Moves the finished tmp directory to out_dir. With force, an existing
 * out_dir is first renamed aside and removed only after the new one is in
 * place. fsyncs the parent directory. */
pv_status pv__commit_dir(const char *tmp, const char *out_dir, int force, char *err, size_t cap);
/* Removes a directory tree (no symlinks followed). Returns 0 on success. */
int pv__remove_tree(const char *path);

#endif

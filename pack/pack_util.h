/* pack_util.h - file-system helpers for the packer (internal to pack/).
 * Every function reports failures as a status plus a one-line reason that
 * names the path. Depends on: libc (POSIX). Thread-safety: reentrant. */
#ifndef PV_PACK_UTIL_H
#define PV_PACK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dataset_dir.h"
#include "pv_status.h"

/* Reads root/rel entirely. Files larger than max_bytes are refused with
 * PV_ERR_LIMIT before reading. Returns PV_OK, PV_ERR_IO, PV_ERR_LIMIT,
 * PV_ERR_NOMEM; *buf is malloc'ed (non-NULL even for an empty file). */
pv_status pv__read_file(const char *root, const char *rel, uint64_t max_bytes, uint8_t **buf,
                        size_t *len, char *err, size_t cap);

/* What a part's plan records of a source file, to tell a changed file:
 * its size and modification time (all zero, present 0, for a file that
 * could not be stat'ed). */
typedef struct pv__file_stamp {
  uint64_t size, mtime_sec;
  uint32_t mtime_nsec, present;
} pv__file_stamp;

struct stat;
/* The stamp of what stat(2) returned (present = 1). */
void pv__file_stamp_of(const struct stat *sb, pv__file_stamp *stamp);

/* pv__read_file, also filling *stamp (when not NULL) from the fstat of the
 * file it read (zeroed when it could not be opened or stat'ed). */
pv_status pv__read_file_stamped(const char *root, const char *rel, uint64_t max_bytes,
                                uint8_t **buf, size_t *len, pv__file_stamp *stamp, char *err,
                                size_t cap);

/* Creates dir/name exclusively (mode 0666 less the umask, as open(2) and
 * fopen would); returns an fd or -1. */
int pv__create_file(const char *dir, const char *name, char *err, size_t cap);
/* Writes all n bytes, retrying short writes; advances *offset. */
pv_status pv__write_all(int fd, const void *buf, size_t n, uint64_t *offset, char *err, size_t cap);
/* fsync then close (closes even on failure). */
pv_status pv__fsync_close(int fd, char *err, size_t cap);
/* Opens dir/name and fsyncs it. */
pv_status pv__fsync_path(const char *dir, const char *name, char *err, size_t cap);
/* fopen(dir/name, "wbx") (exclusive, mode 0666 less the umask), NULL with
 * err set on failure. */
FILE *pv__fopen_in(const char *dir, const char *name, char *err, size_t cap);

/* mkdir(dir) (0777 less the umask) unless it exists as a directory;
 * PV_OK, or PV_ERR_IO (not a directory, or mkdir failed) with err set. */
pv_status pv__mkdir_if_missing(const char *dir, char *err, size_t cap);

/* Creates a fresh temporary directory next to out_dir (same file system,
 * so the final rename is atomic): "<out_dir>.tmp-XXXXXX", with mode 0777
 * less the umask (unlike mkdtemp's 0700), so the dataset it becomes has the
 * permissions of any directory the user creates. */
pv_status pv__make_tmpdir(const char *out_dir, char **tmp, char *err, size_t cap);
/* Moves the finished tmp directory to out_dir. With force, an existing
 * out_dir must still pass pv__is_dataset_dir (else PV_ERR_EXISTS); it is
 * renamed aside, the new one put in place, then the old one's dataset files
 * are unlinked and its directory removed (pv__remove_dataset_dir). When that
 * directory cannot be removed (something else appeared in it), *leftover
 * receives its malloc'ed path and it is kept; otherwise *leftover = NULL.
 * fsyncs the parent directory. */
pv_status pv__commit_dir(const char *tmp, const char *out_dir, int force, char **leftover,
                         char *err, size_t cap);

/* ---- the output rule: pvpack never deletes or overwrites what it did not
 * write ---- */

/* pv__is_dataset_file_name, pv__scan_dir: dataset_dir.h (platform/). */

/* 1 when dir is a real directory (not a symlink) holding only files a
 * build writes (pv__is_dataset_file_name, regular files), including an
 * index.pvi that starts with the index magic; else 0 with why set to a
 * reason such as "it holds 'notes.txt', which pvpack build does not write". */
int pv__is_dataset_dir(const char *dir, char *why, size_t cap);

/* Unlinks the regular files of dir that a build writes, then rmdir(dir):
 * never a recursive delete, so anything else keeps dir (and itself) alive.
 * Returns 0 when dir is gone (or was never there), -1 otherwise. */
int pv__remove_dataset_dir(const char *dir);

/* Where `pvpack build` may write (src_abs: realpath of the source).
 * Whatever force says, refuses with PV_ERR_INVALID_ARG an out_dir that is
 * the source, a folder above it, or a path inside it (compared both as
 * resolved paths and by st_dev/st_ino along the chain of parents, so
 * symlinks and bind mounts do not hide the relation). Then an existing
 * out_dir gives PV_ERR_EXISTS without force, and with force unless
 * pv__is_dataset_dir accepts it. An out_dir that does not exist must have
 * an existing parent (else PV_ERR_NOT_FOUND). err names the path and why. */
pv_status pv__check_output(const char *src_abs, const char *out_dir, int force, char *err,
                           size_t cap);

/* The placement half of pv__check_output alone: out_dir (existing or not,
 * an absent one needs an existing parent) is not the source, above it or
 * inside it. Whether it exists and what it holds is the caller's business
 * (a part of a build writes into an OUT that other parts share). */
pv_status pv__check_output_place(const char *src_abs, const char *out_dir, char *err, size_t cap);

#endif

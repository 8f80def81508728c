/* walk.h - ImageFolder discovery with torchvision's semantics (internal).
 *
 * Classes are the subdirectories of the root (symlinks to directories count,
 * as os.scandir(...).is_dir() follows them), sorted by name in byte order
 * (Python's sorted() on str equals UTF-8 byte order), labels 0..C-1.
 * Files are found recursively under each class directory, following
 * symlinked directories like os.walk(followlinks=True), visited in the order
 * torchvision's make_dataset yields them: for each class in label order, the
 * directories of the walk sorted by their full path string, and within one
 * directory the file names sorted. A file is a sample when its name ends,
 * case-insensitively, in one of .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff
 * .webp. Files directly in the root are ignored.
 *
 * We do better than os.walk on loops: a symlinked directory that resolves to
 * a directory already on the current path (an ancestor) is not entered again,
 * and a warning names it. A symlink to a directory elsewhere is walked (its
 * files appear under both paths, as torchvision yields them).
 *
 * Non-directory entries (os.walk's filenames) are samples when they are
 * regular files or symlinks to regular files. An entry with an image
 * extension that is a broken symlink, a fifo, a socket or a device is
 * skipped with a warning naming it (torchvision would list it and then fail
 * to load it). Names are ordered as Python orders str: by code point, after
 * decoding the bytes as UTF-8 with surrogateescape (for valid UTF-8 this is
 * plain byte order; an undecodable byte b sorts as U+DC00+b).
 * A directory that cannot be opened or read, or whose path would exceed
 * PATH_MAX, is skipped with a warning (os.walk skips it silently).
 *
 * Suspicious classes are warned about, never dropped (labels must equal
 * torchvision's): hidden folders (name starting with '.', e.g.
 * .ipynb_checkpoints) and classes with no image files (torchvision's
 * allow_empty=True behaviour: the label is kept).
 *
 * Depends on: libc (POSIX opendir/readdir/stat). Thread-safety: reentrant.
 * Memory: O(number of files) for the list itself (paths are stored once).
 */
#ifndef PV_WALK_H
#define PV_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

typedef struct pv_walk_file {
  const char *relpath; /* path relative to the root, '/'-separated, e.g.
                          "cat/sub/img1.JPEG"; points into the result */
  uint32_t label;      /* class index */
} pv_walk_file;

typedef struct pv_walk_result {
  char **classes;         /* class_count names in label order */
  uint32_t class_count;
  pv_walk_file *files;    /* file_count entries in torchvision order */
  size_t file_count;
  uint64_t *class_file_count; /* per class, files found */
  void *arena__;          /* internal storage */
} pv_walk_result;

/* warn(ctx, message) is called once per warning (one line, no newline),
 * e.g. "class '.ipynb_checkpoints' is a hidden folder" or
 * "symlink loop: 'cat/loop' points back to 'cat'; not followed".
 * warn may be NULL.
 * Returns PV_OK; PV_ERR_NOT_FOUND when root does not exist or is not a
 * directory; PV_ERR_EMPTY when root has no class folder; PV_ERR_IO for an
 * unreadable root; PV_ERR_NOMEM. Unreadable subdirectories produce a warning
 * and are skipped (os.walk ignores them too). err receives context. */
pv_status pv__walk_imagefolder(const char *root, pv_walk_result *out,
                               void (*warn)(void *ctx, const char *msg),
                               void *ctx, char *err, size_t errcap);

void pv__walk_free(pv_walk_result *r); /* accepts a zeroed or filled result */

/* Copies len bytes of s and a NUL into r's string storage (created on first
 * use, freed by pv__walk_free), for a result built from a saved listing
 * (plan_file.c) rather than a walk. NULL when out of memory. */
char *pv__walk_strdup(pv_walk_result *r, const char *s, size_t len);

/* True when name has one of the ImageFolder extensions (case-insensitive). */
int pv__has_image_extension(const char *name);

#endif /* PV_WALK_H */

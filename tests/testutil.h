/* testutil.h - fixtures shared by the cmocka suites: temporary directories
 * and synthetic images encoded in-process (no files outside the checkout). */
#ifndef PV_TESTUTIL_H
#define PV_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'ed path. */
char *pvt_mkdtemp(const char *tag);
/* rm -rf path (no shell). Returns 0 on success. */
int pvt_rmrf(const char *path);
/* mkdir -p for the directory part of path (and path itself if is_dir). */
int pvt_mkdirs(const char *path, int is_dir);
/* Writes len bytes to path (creating parent folders). 0 on success. */
int pvt_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file; returns malloc'ed bytes or NULL. */
uint8_t *pvt_read_file(const char *path, size_t *len);
/* path = dir + "/" + rel, malloc'ed. */
char *pvt_join(const char *dir, const char *rel);

/* A deterministic smooth-plus-detail RGB test pattern (w*h*3 bytes, malloc'ed);
 * seed varies it. Smooth enough that JPEG keeps it recognisable. */
uint8_t *pvt_pattern_rgb(uint32_t w, uint32_t h, uint32_t seed);
/* Encodes RGB pixels as a baseline JPEG (TurboJPEG, 4:2:0). Returns malloc'ed
 * bytes (free with free()) and their length. */
uint8_t *pvt_encode_jpeg(const uint8_t *rgb, uint32_t w, uint32_t h, int quality,
                         size_t *len);
/* Writes a synthetic JPEG/PNG of w x h to path; 0 on success. */
int pvt_write_jpeg(const char *path, uint32_t w, uint32_t h, uint32_t seed, int quality);
int pvt_write_png(const char *path, uint32_t w, uint32_t h, uint32_t seed);

/* Writes n synthetic JPEGs (quality q) as src/class<i % classes>/img<i>.jpg,
 * image i of (w0 + 37 i mod wspan) x (h0 + 53 i mod hspan) pixels with
 * pattern seed i: varied sizes and aspect ratios for the loader suites.
 * 0 on success. */
int pvt_write_jpeg_tree(const char *src, int n, int classes, uint32_t w0, uint32_t wspan,
                        uint32_t h0, uint32_t hspan, int quality);
/* pv_build(src, out) with default options except codec (a PV_PACK_CODEC_*)
 * and shard_bytes (0 = default), with no progress and no log output.
 * Returns pv_build's status (a pv_status). */
int pvt_build_quiet(const char *src, const char *out, int codec, uint64_t shard_bytes);

/* A packed dataset of pvt_write_jpeg_tree images (n images, `classes`
 * classes, sizes w0 + 37 i mod wspan by h0 + 53 i mod hspan, quality 90),
 * opened, in a fresh temporary directory: the fixture of the loader-level
 * suites. pvt_ds_fixture_free closes it and removes the directory. */
typedef struct pv_dataset pv_dataset;
typedef struct pvt_ds_fixture {
  char *root, *src, *ds_dir;
  pv_dataset *ds;
} pvt_ds_fixture;
pvt_ds_fixture *pvt_ds_fixture_new(const char *tag, int n, int classes, uint32_t w0,
                                   uint32_t wspan, uint32_t h0, uint32_t hspan);
void pvt_ds_fixture_free(pvt_ds_fixture *f);

/* Runs the pvpack CLI (from $PVPACK_BIN) with a shell-free argv; captures
 * stdout+stderr into *output (malloc'ed, may be NULL). Returns exit code,
 * or -1 if it could not run / was killed by a signal. */
int pvt_run_cli(char **output, const char *const argv[]);

#endif

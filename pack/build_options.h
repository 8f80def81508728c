/* build_options.h - the table of pv_build_options (internal to pack/).
 *
 * One row per option, in `pvpack build --help` order; the columns are those
 * of format/option_table.h plus `key`, the option's name in the options
 * section the packer writes into every index (spec/FORMAT.md, "options"),
 * or NULL for the options that do not change the bytes written (threads,
 * strict, force, progress). From this table come pv_build_options_init,
 * pv_build_options_check (the range checks of pv_build), the options text,
 * the `pvpack build` flags and --help (programs/build.c, through
 * pv_build_option_info) and the keywords of Python's pvpack.build().
 *
 * The options text is pinned (tests/test_golden.c): a row with a key must
 * keep its key, position and number formatting; a new row that changes the
 * bytes written gets a key and goes where the spec says.
 */
#ifndef PV_BUILD_OPTIONS_H
#define PV_BUILD_OPTIONS_H

#include "option_table.h"
#include "pv_pack.h"

/* X(name, field, group, ctype, kind, def, min, max, choices, flags, arg, help, key) */
#define PV__BUILD_OPTIONS(X)                                                                      \
  X(resize, resize, NULL, pv_resize_policy, CHOICE, PV_RESIZE_SHORTER, 0, 0,                      \
    pv__resize_choices, PV_OPTION_CLI, "POLICY",                                                  \
    "the side that size sets: the shorter one (torchvision's Resize(N)), the longer one, or "     \
    "none (keep the source resolution)",                                                          \
    "resize")                                                                                     \
  X(size, resize_to, NULL, uint32_t, INT, 256, 1, 65500, NULL, PV_OPTION_CLI, "N",                \
    "the resize policy's target, in pixels", "resize_to")                                         \
  X(filter, filter, NULL, int, CHOICE, PV_FILTER_BILINEAR, 0, 0, pv__filter_choices,              \
    PV_OPTION_CLI, "F", "the resampling filter (bilinear is torchvision's)", "filter")            \
  X(codec, codec, NULL, int, CHOICE, PV_PACK_CODEC_JPEG, 0, 0, pv__pack_codec_choices,            \
    PV_OPTION_CLI, "C",                                                                           \
    "how records are stored; auto: zstd for images whose raw RGB size is at most "               \
    "auto_threshold bytes, jpeg for the others",                                                  \
    "codec")                                                                                      \
  X(auto_threshold, auto_threshold, NULL, uint32_t, BYTES, 65536, 0, UINT32_MAX, NULL,            \
    PV_OPTION_CLI, "BYTES", "codec auto: zstd when the raw RGB size is at most this",            \
    "auto_threshold")                                                                             \
  X(quality, jpeg_quality, NULL, int, INT, 90, 1, 100, NULL, PV_OPTION_CLI, "Q", "JPEG quality", \
    "jpeg_quality")                                                                               \
  X(jpeg_restart, jpeg_restart, NULL, uint32_t, INT, 4, 0, 65535, NULL, PV_OPTION_CLI, "N",       \
    "restart markers every <= N MCUs (a divisor of the MCU row, at most a sixteenth of it), so "  \
    "that crops decode only what they cover; 0 = none",                                           \
    "jpeg_restart")                                                                               \
  X(zstd_level, zstd_level, NULL, int, INT, 3, 1, 22, NULL, PV_OPTION_CLI, "L", "zstd level",     \
    "zstd_level")                                                                                 \
  X(keep_original, keep_original, NULL, int, BOOL, 1, 0, 1, NULL, PV_OPTION_CLI, NULL,            \
    "store a source JPEG byte for byte when it needs no resize and no colour conversion",        \
    "keep_original")                                                                              \
  X(shard_size, shard_bytes, NULL, uint64_t, BYTES, 256ull << 20, 4096, UINT64_MAX, NULL,         \
    PV_OPTION_CLI, "BYTES", "target shard size", "shard_bytes")                                   \
  X(shuffle, shuffle, NULL, int, BOOL, 1, 0, 1, NULL, PV_OPTION_CLI, NULL,                        \
    "shuffle the record order (seeded) instead of keeping torchvision's", "shuffle")              \
  X(seed, seed, NULL, uint64_t, INT, 0, 0, UINT64_MAX, NULL, PV_OPTION_CLI, "S", "shuffle seed",  \
    "seed")                                                                                       \
  X(threads, threads, NULL, int, INT, 0, 0, 1024, NULL, PV_OPTION_CLI, "N",                       \
    "worker threads; 0 = the CPUs this process may use (affinity mask and cgroup CPU quota)",    \
    NULL)                                                                                         \
  X(max_pixels, max_pixels, NULL, uint64_t, INT, 178956970ull, 0, UINT64_MAX, NULL,               \
    PV_OPTION_CLI, "N",                                                                           \
    "skip images of more pixels (the default is where PIL refuses: 2 x its MAX_IMAGE_PIXELS)",   \
    "max_pixels")                                                                                 \
  X(max_file_size, max_file_bytes, NULL, uint64_t, BYTES, 1ull << 30, 0, UINT64_MAX, NULL,        \
    PV_OPTION_CLI, "BYTES", "skip larger files", "max_file_bytes")                                \
  X(exif_orientation, apply_exif_orientation, NULL, int, BOOL, 0, 0, 1, NULL, PV_OPTION_CLI,      \
    NULL, "apply the EXIF orientation (torchvision does not)", "exif_orientation")                \
  X(strict, strict, NULL, int, BOOL, 0, 0, 1, NULL, PV_OPTION_CLI, NULL,                          \
    "fail on the first skipped file", NULL)                                                       \
  X(force, force, NULL, int, BOOL, 0, 0, 1, NULL, PV_OPTION_CLI, NULL,                            \
    "replace an existing output directory if it is a pvpack dataset (only its index.pvi, "        \
    "shard-NNNNN.pvs and report.txt); the output may never be the source, above it or inside it", \
    NULL)                                                                                         \
  X(progress, progress, NULL, int, CHOICE, -1, 0, 0, pv__progress_choices, PV_OPTION_CLI, "MODE", \
    "progress on stderr; auto: a bar on a terminal, else lines", NULL)

/* The options section of the index (key=value lines), malloc'ed; NULL on
 * allocation failure. */
char *pv__build_options_text(const pv_build_options *o, const char *src_abs);

#endif /* PV_BUILD_OPTIONS_H */

/* loader_options.h - the table of pv_loader_options (internal to reader/).
 *
 * One row per option a person sets (not size, allocator), columns as in
 * format/option_table.h. From it come pv_loader_options_init, the range
 * checks of pv_loader_options_check (pv_loader_create), the `pvpack bench`
 * flags and --help (the rows flagged PV_OPTION_CLI), and the keywords of
 * Python's pvpack.Loader (python/pvpack/_loader.py, which documents where
 * its keywords differ on purpose: device, output, dtype names...).
 */
#ifndef PV_LOADER_OPTIONS_H
#define PV_LOADER_OPTIONS_H

#include <float.h>

#include "option_table.h"
#include "pvpack.h"

/* X(name, field, group, ctype, kind, def, min, max, choices, flags, arg, help) */
#define PV__LOADER_OPTIONS(X)                                                                     \
  X(batch_size, batch_size, NULL, uint32_t, INT, 256, 1, 1u << 20, NULL, PV_OPTION_CLI, "N",      \
    "samples per batch")                                                                          \
  X(height, height, "size", uint32_t, INT, 224, 1, 16384, NULL, PV_OPTION_CLI, "N",               \
    "output size: height and width")                                                              \
  X(width, width, "size", uint32_t, INT, 224, 1, 16384, NULL, PV_OPTION_CLI, "N",                 \
    "output width")                                                                               \
  X(pipeline, pipeline, NULL, pv_pipeline, CHOICE, PV_PIPELINE_TRAIN, 0, 0, pv__pipeline_choices, \
    PV_OPTION_CLI, "P",                                                                           \
    "train: RandomResizedCrop(size, scale, ratio) + horizontal flip; eval: "                      \
    "Resize(eval_resize) + CenterCrop(size); none: the whole record resized to size")             \
  X(eval_resize, eval_resize, NULL, uint32_t, INT, 256, 0, UINT32_MAX, NULL, 0, "N",              \
    "eval: the Resize() target (0 = none, a plain center crop), at most max(4096, 4 x the "       \
    "longer output side)")                                                                        \
  X(scale_min, scale_min, "scale", double, FLOAT, 0.08, 0.0, 1.0, NULL, 0, "MIN,MAX",             \
    "train: RandomResizedCrop's scale range, 0 < min <= max <= 1")                                \
  X(scale_max, scale_max, "scale", double, FLOAT, 1.0, 0.0, 1.0, NULL, 0, "MAX",                  \
    "train: the largest scale")                                                                   \
  X(ratio_min, ratio_min, "ratio", double, FLOAT, 3.0 / 4.0, 0.0, DBL_MAX, NULL, 0, "MIN,MAX",    \
    "train: RandomResizedCrop's aspect ratio range, 0 < min <= max")                              \
  X(ratio_max, ratio_max, "ratio", double, FLOAT, 4.0 / 3.0, 0.0, DBL_MAX, NULL, 0, "MAX",        \
    "train: the largest aspect ratio")                                                            \
  X(flip_prob, flip_prob, NULL, double, FLOAT, 0.5, 0.0, 1.0, NULL, 0, "P",                       \
    "train: the horizontal flip probability")                                                     \
  X(filter, filter, NULL, int, CHOICE, PV_FILTER_BILINEAR, 0, 0, pv__filter_choices, 0, "F",      \
    "the resampling filter (bilinear is torchvision's)")                                          \
  X(threads, threads, NULL, int, INT, 0, 0, 1024, NULL, PV_OPTION_CLI, "N",                       \
    "worker threads; 0 = the CPUs this process may use (affinity mask and cgroup CPU quota)")    \
  X(prefetch, prefetch, NULL, uint32_t, INT, 4, 1, 1024, NULL, PV_OPTION_CLI, "N",                \
    "batch buffers in the ring")                                                                  \
  X(seed, seed, NULL, uint64_t, INT, 0, 0, UINT64_MAX, NULL, PV_OPTION_CLI, "S",                  \
    "seeds the shuffle and every augmentation draw")                                              \
  X(epoch, epoch, NULL, uint64_t, INT, 0, 0, UINT64_MAX, NULL, 0, "E", "the first epoch")         \
  X(start_batch, start_batch, NULL, uint64_t, INT, 0, 0, UINT64_MAX, NULL, 0, "B",                \
    "resume: the first batch of that epoch")                                                      \
  X(drop_last, drop_last, NULL, int, BOOL, 0, 0, 1, NULL, 0, NULL,                                \
    "drop this rank's last incomplete batch")                                                     \
  X(order, order, NULL, pv_order, CHOICE, PV_ORDER_SHUFFLE, 0, 0, pv__order_choices,              \
    PV_OPTION_CLI, "O",                                                                           \
    "shuffle: a new permutation every epoch; sequential: record order; blocks: shuffled "         \
    "blocks of neighbouring records, for data larger than memory")                                \
  X(block_records, block_records, NULL, uint32_t, INT, 1024, 0, UINT32_MAX, NULL, 0, "N",         \
    "blocks: records per block (>= 1)")                                                           \
  X(block_group, block_group, NULL, uint32_t, INT, 16, 0, UINT32_MAX, NULL, 0, "N",               \
    "blocks: blocks interleaved at once (>= 1)")                                                  \
  X(rank, rank, NULL, int, INT, -1, -1, INT32_MAX, NULL, 0, "R",                                  \
    "this process's share, DistributedSampler-style; -1 = from RANK (else 0)")                    \
  X(world_size, world_size, NULL, int, INT, -1, -1, INT32_MAX, NULL, 0, "W",                      \
    "the number of shares; -1 = from WORLD_SIZE (else 1)")                                        \
  X(rank_drop, rank_drop, NULL, int, BOOL, 0, 0, 1, NULL, 0, NULL,                                \
    "drop the tail so that every rank gets the same count (DistributedSampler(drop_last=True)) " \
    "instead of padding by repeating from the start")                                             \
  X(rank_unrepeated, rank_unrepeated, NULL, int, BOOL, 0, 0, 1, NULL, 0, NULL,                    \
    "every sample exactly once across the ranks, counts differing by at most one (Lightning's "   \
    "UnrepeatedDistributedSampler, for evaluation); not with rank_drop")                          \
  X(layout, layout, NULL, pv_layout, CHOICE, PV_LAYOUT_NHWC, 0, 0, pv__layout_choices,            \
    PV_OPTION_CLI, "L", "the image layout of a batch")                                            \
  X(dtype, dtype, NULL, pv_dtype, CHOICE, PV_DTYPE_UINT8, 0, 0, pv__dtype_choices,                \
    PV_OPTION_CLI, "D", "the element type of a batch; float32 is normalized by mean and std")    \
  X(mean, mean, NULL, float, FLOAT3, (PV_IMAGENET_MEAN), -FLT_MAX, FLT_MAX, NULL, 0, "R,G,B",     \
    "float32: (x / 255 - mean) / std per channel (torchvision's Normalize after ToTensor)")      \
  X(std, std, NULL, float, FLOAT3, (PV_IMAGENET_STD), -FLT_MAX, FLT_MAX, NULL, 0, "R,G,B",        \
    "float32: the divisor, each > 0")                                                             \
  X(on_error, on_error, NULL, pv_on_error, CHOICE, PV_ON_ERROR_FAIL, 0, 0, pv__on_error_choices,  \
    0, "E",                                                                                       \
    "fail: the error names shard, record and source; replace: use the next record instead "       \
    "(deterministic) and count it")                                                               \
  X(verify_checksums, verify_checksums, NULL, int, BOOL, 0, 0, 1, NULL, PV_OPTION_CLI, NULL,      \
    "check each record's XXH3 before decoding it")                                                \
  X(jpeg_decode, jpeg_decode, NULL, pv_jpeg_decode, CHOICE, PV_JPEG_DECODE_AUTO, 0, 0,            \
    pv__jpeg_decode_choices, PV_OPTION_CLI, "M",                                                  \
    "JPEG records: accurate (the integer IDCT and fancy upsampling, PIL's decode) or fast "       \
    "(libjpeg's fast IDCT and plain upsampling); auto: fast for train, accurate for "             \
    "eval and none")

#endif /* PV_LOADER_OPTIONS_H */

/* loader_options.c - pv_loader_options from its table (loader_options.h):
 * the defaults, the checks of pv_loader_create, the descriptors. */
#include "loader_options.h"

#include <stdio.h>
#include <string.h>

#include "resample.h"

static const pv_option_choice pv__pipeline_choices[] = {
    {"train", PV_PIPELINE_TRAIN}, {"eval", PV_PIPELINE_EVAL}, {"none", PV_PIPELINE_NONE}, {NULL, 0}};
static const pv_option_choice pv__order_choices[] = {{"shuffle", PV_ORDER_SHUFFLE},
                                                     {"sequential", PV_ORDER_SEQUENTIAL},
                                                     {"blocks", PV_ORDER_BLOCKS},
                                                     {NULL, 0}};
static const pv_option_choice pv__layout_choices[] = {
    {"nhwc", PV_LAYOUT_NHWC}, {"nchw", PV_LAYOUT_NCHW}, {NULL, 0}};
static const pv_option_choice pv__dtype_choices[] = {
    {"uint8", PV_DTYPE_UINT8}, {"float32", PV_DTYPE_FLOAT32}, {NULL, 0}};
static const pv_option_choice pv__jpeg_decode_choices[] = {{"auto", PV_JPEG_DECODE_AUTO},
                                                           {"accurate", PV_JPEG_DECODE_ACCURATE},
                                                           {"fast", PV_JPEG_DECODE_FAST},
                                                           {NULL, 0}};
static const pv_option_choice pv__on_error_choices[] = {
    {"fail", PV_ON_ERROR_FAIL}, {"replace", PV_ON_ERROR_REPLACE}, {NULL, 0}};

#define ROW(name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help) \
  PV__OPTION_ROW(pv_loader_options, name, field, group, ctype, kind, def, lo, hi, ch, fl, arg, help)
static const pv_option_info k_options[] = {PV__LOADER_OPTIONS(ROW)};
#undef ROW
#define N_OPTIONS (sizeof k_options / sizeof *k_options)

PV__OPTION_ACCESSORS(pv_loader, k_options)

void pv_loader_options_init(pv_loader_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  pv__options_init(k_options, N_OPTIONS, o);
}

pv_status pv_loader_options_check(const pv_loader_options *o, char *err, size_t cap) {
  char ebuf[256];
  if (!err || !cap) err = ebuf, cap = sizeof ebuf;
  err[0] = 0;
  if (!o) return PV_ERR_INVALID_ARG;
  pv_status st = pv__options_check(k_options, N_OPTIONS, o, err, cap);
  if (st != PV_OK) return st;
  /* What one field's range cannot say. */
#define BAD(...) return snprintf(err, cap, __VA_ARGS__), PV_ERR_INVALID_ARG
  if (!(o->scale_min > 0 && o->scale_min <= o->scale_max && o->scale_max <= 1.0))
    BAD("scale must satisfy 0 < min <= max <= 1");
  if (!(o->ratio_min > 0 && o->ratio_min <= o->ratio_max)) BAD("ratio must satisfy 0 < min <= max");
  if (o->rank_drop && o->rank_unrepeated) BAD("rank_drop and rank_unrepeated exclude each other");
  if (o->order == PV_ORDER_BLOCKS && (o->block_records == 0 || o->block_group == 0))
    BAD("block_records and block_group must be >= 1");
  if (o->dtype == PV_DTYPE_FLOAT32)
    for (int c = 0; c < 3; c++)
      if (!(o->std[c] > 0)) BAD("std must be > 0");
  if (o->eval_resize > PV_EVAL_RESIZE_MAX(o->height, o->width))
    BAD("eval_resize %u out of range: 0..%llu for a %ux%u output", o->eval_resize,
        (unsigned long long)PV_EVAL_RESIZE_MAX(o->height, o->width), o->height, o->width);
#undef BAD
  return PV_OK;
}

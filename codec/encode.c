/* encode.c - see encode.h. */
#include "encode.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct enc_err {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
} enc_err;

/* A growable memory destination: the buffer survives across images, so a
 * worker's steady state does not allocate for its output. */
typedef struct enc_dest {
  struct jpeg_destination_mgr pub;
  uint8_t *buf;
  size_t cap;
  int oom;
} enc_dest;

struct pv_jpeg_encoder {
  struct jpeg_compress_struct ci;
  enc_err err;
  enc_dest dest;
  int created;
  /* Written by the setjmp-ing function and read after a longjmp: members,
   * not locals (C11 7.13.2.1p3). */
  const uint8_t *rgb;
  size_t stride;
  int failed;
};

static void enc_error_exit(j_common_ptr c) {
  enc_err *e = (enc_err *)c->err;
  (*c->err->format_message)(c, e->msg);
  longjmp(e->jb, 1);
}

static void enc_output_message(j_common_ptr c) { (void)c; }

static void dest_init(j_compress_ptr ci) {
  enc_dest *d = (enc_dest *)ci->dest;
  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = d->cap;
}

static boolean dest_empty(j_compress_ptr ci) {
  enc_dest *d = (enc_dest *)ci->dest;
  /* libjpeg calls this only when the buffer is full (free_in_buffer == 0). */
  size_t ncap = d->cap * 2;
  uint8_t *p = realloc(d->buf, ncap);
  if (!p) {
    d->oom = 1;
    ERREXIT(ci, JERR_OUT_OF_MEMORY);
  }
  d->pub.next_output_byte = p + d->cap;
  d->pub.free_in_buffer = ncap - d->cap;
  d->buf = p;
  d->cap = ncap;
  return TRUE;
}

static void dest_term(j_compress_ptr ci) { (void)ci; }

pv_status pv__jpeg_encoder_create(pv_jpeg_encoder **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  pv_jpeg_encoder *e = calloc(1, sizeof *e);
  if (!e) return PV_ERR_NOMEM;
  e->dest.cap = 64 * 1024;
  if (!(e->dest.buf = malloc(e->dest.cap))) {
    free(e);
    return PV_ERR_NOMEM;
  }
  e->ci.err = jpeg_std_error(&e->err.pub);
  e->err.pub.error_exit = enc_error_exit;
  e->err.pub.output_message = enc_output_message;
  if (setjmp(e->err.jb)) {
    pv__jpeg_encoder_destroy(e);
    return PV_ERR_NOMEM;
  }
  jpeg_create_compress(&e->ci);
  e->created = 1;
  e->dest.pub.init_destination = dest_init;
  e->dest.pub.empty_output_buffer = dest_empty;
  e->dest.pub.term_destination = dest_term;
  e->ci.dest = &e->dest.pub;
  *out = e;
  return PV_OK;
}

void pv__jpeg_encoder_destroy(pv_jpeg_encoder *e) {
  if (!e) return;
  if (e->created) jpeg_destroy_compress(&e->ci);
  free(e->dest.buf);
  free(e);
}

uint32_t pv__jpeg_restart_interval(uint32_t width, uint32_t restart_max) {
  if (!restart_max || !width) return 0;
  const uint32_t mcus = (width + 15) / 16;
  /* At least PV_RESTARTS_PER_ROW intervals per MCU row where the row is
   * that long: a crop is spliced at interval boundaries, so an image a few
   * intervals wide (256 pixels: 16 MCUs, 4 intervals of 4) had nearly every
   * crop decode its whole width. Measured (issue 13, bench/ceiling_bench.py
   * style, 1500 photos, 2 threads): intervals of 1 instead of 4 at longer
   * side 256 load 1.08x faster for 3.4% more bytes; 1 instead of 2 at
   * shorter side 256 (341 wide) 1.05x for 3%. Wide images keep restart_max. */
  uint32_t cap = mcus / PV_RESTARTS_PER_ROW;
  if (cap < 1) cap = 1;
  if (cap > restart_max) cap = restart_max;
  for (uint32_t r = cap; r > 1; r--)
    if (mcus % r == 0) return r;
  return 1;
}

/* The body; every failure longjmps back and sets e->failed. */
static void encode_run(pv_jpeg_encoder *e, uint32_t width, uint32_t height, int quality,
                       uint32_t restart) {
  j_compress_ptr ci = &e->ci;
  if (setjmp(e->err.jb)) {
    e->failed = 1;
    return;
  }
  ci->image_width = width;
  ci->image_height = height;
  ci->input_components = 3;
  ci->in_color_space = JCS_RGB;
  jpeg_set_defaults(ci);
  jpeg_set_quality(ci, quality, TRUE);
  /* tjCompress2 without TJFLAG_ACCURATEDCT: the fast forward DCT, except
   * at quality >= 96 where its error would show. */
  ci->dct_method = quality >= 96 ? JDCT_ISLOW : JDCT_FASTEST;
  jpeg_set_colorspace(ci, JCS_YCbCr);
  ci->comp_info[0].h_samp_factor = 2;
  ci->comp_info[0].v_samp_factor = 2;
  ci->comp_info[1].h_samp_factor = ci->comp_info[1].v_samp_factor = 1;
  ci->comp_info[2].h_samp_factor = ci->comp_info[2].v_samp_factor = 1;
  ci->restart_interval = restart;
  ci->restart_in_rows = 0;
  jpeg_start_compress(ci, TRUE);
  while (ci->next_scanline < ci->image_height) {
    JSAMPROW row = (JSAMPROW)(e->rgb + (size_t)ci->next_scanline * e->stride);
    jpeg_write_scanlines(ci, &row, 1);
  }
  jpeg_finish_compress(ci);
}

pv_status pv__jpeg_encode(pv_jpeg_encoder *e, const uint8_t *rgb, uint32_t width,
                          uint32_t height, size_t stride, int quality, uint32_t restart_max,
                          const uint8_t **data, size_t *len, char *err, size_t cap) {
  if (err && cap) err[0] = 0;
  if (!e || !rgb || !data || !len || !width || !height || width > JPEG_MAX_DIMENSION ||
      height > JPEG_MAX_DIMENSION || quality < 1 || quality > 100 || stride < (size_t)width * 3) {
    if (err && cap) snprintf(err, cap, "jpeg encode: invalid arguments");
    return PV_ERR_INVALID_ARG;
  }
  const uint32_t restart = pv__jpeg_restart_interval(width, restart_max);
  if (restart > 65535) {
    if (err && cap) snprintf(err, cap, "jpeg encode: restart interval %u", restart);
    return PV_ERR_INVALID_ARG;
  }
  e->rgb = rgb;
  e->stride = stride;
  e->failed = 0;
  e->dest.oom = 0;
  encode_run(e, width, height, quality, restart);
  if (e->failed) {
    jpeg_abort_compress(&e->ci);
    if (err && cap) snprintf(err, cap, "jpeg encode: %s", e->err.msg);
    return e->dest.oom ? PV_ERR_NOMEM : PV_ERR_DECODE;
  }
  *data = e->dest.buf;
  *len = e->dest.cap - e->dest.pub.free_in_buffer;
  return PV_OK;
}

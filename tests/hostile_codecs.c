/* hostile_codecs.c - see hostile_codecs.h. */
#include "hostile_codecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include "pv_format.h"
#include "testutil.h"

#define W 96
#define H 64

static pvhp_buf own(uint8_t *p, size_t n) {
  pvhp_buf b = {p, n, n};
  return b;
}

static pvhp_buf copy_of(const pvhp_buf *b, size_t n) {
  pvhp_buf c = {0};
  pvhp_put(&c, b->p, n < b->n ? n : b->n);
  return c;
}

/* A JPEG of the test pattern through TurboJPEG with pixel format pf and
 * subsampling samp (TJPF_CMYK: the pattern's bytes as CMYK). */
static pvhp_buf tj_jpeg(uint32_t w, uint32_t h, int pf, int samp) {
  uint8_t *rgb = pvt_pattern_rgb(w, h * 2, 9); /* enough bytes for 4 channels */
  if (!rgb) abort();
  tjhandle t = tjInitCompress();
  unsigned char *out = NULL;
  unsigned long n = 0;
  if (!t || tjCompress2(t, rgb, (int)w, 0, (int)h, pf, &out, &n, samp, 90, 0) != 0) abort();
  pvhp_buf b = {0};
  pvhp_put(&b, out, n);
  tjFree(out);
  tjDestroy(t);
  free(rgb);
  return b;
}

/* Offset just past the SOS segment of a JPEG (the first byte of its
 * entropy-coded data). */
static size_t scan_start(const pvhp_buf *j) {
  for (size_t i = 2; i + 3 < j->n; i++)
    if (j->p[i] == 0xFF && j->p[i + 1] == 0xDA) return i + 2 + ((size_t)j->p[i + 2] << 8 | j->p[i + 3]);
  abort();
}

/* A zstd frame of `bytes` bytes of pattern with a content checksum. */
static pvhp_buf zstd_checked(size_t bytes) {
  uint8_t *src = pvt_pattern_rgb((uint32_t)(bytes / 3), 1, 4);
  if (!src) abort();
  pvhp_buf b = {0};
  b.cap = ZSTD_compressBound(bytes);
  if (!(b.p = malloc(b.cap))) abort();
  ZSTD_CCtx *c = ZSTD_createCCtx();
  if (!c) abort();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
  b.n = ZSTD_compress2(c, b.p, b.cap, src, bytes);
  if (ZSTD_isError(b.n)) abort();
  ZSTD_freeCCtx(c);
  free(src);
  return b;
}

typedef struct list {
  pvhc_case *c;
  size_t n, cap;
} list;

static pvhc_case *add(list *l, const char *name, uint8_t codec, uint32_t w, uint32_t h,
                      pvhp_buf payload, pv_status want) {
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 32;
    if (!(l->c = realloc(l->c, l->cap * sizeof *l->c))) abort();
  }
  pvhc_case *c = &l->c[l->n++];
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->codec = codec;
  c->width = w;
  c->height = h;
  c->payload = payload;
  pv_limits_init(&c->limits);
  c->want = want;
  return c;
}

/* A case read with limits: pv_limits_init's, changed by the caller. */
static pv_limits *limited(pvhc_case *c) {
  c->limited = 1;
  return &c->limits;
}

size_t pvhc_cases(pvhc_case **out) {
  list l = {0};
  const size_t bytes = (size_t)W * H * 3;
  /* ---- raw: its only rule (length = w*h*3) is the format's, checked at
   * open; what reaches a decoder is the limits. */
  uint8_t *rgb = pvt_pattern_rgb(W, H, 2);
  if (!rgb) abort();
  pvhp_buf raw = own(rgb, bytes);
  add(&l, "raw-ok", PV_CODEC_RAW, W, H, copy_of(&raw, bytes), PV_OK);
  limited(add(&l, "raw-over-pixels", PV_CODEC_RAW, W, H, copy_of(&raw, bytes), PV_ERR_LIMIT))
      ->max_record_pixels = (uint64_t)W * H - 1;
  limited(add(&l, "raw-over-bytes", PV_CODEC_RAW, W, H, copy_of(&raw, bytes), PV_ERR_LIMIT))
      ->max_record_bytes = bytes - 1;
  limited(add(&l, "raw-at-limits", PV_CODEC_RAW, W, H, copy_of(&raw, bytes), PV_OK))
      ->max_record_pixels = (uint64_t)W * H;
  /* One row of 65500 pixels: what `pvpack build` keeps of a 65500x1 file. */
  uint8_t *wide = pvt_pattern_rgb(65500, 1, 3);
  if (!wide) abort();
  add(&l, "raw-65500x1", PV_CODEC_RAW, 65500, 1, own(wide, 65500 * 3), PV_OK);
  free(raw.p);

  /* ---- JPEG */
  size_t jn;
  uint8_t *rgb2 = pvt_pattern_rgb(W, H, 5);
  if (!rgb2) abort();
  uint8_t *jp = pvt_encode_jpeg(rgb2, W, H, 90, &jn);
  if (!jp) abort();
  free(rgb2);
  pvhp_buf jpg = own(jp, jn);
  add(&l, "jpeg-ok", PV_CODEC_JPEG, W, H, copy_of(&jpg, jn), PV_OK);
  add(&l, "jpeg-gray", PV_CODEC_JPEG, W, H, tj_jpeg(W, H, TJPF_RGB, TJSAMP_GRAY), PV_OK);
  /* Four components (YCCK): no RGB output. */
  add(&l, "jpeg-cmyk", PV_CODEC_JPEG, W, H, tj_jpeg(W, H, TJPF_CMYK, TJSAMP_444), PV_ERR_DECODE);
  {
    pvhp_buf g = {0};
    for (int i = 0; i < 300; i++) pvhp_put8(&g, (unsigned)(i * 37 + 11) & 0xFF);
    add(&l, "jpeg-garbage", PV_CODEC_JPEG, W, H, g, PV_ERR_DECODE);
  }
  add(&l, "jpeg-truncated-header", PV_CODEC_JPEG, W, H, copy_of(&jpg, 40), PV_ERR_DECODE);
  add(&l, "jpeg-truncated-scan", PV_CODEC_JPEG, W, H, copy_of(&jpg, scan_start(&jpg) + 16),
      PV_ERR_DECODE);
  add(&l, "jpeg-wider-than-table", PV_CODEC_JPEG, W - 16, H, copy_of(&jpg, jn), PV_ERR_DECODE);
  add(&l, "jpeg-taller-than-table", PV_CODEC_JPEG, W, H + 8, copy_of(&jpg, jn), PV_ERR_DECODE);
  limited(add(&l, "jpeg-over-pixels", PV_CODEC_JPEG, W, H, copy_of(&jpg, jn), PV_ERR_LIMIT))
      ->max_record_pixels = (uint64_t)W * H - 1;
  limited(add(&l, "jpeg-over-bytes", PV_CODEC_JPEG, W, H, copy_of(&jpg, jn), PV_ERR_LIMIT))
      ->max_record_bytes = jn - 1;
  add(&l, "jpeg-20-scans", PV_CODEC_JPEG, 256, 192, pvhp_jpeg_scans(256, 192, 20, 0), PV_OK);
  limited(add(&l, "jpeg-20-scans-max-10", PV_CODEC_JPEG, 256, 192,
              pvhp_jpeg_scans(256, 192, 20, 0), PV_ERR_LIMIT))
      ->max_scans = 10;
  add(&l, "jpeg-2001-scans", PV_CODEC_JPEG, 512, 512, pvhp_jpeg_scans(512, 512, 2001, 0),
      PV_ERR_LIMIT);
  /* An 8.6 GB coefficient buffer declared in a few hundred bytes. */
  add(&l, "jpeg-progressive-65500", PV_CODEC_JPEG, 65500, 65500,
      pvhp_jpeg_scans(65500, 65500, 1, 1), PV_ERR_LIMIT);
  /* 2048x2048 progressive: 8 MiB of coefficients, over 6 MiB. */
  limited(add(&l, "jpeg-progressive-memory", PV_CODEC_JPEG, 2048, 2048,
              pvhp_jpeg_scans(2048, 2048, 2, 0), PV_ERR_LIMIT))
      ->max_decoder_memory = 6u << 20;
  free(jpg.p);

  /* ---- zstd */
  add(&l, "zstd-ok", PV_CODEC_ZSTD, W, H, pvhp_zstd_frame(bytes, 1), PV_OK);
  add(&l, "zstd-ok-checksum", PV_CODEC_ZSTD, W, H, zstd_checked(bytes), PV_OK);
  {
    pvhp_buf g = {0};
    for (int i = 0; i < 300; i++) pvhp_put8(&g, (unsigned)(i * 91 + 3) & 0xFF);
    add(&l, "zstd-garbage", PV_CODEC_ZSTD, W, H, g, PV_ERR_DECODE);
  }
  {
    pvhp_buf z = pvhp_zstd_frame(bytes, 1);
    add(&l, "zstd-truncated", PV_CODEC_ZSTD, W, H, copy_of(&z, z.n / 2), PV_ERR_DECODE);
    free(z.p);
  }
  {
    pvhp_buf z = zstd_checked(bytes);
    z.p[z.n - 1] ^= 0x5A; /* the content checksum */
    add(&l, "zstd-bad-checksum", PV_CODEC_ZSTD, W, H, z, PV_ERR_DECODE);
  }
  {
    pvhp_buf z = zstd_checked(bytes);
    z.p[z.n / 2] ^= 0xFF; /* inside the compressed block */
    add(&l, "zstd-corrupt-block", PV_CODEC_ZSTD, W, H, z, PV_ERR_DECODE);
  }
  {
    pvhp_buf z = pvhp_zstd_frame(bytes, 1), e = pvhp_zstd_frame(0, 1);
    pvhp_put(&z, e.p, e.n);
    free(e.p);
    add(&l, "zstd-second-frame", PV_CODEC_ZSTD, W, H, z, PV_ERR_DECODE);
  }
  {
    pvhp_buf z = pvhp_zstd_frame(bytes, 1);
    pvhp_put_skippable(&z);
    add(&l, "zstd-trailing-skippable", PV_CODEC_ZSTD, W, H, z, PV_ERR_DECODE);
  }
  add(&l, "zstd-no-content-size", PV_CODEC_ZSTD, W, H, pvhp_zstd_frame(bytes, 0), PV_ERR_DECODE);
  add(&l, "zstd-content-too-small", PV_CODEC_ZSTD, W, H, pvhp_zstd_frame(bytes - 3, 1),
      PV_ERR_DECODE);
  add(&l, "zstd-block-over-window", PV_CODEC_ZSTD, 1000, 200,
      pvhp_zstd_zeros_ex(200000 * 3, 0, 16, 128u << 10), PV_ERR_DECODE);
  limited(add(&l, "zstd-over-bytes", PV_CODEC_ZSTD, W, H, pvhp_zstd_frame(bytes, 1),
              PV_ERR_LIMIT))
      ->max_record_bytes = 10;
  /* 12.9 GB of zeros in 393 KB. */
  add(&l, "zstd-65500", PV_CODEC_ZSTD, 65500, 65500, pvhp_zstd_zeros(65500ull * 65500 * 3, 1),
      PV_ERR_LIMIT);
  /* Single segment: a 12 MiB window, over 8 MiB of decoder memory. */
  limited(add(&l, "zstd-window-memory", PV_CODEC_ZSTD, 2048, 2048,
              pvhp_zstd_zeros(2048ull * 2048 * 3, 1), PV_ERR_LIMIT))
      ->max_decoder_memory = 8u << 20;
  *out = l.c;
  return l.n;
}

void pvhc_free(pvhc_case *c, size_t n) {
  if (!c) return;
  for (size_t i = 0; i < n; i++) free(c[i].payload.p);
  free(c);
}

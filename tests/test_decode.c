/* test_decode.c - codec/decode.c: sniffing, every source format, EXIF
 * orientation, DCT scaling, limits and hostile input.
 *
 * Every fixture is encoded in-process: JPEG with TurboJPEG and the libjpeg
 * API, PNG with libspng's encoder, WebP with libwebp's encoder, TIFF with
 * libtiff (through a temporary file), BMP and PNM written byte by byte.
 * Lossless formats must decode exactly; JPEG must decode bit-exactly like
 * TurboJPEG (same library, ISLOW DCT, fancy upsampling: what PIL uses).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <spng.h>
#include <tiffio.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include "decode.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static pv_decode_opts opts0(void) {
  pv_decode_opts o;
  memset(&o, 0, sizeof o);
  return o;
}

/* Mean and max absolute difference between two buffers. */
static double mean_diff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd) {
  uint64_t s = 0;
  int m = 0;
  for (size_t i = 0; i < n; i++) {
    int d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    s += (uint64_t)d;
    if (d > m) m = d;
  }
  if (maxd) *maxd = m;
  return n ? (double)s / (double)n : 0.0;
}

/* Smooth gradients (no hard edges), so that a lossy codec's mean error is
 * small and a channel swap or a row mix-up shows plainly. */
static uint8_t *smooth_rgb(uint32_t w, uint32_t h) {
  uint8_t *p = malloc((size_t)w * h * 3);
  assert_non_null(p);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t)y * w + x) * 3;
      q[0] = (uint8_t)(20 + x * 200u / w);
      q[1] = (uint8_t)(30 + y * 190u / h);
      q[2] = (uint8_t)(220 - (x + y) * 180u / (w + h));
    }
  return p;
}

/* Decodes with the given options and asserts success. */
static pv_image decode_ok(const uint8_t *buf, size_t len, const pv_decode_opts *o) {
  pv_image img;
  char err[256] = "";
  pv_status st = pv__decode_image(buf, len, o, &img, err, sizeof err);
  if (st != PV_OK) print_error("decode failed: %s (%s)\n", pv_status_name(st), err);
  assert_int_equal(st, PV_OK);
  assert_non_null(img.pixels);
  return img;
}

/* Asserts that decoding fails with st, leaves no pixels and explains. */
static void decode_fails(const uint8_t *buf, size_t len, const pv_decode_opts *o, pv_status want,
                         const char *needle) {
  pv_image img;
  memset(&img, 0xAB, sizeof img);
  char err[256] = "";
  pv_status st = pv__decode_image(buf, len, o, &img, err, sizeof err);
  if (st != want) print_error("got %s (%s), want %s\n", pv_status_name(st), err,
                              pv_status_name(want));
  assert_int_equal(st, want);
  assert_null(img.pixels);
  assert_true(err[0] != '\0');
  assert_null(strchr(err, '\n'));
  if (needle && !strstr(err, needle)) {
    print_error("message '%s' lacks '%s'\n", err, needle);
    fail();
  }
}

/* TurboJPEG's decode at w x h (a DCT scale when smaller than the image). */
static uint8_t *tj_decode(const uint8_t *jpg, size_t n, int w, int h, int pf) {
  tjhandle t = tjInitDecompress();
  assert_non_null(t);
  uint8_t *px = malloc((size_t)w * h * (size_t)tjPixelSize[pf]);
  assert_non_null(px);
  assert_int_equal(tjDecompress2(t, jpg, (unsigned long)n, px, w, 0, h, pf, 0), 0);
  tjDestroy(t);
  return px;
}

static uint8_t *tj_encode(const uint8_t *px, int w, int h, int pf, int samp, int q, int flags,
                          size_t *len) {
  tjhandle t = tjInitCompress();
  assert_non_null(t);
  unsigned char *out = NULL;
  unsigned long sz = 0;
  assert_int_equal(tjCompress2(t, px, w, 0, h, pf, &out, &sz, samp, q, flags), 0);
  tjDestroy(t);
  uint8_t *copy = malloc(sz);
  assert_non_null(copy);
  memcpy(copy, out, sz);
  tjFree(out);
  *len = sz;
  return copy;
}

/* libjpeg API encoder for what TurboJPEG cannot ask for: restart markers,
 * arithmetic coding, an APP1 segment, plain CMYK. */
typedef struct jenc {
  J_COLOR_SPACE in_cs, jpeg_cs;
  int comps, quality, restart_rows, arith, progressive;
  const uint8_t *app1;
  size_t app1_len;
} jenc;

static uint8_t *jpeg_encode(const uint8_t *px, int w, int h, const jenc *e, size_t *len) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr jerr;
  unsigned char *out = NULL;
  unsigned long sz = 0;
  c.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &out, &sz);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = e->comps;
  c.in_color_space = e->in_cs;
  jpeg_set_defaults(&c);
  if (e->jpeg_cs != JCS_UNKNOWN) jpeg_set_colorspace(&c, e->jpeg_cs);
  jpeg_set_quality(&c, e->quality ? e->quality : 90, TRUE);
  if (e->restart_rows) c.restart_in_rows = e->restart_rows;
  if (e->arith) c.arith_code = TRUE;
  if (e->progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (e->app1) jpeg_write_marker(&c, JPEG_APP0 + 1, e->app1, (unsigned)e->app1_len);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * (size_t)w * (size_t)e->comps);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  uint8_t *copy = malloc(sz);
  assert_non_null(copy);
  memcpy(copy, out, sz);
  free(out);
  *len = sz;
  return copy;
}

/* Adobe-style (inverted) CMYK from RGB, the conversion of libjpeg-turbo's
 * cmyk.h, so that R = C*K/255 gives the colour back. */
static uint8_t *rgb_to_inverted_cmyk(const uint8_t *rgb, size_t n) {
  uint8_t *o = malloc(n * 4);
  assert_non_null(o);
  for (size_t i = 0; i < n; i++) {
    double c = 1.0 - rgb[3 * i] / 255.0, m = 1.0 - rgb[3 * i + 1] / 255.0,
           y = 1.0 - rgb[3 * i + 2] / 255.0;
    double k = c < m ? (c < y ? c : y) : (m < y ? m : y);
    if (k >= 1.0) c = m = y = 0.0;
    else {
      c = (c - k) / (1.0 - k);
      m = (m - k) / (1.0 - k);
      y = (y - k) / (1.0 - k);
    }
    o[4 * i] = (uint8_t)(255.0 - c * 255.0 + 0.5);
    o[4 * i + 1] = (uint8_t)(255.0 - m * 255.0 + 0.5);
    o[4 * i + 2] = (uint8_t)(255.0 - y * 255.0 + 0.5);
    o[4 * i + 3] = (uint8_t)(255.0 - k * 255.0 + 0.5);
  }
  return o;
}

/* PIL: "CMYK;I" unpack then cmyk2rgb (Convert.c), written out independently. */
static void pil_cmyk_to_rgb(const uint8_t *raw, uint8_t *rgb, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int C = 255 - raw[4 * i], M = 255 - raw[4 * i + 1], Y = 255 - raw[4 * i + 2],
        K = 255 - raw[4 * i + 3];
    int nk = 255 - K, in[3] = {C, M, Y};
    for (int c = 0; c < 3; c++) {
      int tmp = in[c] * nk + 128;
      int v = nk - (((tmp >> 8) + tmp) >> 8);
      rgb[3 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

/* A minimal APP1 "Exif" payload holding only IFD0/Orientation. */
static size_t exif_app1(uint8_t *b, int orientation, int big_endian) {
  static const uint8_t le[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,
                               1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                               0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  memcpy(b, big_endian ? be : le, sizeof le);
  b[6 + 8 + 2 + 8 + (big_endian ? 1 : 0)] = (uint8_t)orientation;
  return sizeof le;
}

/* PIL's exif_transpose, pixel by pixel from the definition: the source
 * pixel shown at (ox, oy) of the output. */
static void ref_orient(const uint8_t *in, uint32_t W, uint32_t H, int o, uint8_t *out) {
  uint32_t ow = o >= 5 ? H : W, oh = o >= 5 ? W : H;
  for (uint32_t oy = 0; oy < oh; oy++)
    for (uint32_t ox = 0; ox < ow; ox++) {
      uint32_t x, y;
      switch (o) {
      case 2: x = W - 1 - ox; y = oy; break;
      case 3: x = W - 1 - ox; y = H - 1 - oy; break;
      case 4: x = ox; y = H - 1 - oy; break;
      case 5: x = oy; y = ox; break;
      case 6: x = oy; y = H - 1 - ox; break;
      case 7: x = W - 1 - oy; y = H - 1 - ox; break;
      case 8: x = W - 1 - oy; y = ox; break;
      default: x = ox; y = oy; break;
      }
      memcpy(out + ((size_t)oy * ow + ox) * 3, in + ((size_t)y * W + x) * 3, 3);
    }
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void put32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static void put16le(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

typedef struct pngenc {
  int color_type, bit_depth, interlace;
  const uint8_t *plte; /* RGB triples */
  int plte_n;
  int trns_gray; /* >= 0: tRNS for gray */
} pngenc;

/* libspng encoder; data is in the PNG's own layout (SPNG_FMT_PNG). Returns
 * NULL when spng refuses (the caller may skip). */
static uint8_t *png_encode(const void *data, size_t dlen, uint32_t w, uint32_t h,
                           const pngenc *e, size_t *len) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  assert_non_null(ctx);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  struct spng_ihdr ihdr;
  memset(&ihdr, 0, sizeof ihdr);
  ihdr.width = w;
  ihdr.height = h;
  ihdr.bit_depth = (uint8_t)e->bit_depth;
  ihdr.color_type = (uint8_t)e->color_type;
  ihdr.interlace_method = (uint8_t)e->interlace;
  assert_int_equal(spng_set_ihdr(ctx, &ihdr), 0);
  if (e->plte) {
    struct spng_plte plte;
    memset(&plte, 0, sizeof plte);
    plte.n_entries = (uint32_t)e->plte_n;
    for (int i = 0; i < e->plte_n; i++) {
      plte.entries[i].red = e->plte[3 * i];
      plte.entries[i].green = e->plte[3 * i + 1];
      plte.entries[i].blue = e->plte[3 * i + 2];
      plte.entries[i].alpha = 255;
    }
    assert_int_equal(spng_set_plte(ctx, &plte), 0);
  }
  if (e->trns_gray >= 0) {
    struct spng_trns t;
    memset(&t, 0, sizeof t);
    t.gray = (uint16_t)e->trns_gray;
    assert_int_equal(spng_set_trns(ctx, &t), 0);
  }
  int rc = spng_encode_image(ctx, data, dlen, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  size_t n = 0;
  int err = 0;
  void *buf = rc == 0 ? spng_get_png_buffer(ctx, &n, &err) : NULL;
  spng_ctx_free(ctx);
  *len = n;
  return buf;
}

/* ---- sniffing ----------------------------------------------------------- */

static void test_sniff(void **state) {
  (void)state;
  static const struct {
    const char *b;
    size_t n;
    pv_src_format f;
  } c[] = {
      {"\xFF\xD8\xFF\xE0", 4, PV_SRC_JPEG},
      {"\xFF\xD8", 2, PV_SRC_UNKNOWN},
      {"\x89PNG\r\n\x1a\n", 8, PV_SRC_PNG},
      {"\x89PNG\r\n\x1a", 7, PV_SRC_UNKNOWN},
      {"RIFF\0\0\0\0WEBPVP8 ", 16, PV_SRC_WEBP},
      {"RIFF\0\0\0\0WAVEfmt ", 16, PV_SRC_UNKNOWN},
      {"BM\0\0", 4, PV_SRC_BMP},
      {"P1\n", 3, PV_SRC_PNM},
      {"P3 ", 3, PV_SRC_PNM},
      {"P6\n", 3, PV_SRC_PNM},
      {"P7\n", 3, PV_SRC_UNKNOWN},
      {"PK\3\4", 4, PV_SRC_UNKNOWN},
      {"II*\0", 4, PV_SRC_TIFF},
      {"MM\0*", 4, PV_SRC_TIFF},
      {"II+\0", 4, PV_SRC_TIFF},
      {"GIF89a", 6, PV_SRC_UNKNOWN},
      {"", 0, PV_SRC_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
    assert_int_equal(pv__sniff((const uint8_t *)c[i].b, c[i].n), c[i].f);
  assert_int_equal(pv__sniff(NULL, 0), PV_SRC_UNKNOWN);
  assert_string_equal(pv__src_format_name(PV_SRC_JPEG), "jpeg");
  assert_string_equal(pv__src_format_name(PV_SRC_TIFF), "tiff");
  assert_string_equal(pv__src_format_name((pv_src_format)99), "unknown");

  /* Content wins over any name: a PNG is a PNG whatever it is called. */
  size_t n;
  uint8_t *px = pvt_pattern_rgb(8, 8, 1);
  pngenc e = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, 0, -1};
  uint8_t *png = png_encode(px, 8 * 8 * 3, 8, 8, &e, &n);
  assert_non_null(png);
  pv_src_info info;
  assert_int_equal(pv__probe_image(png, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.format, PV_SRC_PNG);
  free(png);
  free(px);
}

static void test_garbage_and_args(void **state) {
  (void)state;
  pv_decode_opts o = opts0();
  uint8_t junk[64];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 7 + 3);
  decode_fails(junk, 0, &o, PV_ERR_UNSUPPORTED, "empty");
  decode_fails(NULL, 0, &o, PV_ERR_UNSUPPORTED, NULL);
  decode_fails(junk, sizeof junk, &o, PV_ERR_UNSUPPORTED, "not a recognised");
  pv_src_info info;
  char err[128];
  assert_int_equal(pv__probe_image(junk, sizeof junk, &info, err, sizeof err), PV_ERR_UNSUPPORTED);
  assert_int_equal(pv__probe_image(junk, 0, &info, err, sizeof err), PV_ERR_UNSUPPORTED);
  assert_int_equal(pv__probe_image(junk, 4, NULL, err, sizeof err), PV_ERR_INVALID_ARG);
  assert_int_equal(pv__decode_image(junk, 4, &o, NULL, err, sizeof err), PV_ERR_INVALID_ARG);
  pv_image img;
  assert_int_equal(pv__decode_image(NULL, 4, &o, &img, NULL, 0), PV_ERR_INVALID_ARG);
  /* Magic alone is not an image: every format fails cleanly on its magic. */
  static const struct {
    const char *b;
    size_t n;
  } heads[] = {{"\xFF\xD8\xFF", 3},       {"\x89PNG\r\n\x1a\n", 8}, {"RIFF\4\0\0\0WEBP", 12},
               {"BM", 2},                 {"P6\n", 3},              {"P5 1 1 255 ", 11},
               {"II*\0", 4},              {"MM\0*\0\0\0\x08", 8},   {"P6 4 4 255\n", 11}};
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
    assert_int_not_equal(pv__decode_image((const uint8_t *)heads[i].b, heads[i].n, NULL, &img,
                                          err, sizeof err),
                         PV_OK);
    assert_null(img.pixels);
  }
  pv__image_free(NULL);
}

/* ---- JPEG ---------------------------------------------------------------- */

/* Our decode equals TurboJPEG's (PIL's settings) and resembles the source. */
static void check_jpeg_like_tj(const uint8_t *jpg, size_t n, const uint8_t *src, int w, int h,
                               double tol) {
  pv_decode_opts o = opts0();
  pv_image img = decode_ok(jpg, n, &o);
  assert_int_equal(img.width, w);
  assert_int_equal(img.height, h);
  uint8_t *ref = tj_decode(jpg, n, w, h, TJPF_RGB);
  assert_memory_equal(img.pixels, ref, (size_t)w * h * 3);
  if (src) {
    double md = mean_diff(img.pixels, src, (size_t)w * h * 3, NULL);
    if (md >= tol) print_error("mean difference to the source %.2f >= %.2f\n", md, tol);
    assert_true(md < tol);
  }
  free(ref);
  pv__image_free(&img);
}

static void test_jpeg_baseline(void **state) {
  (void)state;
  const int w = 97, h = 61;
  uint8_t *px = smooth_rgb(w, h);
  size_t n;
  uint8_t *jpg = pvt_encode_jpeg(px, w, h, 92, &n);
  assert_non_null(jpg);
  check_jpeg_like_tj(jpg, n, px, w, h, 3.0);
  pv_src_info info;
  assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.format, PV_SRC_JPEG);
  assert_int_equal(info.width, w);
  assert_int_equal(info.height, h);
  assert_int_equal(info.orientation, 1);
  assert_int_equal(info.jpeg_is_ycc3, 1);
  /* Every chroma subsampling TurboJPEG writes. */
  static const int samps[] = {TJSAMP_444, TJSAMP_422, TJSAMP_440, TJSAMP_411};
  for (size_t i = 0; i < sizeof samps / sizeof samps[0]; i++) {
    size_t m;
    uint8_t *j2 = tj_encode(px, w, h, TJPF_RGB, samps[i], 90, 0, &m);
    check_jpeg_like_tj(j2, m, px, w, h, 3.0);
    free(j2);
  }
  /* Deterministic: the same bytes give the same pixels. */
  pv_decode_opts o = opts0();
  pv_image a = decode_ok(jpg, n, &o), b = decode_ok(jpg, n, &o);
  assert_memory_equal(a.pixels, b.pixels, (size_t)w * h * 3);
  pv__image_free(&a);
  pv__image_free(&b);
  assert_null(a.pixels);
  free(jpg);
  free(px);
}

static void test_jpeg_progressive_restart_arith(void **state) {
  (void)state;
  const int w = 120, h = 83;
  uint8_t *px = smooth_rgb(w, h);
  size_t n;
  uint8_t *jpg = tj_encode(px, w, h, TJPF_RGB, TJSAMP_420, 90, TJFLAG_PROGRESSIVE, &n);
  check_jpeg_like_tj(jpg, n, px, w, h, 3.0);
  free(jpg);

  jenc e;
  memset(&e, 0, sizeof e);
  e.in_cs = JCS_RGB;
  e.jpeg_cs = JCS_UNKNOWN;
  e.comps = 3;
  e.restart_rows = 1;
  jpg = jpeg_encode(px, w, h, &e, &n);
  /* The file really has restart markers. */
  int rst = 0;
  for (size_t i = 0; i + 1 < n; i++) rst += jpg[i] == 0xFF && jpg[i + 1] >= 0xD0 && jpg[i + 1] <= 0xD7;
  assert_true(rst >= 3);
  check_jpeg_like_tj(jpg, n, px, w, h, 3.0);
  free(jpg);

  e.restart_rows = 0;
  e.arith = 1;
  jpg = jpeg_encode(px, w, h, &e, &n);
  check_jpeg_like_tj(jpg, n, px, w, h, 3.0);
  free(jpg);

  e.progressive = 1; /* progressive + arithmetic + restarts */
  e.restart_rows = 2;
  jpg = jpeg_encode(px, w, h, &e, &n);
  check_jpeg_like_tj(jpg, n, px, w, h, 3.0);
  free(jpg);
  free(px);
}

static void test_jpeg_gray(void **state) {
  (void)state;
  const int w = 64, h = 40;
  uint8_t *px = pvt_pattern_rgb(w, h, 2);
  size_t n;
  uint8_t *jpg = tj_encode(px, w, h, TJPF_RGB, TJSAMP_GRAY, 90, 0, &n);
  pv_decode_opts o = opts0();
  pv_image img = decode_ok(jpg, n, &o);
  uint8_t *gray = tj_decode(jpg, n, w, h, TJPF_GRAY);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    assert_int_equal(img.pixels[3 * i], gray[i]);
    assert_int_equal(img.pixels[3 * i + 1], gray[i]);
    assert_int_equal(img.pixels[3 * i + 2], gray[i]);
  }
  pv_src_info info;
  assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.jpeg_is_ycc3, 0);
  free(gray);
  pv__image_free(&img);
  free(jpg);
  free(px);
}

static void test_jpeg_cmyk(void **state) {
  (void)state;
  const int w = 48, h = 37;
  uint8_t *px = pvt_pattern_rgb(w, h, 4);
  uint8_t *cmyk = rgb_to_inverted_cmyk(px, (size_t)w * h);
  uint8_t *want = malloc((size_t)w * h * 3);
  size_t n;
  /* TurboJPEG writes YCCK with an Adobe marker; the libjpeg API as plain
   * CMYK. Both must convert exactly as PIL does, and look like the source. */
  for (int variant = 0; variant < 2; variant++) {
    uint8_t *jpg;
    if (variant == 0) {
      jpg = tj_encode(cmyk, w, h, TJPF_CMYK, TJSAMP_444, 95, 0, &n);
    } else {
      jenc e;
      memset(&e, 0, sizeof e);
      e.in_cs = JCS_CMYK;
      e.jpeg_cs = JCS_CMYK;
      e.comps = 4;
      e.quality = 95;
      jpg = jpeg_encode(cmyk, w, h, &e, &n);
    }
    pv_decode_opts o = opts0();
    pv_image img = decode_ok(jpg, n, &o);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    uint8_t *raw = tj_decode(jpg, n, w, h, TJPF_CMYK);
    pil_cmyk_to_rgb(raw, want, (size_t)w * h);
    assert_memory_equal(img.pixels, want, (size_t)w * h * 3);
    double md = mean_diff(img.pixels, px, (size_t)w * h * 3, NULL);
    assert_true(md < 6.0);
    pv_src_info info;
    assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
    assert_int_equal(info.jpeg_is_ycc3, 0);
    free(raw);
    pv__image_free(&img);
    free(jpg);
  }
  free(want);
  free(cmyk);
  free(px);
}

static void test_jpeg_truncated_and_corrupt(void **state) {
  (void)state;
  const int w = 80, h = 64;
  uint8_t *px = pvt_pattern_rgb(w, h, 6);
  pv_decode_opts o = opts0();
  for (int prog = 0; prog < 2; prog++) {
    size_t n;
    uint8_t *jpg = tj_encode(px, w, h, TJPF_RGB, TJSAMP_420, 90, prog ? TJFLAG_PROGRESSIVE : 0, &n);
    /* Cut anywhere, including just before EOI: never a success. */
    decode_fails(jpg, n / 2, &o, PV_ERR_DECODE, "JPEG");
    decode_fails(jpg, n - 2, &o, PV_ERR_DECODE, "Premature end");
    for (size_t cut = 3; cut < n; cut += 37) {
      pv_image img;
      assert_int_not_equal(pv__decode_image(jpg, cut, &o, &img, NULL, 0), PV_OK);
      assert_null(img.pixels);
    }
    /* Stray bytes between the entropy-coded data and EOI: libjpeg warns
     * ("extraneous bytes before marker"), so we fail. */
    uint8_t *bad = malloc(n + 64);
    size_t at = n - 2;
    memcpy(bad, jpg, at);
    memset(bad + at, 0x55, 64);
    memcpy(bad + at + 64, jpg + at, 2);
    decode_fails(bad, n + 64, &o, PV_ERR_DECODE, "Corrupt JPEG data");
    free(bad);
    free(jpg);
  }
  free(px);
}

static void test_jpeg_dct_scaling(void **state) {
  (void)state;
  const int w = 801, h = 601;
  uint8_t *px = pvt_pattern_rgb(w, h, 7);
  size_t n;
  uint8_t *jpg = pvt_encode_jpeg(px, w, h, 85, &n);
  static const struct {
    uint32_t minw, minh, ow, oh;
  } c[] = {
      {0, 0, 801, 601},     /* full size when no minimum */
      {1, 1, 101, 76},      /* 1/8, ceil */
      {101, 76, 101, 76},   /* exactly 1/8 */
      {102, 10, 201, 151},  /* width needs 2/8 */
      {10, 77, 201, 151},   /* height needs 2/8 */
      {300, 0, 301, 226},   /* 3/8 */
      {0, 300, 401, 301},   /* 4/8 */
      {700, 500, 701, 526}, /* 7/8 */
      {702, 1, 801, 601},   /* 8/8 */
      {5000, 5000, 801, 601},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    pv_decode_opts o = opts0();
    o.min_width = c[i].minw;
    o.min_height = c[i].minh;
    pv_image img = decode_ok(jpg, n, &o);
    assert_int_equal(img.width, c[i].ow);
    assert_int_equal(img.height, c[i].oh);
    assert_true(img.width >= c[i].minw || img.width == (uint32_t)w);
    assert_true(img.height >= c[i].minh || img.height == (uint32_t)h);
    uint8_t *ref = tj_decode(jpg, n, (int)img.width, (int)img.height, TJPF_RGB);
    assert_memory_equal(img.pixels, ref, (size_t)img.width * img.height * 3);
    free(ref);
    pv__image_free(&img);
  }
  /* The probe reports the full size whatever the options. */
  pv_src_info info;
  assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.width, w);
  assert_int_equal(info.height, h);
  free(jpg);
  free(px);
}

/* Quadrants of flat colour (JPEG keeps them) so orientation is visible. */
static uint8_t *quadrants(int w, int h) {
  uint8_t *p = malloc((size_t)w * h * 3);
  static const uint8_t col[4][3] = {{230, 20, 20}, {20, 230, 20}, {20, 20, 230}, {230, 230, 20}};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      memcpy(p + ((size_t)y * w + x) * 3, col[(y >= h / 2) * 2 + (x >= w / 2)], 3);
  return p;
}

static void test_exif_orientation(void **state) {
  (void)state;
  const int w = 48, h = 32;
  uint8_t *px = quadrants(w, h);
  uint8_t app1[64];
  jenc e;
  memset(&e, 0, sizeof e);
  e.in_cs = JCS_RGB;
  e.jpeg_cs = JCS_UNKNOWN;
  e.comps = 3;
  e.quality = 95;
  size_t n0;
  uint8_t *plain = jpeg_encode(px, w, h, &e, &n0);
  pv_decode_opts o = opts0();
  pv_image base = decode_ok(plain, n0, &o);
  uint8_t *want = malloc((size_t)w * h * 3);
  for (int be = 0; be < 2; be++)
    for (int orient = 1; orient <= 8; orient++) {
      e.app1 = app1;
      e.app1_len = exif_app1(app1, orient, be);
      size_t n;
      uint8_t *jpg = jpeg_encode(px, w, h, &e, &n);
      pv_src_info info;
      assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
      assert_int_equal(info.orientation, orient);
      assert_int_equal(info.width, w); /* before orientation */
      /* Ignored by default, like torchvision's loader. */
      o.apply_exif_orientation = 0;
      pv_image img = decode_ok(jpg, n, &o);
      assert_int_equal(img.width, w);
      assert_memory_equal(img.pixels, base.pixels, (size_t)w * h * 3);
      pv__image_free(&img);
      o.apply_exif_orientation = 1;
      img = decode_ok(jpg, n, &o);
      assert_int_equal(img.width, orient >= 5 ? h : w);
      assert_int_equal(img.height, orient >= 5 ? w : h);
      ref_orient(base.pixels, w, h, orient, want);
      assert_memory_equal(img.pixels, want, (size_t)w * h * 3);
      pv__image_free(&img);
      /* With scaling, min sizes are in the stored frame. */
      o.min_width = 12;
      o.min_height = 8;
      img = decode_ok(jpg, n, &o);
      assert_int_equal(img.width, orient >= 5 ? 8 : 12);
      assert_int_equal(img.height, orient >= 5 ? 12 : 8);
      pv__image_free(&img);
      o.min_width = o.min_height = 0;
      free(jpg);
    }
  /* Malformed EXIF: offsets past the segment, wrong type, bad value. */
  static const struct {
    size_t off;
    uint8_t v;
  } pokes[] = {{10, 0xF0}, {11, 0x7F}, {16, 0x13}, {18, 7}, {22, 0xFF}, {24, 9}, {6, 'X'}, {8, 43}};
  for (size_t i = 0; i < sizeof pokes / sizeof pokes[0]; i++) {
    e.app1_len = exif_app1(app1, 6, 0);
    app1[pokes[i].off] = pokes[i].v;
    size_t n;
    uint8_t *jpg = jpeg_encode(px, w, h, &e, &n);
    pv_src_info info;
    assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
    assert_int_equal(info.orientation, 1);
    free(jpg);
  }
  /* An Exif segment cut short (IFD entry truncated). */
  e.app1_len = exif_app1(app1, 6, 0) - 10;
  size_t n;
  uint8_t *jpg = jpeg_encode(px, w, h, &e, &n);
  pv_src_info info;
  assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.orientation, 1);
  free(jpg);
  free(want);
  pv__image_free(&base);
  free(plain);
  free(px);
}

/* ---- limits -------------------------------------------------------------- */

static void test_pixel_limit(void **state) {
  (void)state;
  size_t n;
  uint8_t *px = pvt_pattern_rgb(64, 64, 1);
  uint8_t *jpg = pvt_encode_jpeg(px, 64, 64, 80, &n);
  pv_decode_opts o = opts0();
  o.max_pixels = 4095;
  decode_fails(jpg, n, &o, PV_ERR_LIMIT, "exceeds the pixel limit 4095");
  o.max_pixels = 4096;
  pv_image img = decode_ok(jpg, n, &o);
  pv__image_free(&img);

  /* A header that claims 30000x30000: refused from the header, before any
   * pixel buffer (the file holds only 64x64 of data). */
  for (size_t i = 0; i + 8 < n; i++)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 5] = 30000 >> 8;
      jpg[i + 6] = 30000 & 0xFF;
      jpg[i + 7] = 30000 >> 8;
      jpg[i + 8] = 30000 & 0xFF;
      break;
    }
  o.max_pixels = 89478485;
  decode_fails(jpg, n, &o, PV_ERR_LIMIT, "image 30000x30000 exceeds the pixel limit 89478485");
  pv_src_info info;
  assert_int_equal(pv__probe_image(jpg, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.width, 30000);
  free(jpg);

  /* Same for PNG (IHDR patched, CRC recomputed) and BMP. */
  pngenc e = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, 0, -1};
  uint8_t *png = png_encode(px, 64 * 64 * 3, 64, 64, &e, &n);
  put32be(png + 16, 30000);
  put32be(png + 20, 30000);
  put32be(png + 29, crc32_png(png + 12, 17));
  decode_fails(png, n, &o, PV_ERR_LIMIT, "30000x30000");
  assert_int_equal(pv__probe_image(png, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.height, 30000);
  free(png);

  uint8_t bmp[54];
  memset(bmp, 0, sizeof bmp);
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32le(bmp + 10, 54);
  put32le(bmp + 14, 40);
  put32le(bmp + 18, 30000);
  put32le(bmp + 22, 30000);
  put16le(bmp + 26, 1);
  put16le(bmp + 28, 24);
  decode_fails(bmp, sizeof bmp, &o, PV_ERR_LIMIT, "30000x30000");
  o.max_pixels = 0; /* no limit: the truncation is what stops it */
  decode_fails(bmp, sizeof bmp, &o, PV_ERR_DECODE, "truncated");
  free(px);
}

/* ---- PNG ------------------------------------------------------------------ */

static void test_png_rgb_rgba(void **state) {
  (void)state;
  const uint32_t w = 37, h = 23;
  uint8_t *px = pvt_pattern_rgb(w, h, 9);
  pv_decode_opts o = opts0();
  for (int interlace = 0; interlace < 2; interlace++) {
    size_t n;
    pngenc e = {SPNG_COLOR_TYPE_TRUECOLOR, 8, interlace, NULL, 0, -1};
    uint8_t *png = png_encode(px, (size_t)w * h * 3, w, h, &e, &n);
    if (!png) {
      assert_int_equal(interlace, 1); /* only interlaced encoding may be missing */
      print_message("spng cannot encode interlaced PNG here: case skipped\n");
      continue;
    }
    assert_int_equal(png[28], interlace);
    pv_image img = decode_ok(png, n, &o);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
    pv__image_free(&img);
    free(png);

    /* RGBA: alpha dropped, not composited (convert('RGB')). */
    uint8_t *rgba = malloc((size_t)w * h * 4);
    for (size_t i = 0; i < (size_t)w * h; i++) {
      memcpy(rgba + 4 * i, px + 3 * i, 3);
      rgba[4 * i + 3] = (uint8_t)(i * 13);
    }
    pngenc ea = {SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, interlace, NULL, 0, -1};
    png = png_encode(rgba, (size_t)w * h * 4, w, h, &ea, &n);
    assert_non_null(png);
    img = decode_ok(png, n, &o);
    assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
    pv__image_free(&img);
    free(png);
    free(rgba);
  }
  free(px);
}

static void test_png_gray_palette_16bit(void **state) {
  (void)state;
  const uint32_t w = 19, h = 11;
  const size_t np = (size_t)w * h;
  pv_decode_opts o = opts0();
  size_t n;

  /* 8-bit gray with tRNS (ignored), replicated. */
  uint8_t *g8 = malloc(np);
  for (size_t i = 0; i < np; i++) g8[i] = (uint8_t)(i * 5);
  pngenc eg = {SPNG_COLOR_TYPE_GRAYSCALE, 8, 0, NULL, 0, 10};
  uint8_t *png = png_encode(g8, np, w, h, &eg, &n);
  assert_non_null(png);
  pv_image img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], g8[i]);
  pv__image_free(&img);
  free(png);

  /* 16-bit gray: scaled (high byte), not clipped to white as PIL does. */
  uint16_t *g16 = malloc(np * 2);
  for (size_t i = 0; i < np; i++) g16[i] = (uint16_t)(i * 317 + 0x80);
  pngenc e16 = {SPNG_COLOR_TYPE_GRAYSCALE, 16, 0, NULL, 0, -1};
  png = png_encode(g16, np * 2, w, h, &e16, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], g16[i] >> 8);
  pv__image_free(&img);
  free(png);

  /* 16-bit RGB: high byte of each sample, as PIL's "RGB;16B". */
  uint16_t *c16 = malloc(np * 6);
  for (size_t i = 0; i < np * 3; i++) c16[i] = (uint16_t)(i * 1031 + 7);
  pngenc ec16 = {SPNG_COLOR_TYPE_TRUECOLOR, 16, 0, NULL, 0, -1};
  png = png_encode(c16, np * 6, w, h, &ec16, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np * 3; i++) assert_int_equal(img.pixels[i], c16[i] >> 8);
  pv__image_free(&img);
  free(png);

  /* Gray + alpha: alpha dropped. */
  uint8_t *ga = malloc(np * 2);
  for (size_t i = 0; i < np; i++) {
    ga[2 * i] = (uint8_t)(i * 3);
    ga[2 * i + 1] = (uint8_t)(255 - i);
  }
  pngenc ega = {SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, 0, NULL, 0, -1};
  png = png_encode(ga, np * 2, w, h, &ega, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], ga[2 * i]);
  pv__image_free(&img);
  free(png);

  /* Palette, 8-bit and 4-bit indices: expanded. */
  uint8_t plte[16 * 3];
  for (int i = 0; i < 16; i++) {
    plte[3 * i] = (uint8_t)(i * 16);
    plte[3 * i + 1] = (uint8_t)(255 - i * 9);
    plte[3 * i + 2] = (uint8_t)(i * i);
  }
  uint8_t *idx = malloc(np);
  for (size_t i = 0; i < np; i++) idx[i] = (uint8_t)((i * 7) % 16);
  pngenc ep = {SPNG_COLOR_TYPE_INDEXED, 8, 0, plte, 16, -1};
  png = png_encode(idx, np, w, h, &ep, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np; i++) assert_memory_equal(img.pixels + 3 * i, plte + 3 * idx[i], 3);
  pv__image_free(&img);
  free(png);
  size_t stride4 = (w * 4 + 7) / 8;
  uint8_t *packed = calloc(stride4 * h, 1);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      packed[y * stride4 + x / 2] |= (uint8_t)(idx[y * w + x] << (x % 2 ? 0 : 4));
  pngenc ep4 = {SPNG_COLOR_TYPE_INDEXED, 4, 0, plte, 16, -1};
  png = png_encode(packed, stride4 * h, w, h, &ep4, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (size_t i = 0; i < np; i++) assert_memory_equal(img.pixels + 3 * i, plte + 3 * idx[i], 3);
  pv__image_free(&img);
  free(png);

  /* 1-bit gray: black and white, as PIL's mode "1" converts. */
  size_t stride1 = (w + 7) / 8;
  uint8_t *bits = calloc(stride1 * h, 1);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      if ((x + y) % 3 == 0) bits[y * stride1 + x / 8] |= (uint8_t)(0x80 >> (x % 8));
  pngenc e1 = {SPNG_COLOR_TYPE_GRAYSCALE, 1, 0, NULL, 0, -1};
  png = png_encode(bits, stride1 * h, w, h, &e1, &n);
  assert_non_null(png);
  img = decode_ok(png, n, &o);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      assert_int_equal(img.pixels[((size_t)y * w + x) * 3], (x + y) % 3 == 0 ? 255 : 0);
  pv__image_free(&img);
  free(png);

  free(bits);
  free(packed);
  free(idx);
  free(ga);
  free(c16);
  free(g16);
  free(g8);
}

static void test_png_corrupt(void **state) {
  (void)state;
  const uint32_t w = 40, h = 30;
  uint8_t *px = pvt_pattern_rgb(w, h, 11);
  pngenc e = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, 0, -1};
  size_t n;
  uint8_t *png = png_encode(px, (size_t)w * h * 3, w, h, &e, &n);
  pv_decode_opts o = opts0();
  /* Find IDAT; flip a byte of its data: the CRC no longer matches. */
  size_t idat = 0;
  for (size_t i = 8; i + 8 < n; i++)
    if (!memcmp(png + i + 4, "IDAT", 4)) {
      idat = i;
      break;
    }
  assert_true(idat > 0);
  uint8_t *bad = malloc(n);
  memcpy(bad, png, n);
  bad[idat + 8 + 5] ^= 0x40; /* the zlib stream breaks before the CRC is seen */
  decode_fails(bad, n, &o, PV_ERR_DECODE, "PNG");
  memcpy(bad, png, n);
  uint32_t ilen = (uint32_t)png[idat] << 24 | (uint32_t)png[idat + 1] << 16 |
                  (uint32_t)png[idat + 2] << 8 | png[idat + 3];
  bad[idat + 8 + ilen] ^= 0x01; /* the stored CRC itself */
  decode_fails(bad, n, &o, PV_ERR_DECODE, "PNG CRC error");
  /* A corrupt CRC in an ancillary chunk is an error too (inserted tEXt). */
  static const uint8_t text[] = {0, 0, 0, 4, 't', 'E', 'X', 't', 'a', 0, 'b', 'c', 0, 0, 0, 0};
  uint8_t *withtext = malloc(n + sizeof text);
  memcpy(withtext, png, idat);
  memcpy(withtext + idat, text, sizeof text);
  memcpy(withtext + idat + sizeof text, png + idat, n - idat);
  decode_fails(withtext, n + sizeof text, &o, PV_ERR_DECODE, "CRC");
  put32be(withtext + idat + 12, crc32_png(withtext + idat + 4, 8));
  pv_image img = decode_ok(withtext, n + sizeof text, &o); /* fixed CRC: fine */
  pv__image_free(&img);
  /* Truncated: in the data, and just the IEND chunk missing. */
  decode_fails(png, n / 2, &o, PV_ERR_DECODE, "PNG");
  decode_fails(png, n - 12, &o, PV_ERR_DECODE, "PNG");
  decode_fails(png, 20, &o, PV_ERR_DECODE, "PNG");
  for (size_t cut = 8; cut < n; cut += 29) {
    assert_int_not_equal(pv__decode_image(png, cut, &o, &img, NULL, 0), PV_OK);
    assert_null(img.pixels);
  }
  free(withtext);
  free(bad);
  free(png);
  free(px);
}

/* ---- WebP ------------------------------------------------------------------ */

static void test_webp(void **state) {
  (void)state;
  const int w = 53, h = 31;
  uint8_t *px = pvt_pattern_rgb(w, h, 12);
  pv_decode_opts o = opts0();
  uint8_t *out = NULL;
  size_t n = WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
  assert_true(n > 0);
  pv_image img = decode_ok(out, n, &o);
  assert_int_equal(img.width, w);
  assert_int_equal(img.height, h);
  assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
  pv__image_free(&img);
  pv_src_info info;
  assert_int_equal(pv__probe_image(out, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.format, PV_SRC_WEBP);
  assert_int_equal(info.width, w);
  assert_int_equal(info.orientation, 1);
  decode_fails(out, n - 10, &o, PV_ERR_DECODE, "WebP");
  o.max_pixels = 100;
  decode_fails(out, n, &o, PV_ERR_LIMIT, "pixel limit");
  o.max_pixels = 0;
  WebPFree(out);

  uint8_t *sm = smooth_rgb(w, h);
  out = NULL;
  n = WebPEncodeRGB(sm, w, h, w * 3, 95.0f, &out);
  assert_true(n > 0);
  img = decode_ok(out, n, &o);
  assert_true(mean_diff(img.pixels, sm, (size_t)w * h * 3, NULL) < 3.0);
  free(sm);
  pv__image_free(&img);
  for (size_t cut = 12; cut < n; cut += 41) {
    assert_int_not_equal(pv__decode_image(out, cut, &o, &img, NULL, 0), PV_OK);
    assert_null(img.pixels);
  }
  WebPFree(out);

  /* RGBA: alpha dropped. */
  uint8_t *rgba = malloc((size_t)w * h * 4);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    memcpy(rgba + 4 * i, px + 3 * i, 3);
    rgba[4 * i + 3] = (uint8_t)(100 + i % 100);
  }
  out = NULL;
  n = WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out);
  img = decode_ok(out, n, &o);
  assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
  pv__image_free(&img);
  WebPFree(out);
  free(rgba);
  free(px);
}

/* An extended WebP (VP8X) around a lossless bitstream, with an EXIF chunk
 * holding an orientation: reported, and applied on request. */
static void test_webp_exif(void **state) {
  (void)state;
  const int w = 12, h = 7;
  uint8_t *px = quadrants(w, h);
  uint8_t *simple = NULL;
  size_t sn = WebPEncodeLosslessRGB(px, w, h, w * 3, &simple);
  assert_true(sn > 20 && !memcmp(simple + 12, "VP8L", 4));
  uint8_t tiff[32];
  size_t tn = exif_app1(tiff, 8, 1) - 6; /* without "Exif\0\0" */
  memmove(tiff, tiff + 6, tn);
  size_t img_chunk = sn - 12, n = 12 + 18 + img_chunk + 8 + tn + (tn & 1);
  uint8_t *b = calloc(n, 1);
  memcpy(b, "RIFF", 4);
  put32le(b + 4, (uint32_t)(n - 8));
  memcpy(b + 8, "WEBPVP8X", 8);
  put32le(b + 16, 10);
  b[20] = 0x08; /* EXIF present */
  b[24] = (uint8_t)(w - 1);
  b[27] = (uint8_t)(h - 1);
  memcpy(b + 30, simple + 12, img_chunk);
  memcpy(b + 30 + img_chunk, "EXIF", 4);
  put32le(b + 34 + img_chunk, (uint32_t)tn);
  memcpy(b + 38 + img_chunk, tiff, tn);
  pv_src_info info;
  char err[200] = "";
  assert_int_equal(pv__probe_image(b, n, &info, err, sizeof err), PV_OK);
  assert_int_equal(info.format, PV_SRC_WEBP);
  assert_int_equal(info.orientation, 8);
  pv_decode_opts o = opts0();
  pv_image img = decode_ok(b, n, &o);
  assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
  pv__image_free(&img);
  o.apply_exif_orientation = 1;
  img = decode_ok(b, n, &o);
  assert_int_equal(img.width, h);
  assert_int_equal(img.height, w);
  uint8_t *want = malloc((size_t)w * h * 3);
  ref_orient(px, (uint32_t)w, (uint32_t)h, 8, want);
  assert_memory_equal(img.pixels, want, (size_t)w * h * 3);
  pv__image_free(&img);
  /* A chunk size running past the file: orientation 1, no overread. */
  put32le(b + 34 + img_chunk, 0x7FFFFFF0u);
  assert_int_equal(pv__probe_image(b, n, &info, err, sizeof err), PV_OK);
  assert_int_equal(info.orientation, 1);
  free(want);
  free(b);
  WebPFree(simple);
  free(px);
}

/* ---- TIFF ------------------------------------------------------------------ */

/* Writes a TIFF with libtiff into a temporary file and returns its bytes. */
static uint8_t *tiff_make(const uint8_t *px, uint32_t w, uint32_t h, int spp, uint16_t compression,
                          uint16_t orientation, size_t *len) {
  char *dir = pvt_mkdtemp("decode");
  char *path = pvt_join(dir, "t.tif");
  TIFF *t = TIFFOpen(path, "w");
  assert_non_null(t);
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 4);
  if (orientation) TIFFSetField(t, TIFFTAG_ORIENTATION, orientation);
  if (spp == 4) {
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  for (uint32_t y = 0; y < h; y++)
    assert_int_equal(TIFFWriteScanline(t, (void *)(px + (size_t)y * w * (size_t)spp), y, 0), 1);
  TIFFClose(t);
  uint8_t *b = pvt_read_file(path, len);
  assert_non_null(b);
  pvt_rmrf(dir);
  free(path);
  free(dir);
  return b;
}

static void test_tiff(void **state) {
  (void)state;
  const uint32_t w = 29, h = 17;
  const size_t np = (size_t)w * h;
  uint8_t *px = pvt_pattern_rgb(w, h, 13);
  pv_decode_opts o = opts0();
  static const uint16_t comps[] = {COMPRESSION_NONE, COMPRESSION_LZW, COMPRESSION_ADOBE_DEFLATE};
  for (size_t c = 0; c < sizeof comps / sizeof comps[0]; c++) {
    size_t n;
    uint8_t *tif = tiff_make(px, w, h, 3, comps[c], 0, &n);
    pv_image img = decode_ok(tif, n, &o);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_memory_equal(img.pixels, px, np * 3);
    pv__image_free(&img);
    pv_src_info info;
    assert_int_equal(pv__probe_image(tif, n, &info, NULL, 0), PV_OK);
    assert_int_equal(info.format, PV_SRC_TIFF);
    assert_int_equal(info.width, w);
    assert_int_equal(info.height, h);
    /* Truncated strips: an error, quietly (nothing printed). */
    decode_fails(tif, n / 2, &o, PV_ERR_DECODE, "TIFF");
    for (size_t cut = 4; cut < n; cut += 97) {
      assert_int_not_equal(pv__decode_image(tif, cut, &o, &img, NULL, 0), PV_OK);
      assert_null(img.pixels);
    }
    free(tif);
  }
  /* Gray, and RGBA with opaque alpha (dropped). */
  uint8_t *g = malloc(np), *rgba = malloc(np * 4);
  for (size_t i = 0; i < np; i++) {
    g[i] = (uint8_t)(i * 3);
    memcpy(rgba + 4 * i, px + 3 * i, 3);
    rgba[4 * i + 3] = 255;
  }
  size_t n;
  uint8_t *tif = tiff_make(g, w, h, 1, COMPRESSION_NONE, 0, &n);
  pv_image img = decode_ok(tif, n, &o);
  for (size_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], g[i]);
  pv__image_free(&img);
  free(tif);
  tif = tiff_make(rgba, w, h, 4, COMPRESSION_NONE, 0, &n);
  img = decode_ok(tif, n, &o);
  assert_memory_equal(img.pixels, px, np * 3);
  pv__image_free(&img);
  free(tif);

  /* Orientation tag: reported, stored order by default, applied on request. */
  tif = tiff_make(px, w, h, 3, COMPRESSION_NONE, ORIENTATION_RIGHTTOP, &n);
  pv_src_info info;
  assert_int_equal(pv__probe_image(tif, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.orientation, 6);
  img = decode_ok(tif, n, &o);
  assert_memory_equal(img.pixels, px, np * 3);
  pv__image_free(&img);
  o.apply_exif_orientation = 1;
  img = decode_ok(tif, n, &o);
  assert_int_equal(img.width, h);
  assert_int_equal(img.height, w);
  uint8_t *want = malloc(np * 3);
  ref_orient(px, w, h, 6, want);
  assert_memory_equal(img.pixels, want, np * 3);
  pv__image_free(&img);
  o.max_pixels = 100;
  decode_fails(tif, n, &o, PV_ERR_LIMIT, "pixel limit");
  free(want);
  free(tif);
  free(rgba);
  free(g);
  free(px);
}

/* ---- BMP --------------------------------------------------------------------- */

/* A BMP written by hand (BITMAPINFOHEADER): bpp 24 or 32, or 8 with a gray
 * ramp palette; bottom-up unless top_down. */
static uint8_t *bmp_make(const uint8_t *px, int w, int h, int bpp, int top_down, size_t *len) {
  size_t stride = ((size_t)w * (size_t)bpp + 31) / 32 * 4;
  size_t pal = bpp == 8 ? 256 * 4 : 0, off = 54 + pal, n = off + stride * (size_t)h;
  uint8_t *b = calloc(n, 1);
  b[0] = 'B';
  b[1] = 'M';
  put32le(b + 2, (uint32_t)n);
  put32le(b + 10, (uint32_t)off);
  put32le(b + 14, 40);
  put32le(b + 18, (uint32_t)w);
  put32le(b + 22, top_down ? (uint32_t)-h : (uint32_t)h);
  put16le(b + 26, 1);
  put16le(b + 28, (uint16_t)bpp);
  put32le(b + 34, (uint32_t)(stride * (size_t)h));
  if (bpp == 8) {
    put32le(b + 46, 256);
    for (int i = 0; i < 256; i++) b[54 + 4 * i] = b[55 + 4 * i] = b[56 + 4 * i] = (uint8_t)i;
  }
  for (int y = 0; y < h; y++) {
    uint8_t *row = b + off + stride * (size_t)(top_down ? y : h - 1 - y);
    for (int x = 0; x < w; x++) {
      const uint8_t *s = px + ((size_t)y * w + x) * 3;
      if (bpp == 8) {
        row[x] = s[0];
      } else {
        uint8_t *d = row + (size_t)x * (size_t)(bpp / 8);
        d[0] = s[2];
        d[1] = s[1];
        d[2] = s[0];
        if (bpp == 32) d[3] = 0;
      }
    }
  }
  *len = n;
  return b;
}

static void test_bmp(void **state) {
  (void)state;
  const int w = 13, h = 7; /* odd width: row padding */
  uint8_t *px = pvt_pattern_rgb(w, h, 14);
  pv_decode_opts o = opts0();
  for (int bpp = 24; bpp <= 32; bpp += 8)
    for (int td = 0; td < 2; td++) {
      size_t n;
      uint8_t *bmp = bmp_make(px, w, h, bpp, td, &n);
      pv_image img = decode_ok(bmp, n, &o);
      assert_int_equal(img.width, w);
      assert_int_equal(img.height, h);
      assert_memory_equal(img.pixels, px, (size_t)w * h * 3);
      pv__image_free(&img);
      pv_src_info info;
      assert_int_equal(pv__probe_image(bmp, n, &info, NULL, 0), PV_OK);
      assert_int_equal(info.format, PV_SRC_BMP);
      assert_int_equal(info.width, w);
      assert_int_equal(info.height, h);
      decode_fails(bmp, n - 1, &o, PV_ERR_DECODE, "truncated");
      for (size_t cut = 0; cut < n; cut += 11) {
        assert_int_not_equal(pv__decode_image(bmp, cut, &o, &img, NULL, 0), PV_OK);
        assert_null(img.pixels);
      }
      free(bmp);
    }
  size_t n;
  uint8_t *bmp = bmp_make(px, w, h, 8, 0, &n);
  pv_image img = decode_ok(bmp, n, &o);
  for (size_t i = 0; i < (size_t)w * h; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], px[3 * i]);
  pv__image_free(&img);
  /* RLE8 is refused as unsupported, with the reason. */
  put32le(bmp + 30, 1);
  decode_fails(bmp, n, &o, PV_ERR_UNSUPPORTED, "RLE");
  free(bmp);
  free(px);
}

/* ---- PNM --------------------------------------------------------------------- */

static uint8_t *pnm_make(const char *head, const void *data, size_t dlen, size_t *len) {
  size_t hl = strlen(head);
  uint8_t *b = malloc(hl + dlen);
  memcpy(b, head, hl);
  memcpy(b + hl, data, dlen);
  *len = hl + dlen;
  return b;
}

static void test_pnm(void **state) {
  (void)state;
  const uint32_t w = 11, h = 5;
  const size_t np = (size_t)w * h;
  uint8_t *px = pvt_pattern_rgb(w, h, 15);
  pv_decode_opts o = opts0();
  size_t n;
  uint8_t *p6 = pnm_make("P6\n# a comment\n11 5\n255\n", px, np * 3, &n);
  pv_image img = decode_ok(p6, n, &o);
  assert_int_equal(img.width, w);
  assert_int_equal(img.height, h);
  assert_memory_equal(img.pixels, px, np * 3);
  pv__image_free(&img);
  pv_src_info info;
  assert_int_equal(pv__probe_image(p6, n, &info, NULL, 0), PV_OK);
  assert_int_equal(info.format, PV_SRC_PNM);
  assert_int_equal(info.width, w);
  decode_fails(p6, n - 1, &o, PV_ERR_DECODE, "truncated");
  for (size_t cut = 0; cut < n; cut += 7) {
    assert_int_not_equal(pv__decode_image(p6, cut, &o, &img, NULL, 0), PV_OK);
    assert_null(img.pixels);
  }
  free(p6);

  /* P5 gray, replicated. */
  uint8_t *g = malloc(np);
  for (size_t i = 0; i < np; i++) g[i] = (uint8_t)(i * 4);
  uint8_t *p5 = pnm_make("P5 11 5 255 ", g, np, &n);
  img = decode_ok(p5, n, &o);
  for (size_t i = 0; i < np; i++)
    for (int c = 0; c < 3; c++) assert_int_equal(img.pixels[3 * i + c], g[i]);
  pv__image_free(&img);
  free(p5);

  /* maxval 15: samples scaled to 0..255 (PIL does too). */
  uint8_t *g15 = malloc(np);
  for (size_t i = 0; i < np; i++) g15[i] = (uint8_t)(i % 16);
  p5 = pnm_make("P5\n11 5\n15\n", g15, np, &n);
  img = decode_ok(p5, n, &o);
  for (size_t i = 0; i < np; i++) assert_int_equal(img.pixels[3 * i], g15[i] * 17);
  pv__image_free(&img);
  free(p5);

  /* 16-bit P6 (big-endian samples, maxval 65535) and P5 with maxval 1023. */
  uint8_t *s16 = malloc(np * 6);
  for (size_t i = 0; i < np * 3; i++) {
    uint16_t v = (uint16_t)(i * 1201 + 99);
    s16[2 * i] = (uint8_t)(v >> 8);
    s16[2 * i + 1] = (uint8_t)v;
  }
  p6 = pnm_make("P6 11 5 65535\n", s16, np * 6, &n);
  img = decode_ok(p6, n, &o);
  for (size_t i = 0; i < np * 3; i++) {
    uint32_t v = (uint32_t)s16[2 * i] << 8 | s16[2 * i + 1];
    assert_int_equal(img.pixels[i], (v * 255 + 32767) / 65535);
  }
  pv__image_free(&img);
  decode_fails(p6, n - 1, &o, PV_ERR_DECODE, "truncated");
  free(p6);
  for (size_t i = 0; i < np; i++) {
    uint16_t v = (uint16_t)(i * 18);
    s16[2 * i] = (uint8_t)(v >> 8);
    s16[2 * i + 1] = (uint8_t)v;
  }
  p5 = pnm_make("P5 11 5 1023\n", s16, np * 2, &n);
  img = decode_ok(p5, n, &o);
  for (size_t i = 0; i < np; i++) assert_int_equal(img.pixels[3 * i], (i * 18 * 255 + 511) / 1023);
  pv__image_free(&img);
  free(p5);

  /* Plain (ASCII) and bitmap PNM: recognised, refused with a reason. */
  decode_fails((const uint8_t *)"P3\n1 1\n255\n1 2 3\n", 17, &o, PV_ERR_UNSUPPORTED, "P3");
  decode_fails((const uint8_t *)"P4\n8 1\n\xAA", 9, &o, PV_ERR_UNSUPPORTED, "P4");
  assert_int_equal(pv__probe_image((const uint8_t *)"P1\n1 1\n1\n", 9, &info, NULL, 0),
                   PV_ERR_UNSUPPORTED);
  /* Bad headers. */
  decode_fails((const uint8_t *)"P6\n0 5\n255\n", 11, &o, PV_ERR_DECODE, NULL);
  decode_fails((const uint8_t *)"P6\n1 1\n70000\nabcdef", 19, &o, PV_ERR_DECODE, NULL);
  decode_fails((const uint8_t *)"P6\n99999999999 1\n255\n", 21, &o, PV_ERR_DECODE, NULL);
  free(s16);
  free(g15);
  free(g);
  free(px);
}

/* Every prefix and some bit flips of a set of valid files: no crash, no
 * leak (run under ASan), and a failure always leaves no pixels. */
static void test_hostile_bytes(void **state) {
  (void)state;
  const uint32_t w = 24, h = 16;
  uint8_t *px = pvt_pattern_rgb(w, h, 16);
  size_t lens[4];
  uint8_t *files[4];
  files[0] = tj_encode(px, (int)w, (int)h, TJPF_RGB, TJSAMP_420, 80, TJFLAG_PROGRESSIVE, &lens[0]);
  pngenc e = {SPNG_COLOR_TYPE_TRUECOLOR, 8, 0, NULL, 0, -1};
  files[1] = png_encode(px, (size_t)w * h * 3, w, h, &e, &lens[1]);
  uint8_t *webp = NULL;
  lens[2] = WebPEncodeRGB(px, (int)w, (int)h, (int)w * 3, 80.0f, &webp);
  files[2] = malloc(lens[2]);
  memcpy(files[2], webp, lens[2]);
  WebPFree(webp);
  files[3] = bmp_make(px, (int)w, (int)h, 24, 0, &lens[3]);
  pv_decode_opts o = opts0();
  o.max_pixels = 1u << 20;
  uint32_t rng = 12345;
  for (int f = 0; f < 4; f++) {
    uint8_t *copy = malloc(lens[f]);
    for (int trial = 0; trial < 300; trial++) {
      memcpy(copy, files[f], lens[f]);
      for (int k = 0; k < 1 + trial % 4; k++) {
        rng = rng * 1103515245u + 12345u;
        size_t at = (rng >> 8) % lens[f];
        rng = rng * 1103515245u + 12345u;
        copy[at] ^= (uint8_t)(1u << ((rng >> 16) % 8));
      }
      pv_image img;
      char err[200];
      pv_status st = pv__decode_image(copy, lens[f], &o, &img, err, sizeof err);
      if (st == PV_OK) {
        assert_non_null(img.pixels);
        pv__image_free(&img);
      } else {
        assert_null(img.pixels);
      }
      pv_src_info info;
      (void)pv__probe_image(copy, lens[f], &info, err, sizeof err);
    }
    free(copy);
    free(files[f]);
  }
  free(px);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sniff),
      cmocka_unit_test(test_garbage_and_args),
      cmocka_unit_test(test_jpeg_baseline),
      cmocka_unit_test(test_jpeg_progressive_restart_arith),
      cmocka_unit_test(test_jpeg_gray),
      cmocka_unit_test(test_jpeg_cmyk),
      cmocka_unit_test(test_jpeg_truncated_and_corrupt),
      cmocka_unit_test(test_jpeg_dct_scaling),
      cmocka_unit_test(test_exif_orientation),
      cmocka_unit_test(test_pixel_limit),
      cmocka_unit_test(test_png_rgb_rgba),
      cmocka_unit_test(test_png_gray_palette_16bit),
      cmocka_unit_test(test_png_corrupt),
      cmocka_unit_test(test_webp),
      cmocka_unit_test(test_webp_exif),
      cmocka_unit_test(test_tiff),
      cmocka_unit_test(test_bmp),
      cmocka_unit_test(test_pnm),
      cmocka_unit_test(test_hostile_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

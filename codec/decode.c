/* decode.c - source image decoding for the packer: bytes of one file in,
 * tightly packed 8-bit RGB out, matching PIL's Image.open().convert('RGB').
 *
 * Every format goes through a maintained library; this file only sniffs
 * magic numbers, validates headers it must read before allocating, and
 * converts the library's output to RGB:
 *   JPEG  libjpeg-turbo, libjpeg API (error manager, warnings as errors,
 *         APP1 kept for EXIF, DCT scaling, CMYK/YCCK converted as PIL does)
 *   PNG   libspng (CRC errors fatal, chunks read through IEND)
 *   WebP  libwebp (still images; animated files are refused)
 *   TIFF  libtiff through TIFFClientOpenExt on the memory buffer, with
 *         per-handle error handlers (nothing is printed, no global state)
 *   BMP, PNM
 *         stb_image (Debian package libstb-dev, pkg-config name "stb",
 *         header <stb_image.h>, library -lstb). libjpeg-turbo has BMP and
 *         PPM readers but does not export them (tjLoadImage reads only from
 *         a file name); stb_image decodes both from memory and is the
 *         packaged, maintained choice. Its gaps are filled here by header
 *         checks: stb does not notice truncated pixel data (it returns
 *         uninitialised bytes), does not scale PNM samples by maxval and
 *         does not read plain (ASCII) or bitmap PNM (P1-P4), which are
 *         therefore refused as unsupported.
 *
 * Known differences from PIL (Pillow 10):
 *   - 16-bit gray PNG/PGM are scaled to 8 bits (PIL clips them to white).
 *   - Any libjpeg warning fails the file (PIL decodes what it can).
 *   - TIFF goes through libtiff's RGBA interface: unassociated alpha is
 *     premultiplied before it is dropped, so semi-transparent pixels of an
 *     RGBA TIFF come out darker than PIL's; libtiff warnings are ignored.
 *   - RLE-compressed BMP and PNM P1-P4 are refused (stb_image lacks them).
 *
 * Thread-safety: reentrant, no global state; all library handles are per
 * call. Output is a pure function of the input bytes and the options.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <spng.h>
#include <stb_image.h>
#include <tiffio.h>
#include <webp/decode.h>

#include "decode.h"
#include "jpeg_dec.h"
#include "read_limits.h"

/* Size of a chunk that spng may hold in memory (text, ICC profile...). */
#define PV_PNG_CHUNK_LIMIT ((size_t)64 << 20)
/* libtiff's largest single allocation for one handle. */
#define PV_TIFF_MAX_ALLOC ((tmsize_t)1 << 30)
/* libjpeg's own working memory (chiefly the whole-image coefficient arrays
 * of progressive and multi-scan files, which it zero-fills up front, so a
 * 200-byte file claiming 65500x65500 would otherwise touch 25 GB before
 * reading a single scan) and its scans are bounded with the reader's
 * functions (codec/read_limits.h), with the packer's own limits: decoder
 * memory pv__decoder_memory_for_pixels(max_pixels) (what an image within
 * the pixel limit can need: 4 components of 2-byte coefficients per pixel
 * plus 64 MiB, at most 4 GiB), checked from the header before
 * jpeg_start_decompress allocates; and PV_LIMITS_DEFAULT_SCANS scans (a
 * legitimate progressive file has about ten; each scan is a pass over the
 * whole coefficient array, so thousands of tiny scans make a small file
 * take minutes), the reader's default, so that no record the packer keeps
 * is refused by a default reader. */
static void jpeg_limits(const pv_decode_opts *o, pv_limits *L) {
  pv_limits_init(L);
  L->max_record_pixels = 0; /* check_limit does that, with the packer's message */
  L->max_record_bytes = 0;
  L->max_decoder_memory = pv__decoder_memory_for_pixels(o ? o->max_pixels : 0);
  L->max_scans = PV_LIMITS_DEFAULT_SCANS;
}

/* ---- small helpers ------------------------------------------------------ */



static uint16_t rd16(const uint8_t *p, int le) {
  return le ? (uint16_t)(p[0] | p[1] << 8) : (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p, int le) {
  return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
            : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Refuses an image over the caller's pixel limit, from its header size. */
static pv_status check_limit(uint32_t w, uint32_t h, const pv_decode_opts *o, char *err,
                             size_t cap) {
  if (w == 0 || h == 0) return pv__codec_failf(err, cap, PV_ERR_DECODE, "image has zero size %ux%u", w, h);
  if (o->max_pixels && (uint64_t)w * h > o->max_pixels)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "image %ux%u exceeds the pixel limit %llu", w, h,
                 (unsigned long long)o->max_pixels);
  if ((uint64_t)w * h > SIZE_MAX / 4)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "image %ux%u is too large for this machine", w, h);
  return PV_OK;
}

/* Allocates the w*h*3 output; the size was bounded by check_limit. */
static pv_status alloc_image(pv_image *img, uint32_t w, uint32_t h, char *err, size_t cap) {
  img->pixels = malloc((size_t)w * h * 3);
  if (!img->pixels)
    return pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory for a %ux%u image", w, h);
  img->width = w;
  img->height = h;
  return PV_OK;
}

void pv__image_free(pv_image *img) {
  if (!img) return;
  free(img->pixels);
  img->pixels = NULL;
  img->width = img->height = 0;
}

const char *pv__src_format_name(pv_src_format f) {
  switch (f) {
  case PV_SRC_JPEG: return "jpeg";
  case PV_SRC_PNG: return "png";
  case PV_SRC_WEBP: return "webp";
  case PV_SRC_BMP: return "bmp";
  case PV_SRC_PNM: return "pnm";
  case PV_SRC_TIFF: return "tiff";
  case PV_SRC_UNKNOWN: break;
  }
  return "unknown";
}

static int is_pnm_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

pv_src_format pv__sniff(const uint8_t *b, size_t n) {
  if (!b) return PV_SRC_UNKNOWN;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return PV_SRC_JPEG;
  if (n >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return PV_SRC_PNG;
  if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4)) return PV_SRC_WEBP;
  /* Classic and BigTIFF, either byte order. */
  if (n >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4) || !memcmp(b, "II+\0", 4) ||
                 !memcmp(b, "MM\0+", 4)))
    return PV_SRC_TIFF;
  if (n >= 2 && b[0] == 'B' && b[1] == 'M') return PV_SRC_BMP;
  if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' && is_pnm_space(b[2]))
    return PV_SRC_PNM;
  return PV_SRC_UNKNOWN;
}

/* ---- EXIF orientation ---------------------------------------------------- */

/* Orientation (1..8) from a TIFF-structured EXIF block (the part after
 * "Exif\0\0"), or 1 when absent or malformed. Untrusted: every offset is
 * checked against n before it is read. */
static int exif_orientation(const uint8_t *p, size_t n) {
  if (n >= 6 && !memcmp(p, "Exif\0\0", 6)) {
    p += 6;
    n -= 6;
  }
  if (n < 8) return 1;
  int le;
  if (p[0] == 'I' && p[1] == 'I') le = 1;
  else if (p[0] == 'M' && p[1] == 'M') le = 0;
  else return 1;
  if (rd16(p + 2, le) != 42) return 1;
  uint32_t ifd = rd32(p + 4, le);
  if (ifd > n || n - ifd < 2) return 1;
  uint32_t count = rd16(p + ifd, le);
  size_t e = (size_t)ifd + 2;
  for (uint32_t i = 0; i < count && n - e >= 12; i++, e += 12) {
    if (rd16(p + e, le) != 0x0112) continue;
    uint16_t type = rd16(p + e + 2, le);
    uint32_t cnt = rd32(p + e + 4, le);
    uint32_t v = 0;
    if (cnt == 1 && type == 3) v = rd16(p + e + 8, le);      /* SHORT, as the spec says */
    else if (cnt == 1 && type == 4) v = rd32(p + e + 8, le); /* LONG, seen in the wild */
    return v >= 1 && v <= 8 ? (int)v : 1;
  }
  return 1;
}

/* Applies an EXIF orientation (PIL's ImageOps.exif_transpose) to img.
 * Orientations 5..8 swap width and height. */
static pv_status apply_orientation(pv_image *img, int o, char *err, size_t cap) {
  if (o <= 1 || o > 8) return PV_OK;
  const size_t W = img->width, H = img->height;
  const uint8_t *src = img->pixels;
  uint8_t *dst = malloc(W * H * 3);
  if (!dst) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory applying EXIF orientation");
  int swap = o >= 5;
  size_t ow = swap ? H : W, oh = swap ? W : H;
  /* For output row oy: start pixel in src and the src step (in pixels,
   * signed) between consecutive output pixels of that row. */
  for (size_t oy = 0; oy < oh; oy++) {
    ptrdiff_t start, step;
    switch (o) {
    case 2: start = (ptrdiff_t)(oy * W + W - 1); step = -1; break;             /* mirror */
    case 3: start = (ptrdiff_t)((H - 1 - oy) * W + W - 1); step = -1; break;   /* 180 */
    case 4: start = (ptrdiff_t)((H - 1 - oy) * W); step = 1; break;            /* flip */
    case 5: start = (ptrdiff_t)oy; step = (ptrdiff_t)W; break;                 /* transpose */
    case 6: start = (ptrdiff_t)((H - 1) * W + oy); step = -(ptrdiff_t)W; break; /* 90 cw */
    case 7: start = (ptrdiff_t)((H - 1) * W + W - 1 - oy); step = -(ptrdiff_t)W; break;
    default: start = (ptrdiff_t)(W - 1 - oy); step = (ptrdiff_t)W; break;      /* 8: 90 ccw */
    }
    const uint8_t *s = src + start * 3;
    uint8_t *d = dst + oy * ow * 3;
    for (size_t ox = 0; ox < ow; ox++, s += step * 3, d += 3) {
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
  free(img->pixels);
  img->pixels = dst;
  img->width = (uint32_t)ow;
  img->height = (uint32_t)oh;
  return PV_OK;
}

/* ---- JPEG (libjpeg API) ---------------------------------------------------- */

/* The error manager, the warning rule (any libjpeg warning fails the file:
 * it is skipped rather than packed with grey blocks), the scan-limit
 * progress monitor and the memory backstop are the record decoders' own:
 * jpeg_dec.h, with the packer's limits (jpeg_limits). */

/* State of one JPEG job. It lives in the caller's frame, so nothing that
 * the setjmp-ing function changes is a local of that function (C11
 * 7.13.2.1p3). */
typedef struct jpeg_job {
  const uint8_t *buf;
  size_t len;
  const pv_decode_opts *opts; /* NULL: read headers only */
  pv_jdec jd;                 /* the libjpeg object, error manager, progress monitor */
  pv_limits limits;           /* jpeg_limits(opts) */
  pv_src_info info;
  pv_image img;
  JSAMPROW *rows;
  uint8_t *cmyk;
  pv_status st;
  char *err;
  size_t errcap;
} jpeg_job;

static int jpeg_orientation(j_decompress_ptr ci) {
  for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6))
      return exif_orientation(m->data, m->data_length);
  return 1;
}

/* Smallest scale num/8 (libjpeg-turbo's DCT scaling) whose output is still
 * at least min_w x min_h; 8/8 when no minimum is given or none fits. */
static int jpeg_pick_scale(uint32_t w, uint32_t h, uint32_t min_w, uint32_t min_h) {
  if (min_w == 0 && min_h == 0) return 8;
  for (int num = 1; num < 8; num++) {
    uint64_t sw = ((uint64_t)w * num + 7) / 8, sh = ((uint64_t)h * num + 7) / 8;
    if (sw >= min_w && sh >= min_h) return num;
  }
  return 8;
}

/* CMYK as libjpeg returns it (Adobe-inverted, YCCK already turned into
 * CMYK) to RGB exactly as PIL: it un-inverts ("CMYK;I") and then applies
 * cmyk2rgb, R = (255-K) - (C*(255-K) + 128) rounded /255. */
static void cmyk_to_rgb(const uint8_t *in, uint8_t *out, size_t n) {
  for (size_t x = 0; x < n; x++, in += 4, out += 3) {
    int nk = in[3]; /* 255 - K, with K = 255 - raw */
    for (int c = 0; c < 3; c++) {
      int v = 255 - in[c];
      int t = v * nk + 128;
      int r = nk - (((t >> 8) + t) >> 8);
      out[c] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
    }
  }
}

static void jpeg_run(jpeg_job *j) {
  j_decompress_ptr ci = &j->jd.ci;
  if (setjmp(j->jd.err.jb)) {
    /* The scan limit, the memory backstop (PV_ERR_LIMIT), damage. */
    j->st = pv__jdec_error(&j->jd, j->err, j->errcap);
    return;
  }
  jpeg_limits(j->opts, &j->limits);
  pv__jdec_source(&j->jd, &j->limits, j->buf, j->len);
  jpeg_save_markers(ci, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(ci, TRUE);

  j->info.format = PV_SRC_JPEG;
  j->info.width = ci->image_width;
  j->info.height = ci->image_height;
  j->info.orientation = jpeg_orientation(ci);
  j->info.jpeg_is_ycc3 = ci->num_components == 3 && ci->jpeg_color_space == JCS_YCbCr;
  if (!j->opts) {
    j->st = PV_OK;
    return;
  }
  const pv_decode_opts *o = j->opts;
  if ((j->st = check_limit(ci->image_width, ci->image_height, o, j->err, j->errcap)) != PV_OK)
    return;
  /* Decoder memory from the header, and the scans of a multi-scan file,
   * before jpeg_start_decompress allocates (the reader's functions). */
  {
    pv_jpeg_facts f;
    pv__jpeg_facts_of(ci, &f);
    char why[200];
    if ((j->st = pv__limit_jpeg_header(&j->limits, &f, j->buf, j->len, why, sizeof why)) !=
        PV_OK) {
      j->st = pv__codec_failf(j->err, j->errcap, j->st, "%s", why);
      return;
    }
  }

  int cmyk = 0;
  switch (ci->jpeg_color_space) {
  case JCS_GRAYSCALE:
  case JCS_YCbCr:
  case JCS_RGB: ci->out_color_space = JCS_RGB; break;
  case JCS_CMYK:
  case JCS_YCCK:
    ci->out_color_space = JCS_CMYK;
    cmyk = 1;
    break;
  default:
    j->st = pv__codec_failf(j->err, j->errcap, PV_ERR_UNSUPPORTED, "JPEG: unsupported color space %d",
                  (int)ci->jpeg_color_space);
    return;
  }
  ci->dct_method = JDCT_ISLOW;  /* PIL's default: fidelity over speed */
  ci->do_fancy_upsampling = TRUE;
  ci->scale_num = (unsigned)jpeg_pick_scale(ci->image_width, ci->image_height, o->min_width,
                                            o->min_height);
  ci->scale_denom = 8;
  jpeg_start_decompress(ci);
  if (ci->output_components != (cmyk ? 4 : 3)) {
    j->st = pv__codec_failf(j->err, j->errcap, PV_ERR_DECODE, "JPEG: unexpected %d output components",
                  ci->output_components);
    return;
  }
  const uint32_t w = ci->output_width, h = ci->output_height;
  if ((j->st = alloc_image(&j->img, w, h, j->err, j->errcap)) != PV_OK) return;
  if (cmyk) {
    j->cmyk = malloc((size_t)w * 4);
    if (!j->cmyk) {
      j->st = pv__codec_failf(j->err, j->errcap, PV_ERR_NOMEM, "out of memory");
      return;
    }
    while (ci->output_scanline < h) {
      JSAMPROW row = j->cmyk;
      uint32_t y = ci->output_scanline;
      if (jpeg_read_scanlines(ci, &row, 1) != 1) break;
      cmyk_to_rgb(j->cmyk, j->img.pixels + (size_t)y * w * 3, w);
    }
  } else {
    j->rows = malloc((size_t)h * sizeof *j->rows);
    if (!j->rows) {
      j->st = pv__codec_failf(j->err, j->errcap, PV_ERR_NOMEM, "out of memory");
      return;
    }
    for (uint32_t y = 0; y < h; y++) j->rows[y] = j->img.pixels + (size_t)y * w * 3;
    while (ci->output_scanline < h)
      if (jpeg_read_scanlines(ci, j->rows + ci->output_scanline, h - ci->output_scanline) == 0)
        break;
  }
  if (ci->output_scanline < h) {
    j->st = pv__codec_failf(j->err, j->errcap, PV_ERR_DECODE, "JPEG: decoder stopped at row %u of %u",
                  ci->output_scanline, h);
    return;
  }
  jpeg_finish_decompress(ci); /* reads up to EOI: a missing end is a warning, hence an error */
  j->st = PV_OK;
}

/* Runs a JPEG job and releases everything but a successful image. */
static pv_status jpeg_job_do(jpeg_job *j) {
  j->st = PV_ERR_DECODE;
  if ((unsigned long)j->len != j->len)
    return pv__codec_failf(j->err, j->errcap, PV_ERR_LIMIT, "JPEG file too large");
  if (pv__jdec_create(&j->jd) != PV_OK)
    return pv__codec_failf(j->err, j->errcap, PV_ERR_NOMEM, "JPEG: out of memory");
  jpeg_run(j);
  pv__jdec_destroy(&j->jd);
  free(j->rows);
  free(j->cmyk);
  if (j->st != PV_OK) pv__image_free(&j->img);
  return j->st;
}

static pv_status decode_jpeg(const uint8_t *buf, size_t len, const pv_decode_opts *o,
                             pv_image *out, char *err, size_t cap) {
  jpeg_job j;
  memset(&j, 0, sizeof j);
  j.buf = buf;
  j.len = len;
  j.opts = o;
  j.err = err;
  j.errcap = cap;
  pv_status st = jpeg_job_do(&j);
  if (st != PV_OK) return st;
  if (o->apply_exif_orientation &&
      (st = apply_orientation(&j.img, j.info.orientation, err, cap)) != PV_OK) {
    pv__image_free(&j.img);
    return st;
  }
  *out = j.img;
  return PV_OK;
}

static pv_status probe_jpeg(const uint8_t *buf, size_t len, pv_src_info *info, char *err,
                            size_t cap) {
  jpeg_job j;
  memset(&j, 0, sizeof j);
  j.buf = buf;
  j.len = len;
  j.err = err;
  j.errcap = cap;
  pv_status st = jpeg_job_do(&j);
  if (st == PV_OK) *info = j.info;
  return st;
}

/* ---- PNG (libspng) ----------------------------------------------------------- */

static pv_status png_fail(int rc, char *err, size_t cap) {
  if (rc == SPNG_EMEM) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "PNG: out of memory");
  if (rc == SPNG_ECHUNK_CRC) return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNG CRC error");
  if (rc == SPNG_EOF || rc == SPNG_EIDAT_TOO_SHORT)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNG: premature end of data (%s)", spng_strerror(rc));
  return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNG: %s", spng_strerror(rc));
}

/* Opens a PNG context with strict checks and safety limits and reads the
 * header and the chunks before IDAT. */
static pv_status png_open(const uint8_t *buf, size_t len, spng_ctx **ctxp,
                          struct spng_ihdr *ihdr, int *orientation, char *err, size_t cap) {
  spng_ctx *ctx = spng_ctx_new(0);
  if (!ctx) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "PNG: out of memory");
  int rc;
  if ((rc = spng_set_crc_action(ctx, SPNG_CRC_ERROR, SPNG_CRC_ERROR)) ||
      (rc = spng_set_chunk_limits(ctx, PV_PNG_CHUNK_LIMIT, PV_PNG_CHUNK_LIMIT)) ||
      (rc = spng_set_image_limits(ctx, 1u << 24, 1u << 24)) ||
      (rc = spng_set_png_buffer(ctx, buf, len)) || (rc = spng_get_ihdr(ctx, ihdr)))
    goto out_fail;
  struct spng_exif exif;
  *orientation = 1;
  rc = spng_get_exif(ctx, &exif);
  if (rc == 0) *orientation = exif_orientation((const uint8_t *)exif.data, exif.length);
  else if (rc != SPNG_ECHUNKAVAIL) goto out_fail;
  *ctxp = ctx;
  return PV_OK;
out_fail:
  spng_ctx_free(ctx);
  return png_fail(rc, err, cap);
}

static pv_status probe_png(const uint8_t *buf, size_t len, pv_src_info *info, char *err,
                           size_t cap) {
  spng_ctx *ctx;
  struct spng_ihdr ihdr;
  int orient;
  pv_status st = png_open(buf, len, &ctx, &ihdr, &orient, err, cap);
  if (st != PV_OK) return st;
  spng_ctx_free(ctx);
  info->format = PV_SRC_PNG;
  info->width = ihdr.width;
  info->height = ihdr.height;
  info->orientation = orient;
  return PV_OK;
}

/* Every PNG color type and depth to RGB8: palette expanded, gray
 * replicated, alpha and tRNS ignored (convert('RGB') drops, it does not
 * composite), 16-bit samples reduced to their high byte as PIL's ";16B"
 * raw modes do (so 16-bit gray is scaled, not clipped). No gamma. */
static pv_status decode_png(const uint8_t *buf, size_t len, const pv_decode_opts *o,
                            pv_image *out, char *err, size_t cap) {
  spng_ctx *ctx;
  struct spng_ihdr ihdr;
  int orient, rc;
  pv_image img = {0};
  pv_status st = png_open(buf, len, &ctx, &ihdr, &orient, err, cap);
  if (st != PV_OK) return st;
  if ((st = check_limit(ihdr.width, ihdr.height, o, err, cap)) != PV_OK) goto out_ctx;
  size_t need;
  if ((rc = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need)) != 0) {
    st = png_fail(rc, err, cap);
    goto out_ctx;
  }
  if (need != (size_t)ihdr.width * ihdr.height * 3) {
    st = pv__codec_failf(err, cap, PV_ERR_DECODE, "PNG: unexpected decoded size %zu", need);
    goto out_ctx;
  }
  if ((st = alloc_image(&img, ihdr.width, ihdr.height, err, cap)) != PV_OK) goto out_ctx;
  if ((rc = spng_decode_image(ctx, img.pixels, need, SPNG_FMT_RGB8, 0)) != 0 ||
      (rc = spng_decode_chunks(ctx)) != 0) { /* the rest, through IEND: CRCs, truncation */
    st = png_fail(rc, err, cap);
    goto out_img;
  }
  if (o->apply_exif_orientation && (st = apply_orientation(&img, orient, err, cap)) != PV_OK)
    goto out_img;
  spng_ctx_free(ctx);
  *out = img;
  return PV_OK;
out_img:
  pv__image_free(&img);
out_ctx:
  spng_ctx_free(ctx);
  return st;
}

/* ---- WebP (libwebp) ------------------------------------------------------------ */

static const char *webp_status_name(VP8StatusCode s) {
  switch (s) {
  case VP8_STATUS_OK: return "ok";
  case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
  case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
  case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
  case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
  case VP8_STATUS_SUSPENDED: return "suspended";
  case VP8_STATUS_USER_ABORT: return "aborted";
  case VP8_STATUS_NOT_ENOUGH_DATA: return "premature end of data";
  }
  return "unknown error";
}

/* Orientation from the EXIF chunk of an extended (VP8X) WebP, found by
 * walking the RIFF chunk list; 1 when absent. libwebp's simple API does not
 * expose metadata, and the demux library is not a dependency. */
static int webp_orientation(const uint8_t *b, size_t n) {
  if (n < 30 || memcmp(b + 12, "VP8X", 4) || !(b[20] & 0x08)) return 1;
  uint32_t riff = rd32(b + 4, 1);
  if ((uint64_t)riff + 8 < n) n = (size_t)riff + 8;
  if (n < 30) return 1; /* the RIFF size leaves no room for the chunks */
  size_t p = 12;
  while (n - p >= 8) {
    uint32_t sz = rd32(b + p + 4, 1);
    if (sz > n - p - 8) return 1;
    if (!memcmp(b + p, "EXIF", 4)) return exif_orientation(b + p + 8, sz);
    p += 8 + (size_t)sz + (sz & 1);
    if (p > n) return 1;
  }
  return 1;
}

static pv_status probe_webp(const uint8_t *buf, size_t len, pv_src_info *info, char *err,
                            size_t cap) {
  WebPBitstreamFeatures f;
  VP8StatusCode s = WebPGetFeatures(buf, len, &f);
  if (s != VP8_STATUS_OK)
    return pv__codec_failf(err, cap, s == VP8_STATUS_OUT_OF_MEMORY ? PV_ERR_NOMEM : PV_ERR_DECODE,
                 "WebP: %s", webp_status_name(s));
  if (f.width <= 0 || f.height <= 0)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "WebP: bad size %dx%d", f.width, f.height);
  info->format = PV_SRC_WEBP;
  info->width = (uint32_t)f.width;
  info->height = (uint32_t)f.height;
  info->orientation = webp_orientation(buf, len);
  if (f.has_animation)
    return pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED, "animated WebP is not supported");
  return PV_OK;
}

static pv_status decode_webp(const uint8_t *buf, size_t len, const pv_decode_opts *o,
                             pv_image *out, char *err, size_t cap) {
  pv_src_info info = {0};
  pv_image img = {0};
  pv_status st = probe_webp(buf, len, &info, err, cap);
  if (st != PV_OK) return st;
  if ((st = check_limit(info.width, info.height, o, err, cap)) != PV_OK) return st;
  if ((st = alloc_image(&img, info.width, info.height, err, cap)) != PV_OK) return st;
  WebPDecoderConfig cfg;
  if (!WebPInitDecoderConfig(&cfg)) {
    st = pv__codec_failf(err, cap, PV_ERR_DECODE, "WebP: library version mismatch");
    goto out_img;
  }
  cfg.output.colorspace = MODE_RGB; /* alpha dropped, as convert('RGB') */
  cfg.output.is_external_memory = 1;
  cfg.output.u.RGBA.rgba = img.pixels;
  cfg.output.u.RGBA.stride = (int)info.width * 3;
  cfg.output.u.RGBA.size = (size_t)info.width * info.height * 3;
  VP8StatusCode s = WebPDecode(buf, len, &cfg);
  WebPFreeDecBuffer(&cfg.output); /* external memory: frees nothing of ours */
  if (s != VP8_STATUS_OK) {
    st = pv__codec_failf(err, cap, s == VP8_STATUS_OUT_OF_MEMORY ? PV_ERR_NOMEM : PV_ERR_DECODE,
               "WebP: %s", webp_status_name(s));
    goto out_img;
  }
  if (o->apply_exif_orientation &&
      (st = apply_orientation(&img, info.orientation, err, cap)) != PV_OK)
    goto out_img;
  *out = img;
  return PV_OK;
out_img:
  pv__image_free(&img);
  return st;
}

/* ---- TIFF (libtiff on a memory buffer) ---------------------------------------- */

typedef struct tiff_mem {
  const uint8_t *buf;
  toff_t size, pos;
  int failed;
  char msg[160];
} tiff_mem;

static tmsize_t tiff_read(thandle_t h, void *dst, tmsize_t n) {
  tiff_mem *m = (tiff_mem *)h;
  if (n <= 0 || m->pos >= m->size) return 0;
  toff_t left = m->size - m->pos;
  if ((toff_t)n > left) n = (tmsize_t)left;
  memcpy(dst, m->buf + m->pos, (size_t)n);
  m->pos += (toff_t)n;
  return n;
}

static tmsize_t tiff_write(thandle_t h, void *src, tmsize_t n) {
  (void)h;
  (void)src;
  (void)n;
  return -1;
}

static toff_t tiff_seek(thandle_t h, toff_t off, int whence) {
  tiff_mem *m = (tiff_mem *)h;
  toff_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
  if (off > UINT64_MAX - base) return (toff_t)-1;
  m->pos = base + off; /* past the end is allowed; reads there return 0 */
  return m->pos;
}

static int tiff_close(thandle_t h) {
  (void)h;
  return 0;
}

static toff_t tiff_size(thandle_t h) { return ((tiff_mem *)h)->size; }

static int tiff_map(thandle_t h, void **base, toff_t *size) {
  (void)h;
  (void)base;
  (void)size;
  return 0; /* never let libtiff work in our (read-only) buffer */
}

static void tiff_unmap(thandle_t h, void *base, toff_t size) {
  (void)h;
  (void)base;
  (void)size;
}

/* Keeps the first error in the handle's context and stops libtiff from
 * printing it. */
static int tiff_on_error(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
  (void)t;
  (void)module;
  tiff_mem *m = (tiff_mem *)ud;
  if (!m->failed) vsnprintf(m->msg, sizeof m->msg, fmt, ap);
  m->failed = 1;
  return 1;
}

/* Warnings (unknown tags, odd but readable fields) are common in valid
 * files and are ignored, silently. */
static int tiff_on_warning(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
  (void)t;
  (void)ud;
  (void)module;
  (void)fmt;
  (void)ap;
  return 1;
}

static pv_status tiff_open(const uint8_t *buf, size_t len, tiff_mem *m, TIFF **tp, char *err,
                           size_t cap) {
  memset(m, 0, sizeof *m);
  m->buf = buf;
  m->size = len;
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) return pv__codec_failf(err, cap, PV_ERR_NOMEM, "TIFF: out of memory");
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, PV_TIFF_MAX_ALLOC);
  TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, m);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, m);
  /* "m": no memory mapping; libtiff reads through tiff_read only. */
  TIFF *t = TIFFClientOpenExt("memory", "rm", (thandle_t)m, tiff_read, tiff_write, tiff_seek,
                              tiff_close, tiff_size, tiff_map, tiff_unmap, opts);
  TIFFOpenOptionsFree(opts);
  if (!t)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "TIFF: %s", m->failed ? m->msg : "cannot open");
  *tp = t;
  return PV_OK;
}

static pv_status tiff_header(TIFF *t, tiff_mem *m, pv_src_info *info, char *err, size_t cap) {
  uint32_t w = 0, h = 0;
  uint16_t orient = ORIENTATION_TOPLEFT;
  if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h))
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "TIFF: %s", m->failed ? m->msg : "no image size");
  TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, &orient);
  info->format = PV_SRC_TIFF;
  info->width = w;
  info->height = h;
  info->orientation = orient >= 1 && orient <= 8 ? orient : 1;
  return PV_OK;
}

static pv_status probe_tiff(const uint8_t *buf, size_t len, pv_src_info *info, char *err,
                            size_t cap) {
  tiff_mem m;
  TIFF *t;
  pv_status st = tiff_open(buf, len, &m, &t, err, cap);
  if (st != PV_OK) return st;
  st = tiff_header(t, &m, info, err, cap);
  TIFFClose(t);
  return st;
}

/* First image of a TIFF through libtiff's RGBA interface, in stored row
 * order (PIL ignores the orientation tag unless asked to transpose). */
static pv_status decode_tiff(const uint8_t *buf, size_t len, const pv_decode_opts *o,
                             pv_image *out, char *err, size_t cap) {
  tiff_mem m;
  TIFF *t;
  pv_src_info info = {0};
  pv_image img = {0};
  uint32_t *raster = NULL;
  char emsg[1024] = "";
  TIFFRGBAImage ri;
  pv_status st = tiff_open(buf, len, &m, &t, err, cap);
  if (st != PV_OK) return st;
  if ((st = tiff_header(t, &m, &info, err, cap)) != PV_OK) goto out_tiff;
  if ((st = check_limit(info.width, info.height, o, err, cap)) != PV_OK) goto out_tiff;
  if (!TIFFRGBAImageOK(t, emsg)) {
    st = pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED, "TIFF: %s", emsg);
    goto out_tiff;
  }
  if (!TIFFRGBAImageBegin(&ri, t, 1, emsg)) {
    st = pv__codec_failf(err, cap, PV_ERR_DECODE, "TIFF: %s", m.failed ? m.msg : emsg);
    goto out_tiff;
  }
  /* Orientation is applied (or not) by us, for all formats alike. */
  ri.req_orientation = ORIENTATION_TOPLEFT;
  ri.orientation = ORIENTATION_TOPLEFT;
  raster = malloc((size_t)info.width * info.height * sizeof *raster);
  if (!raster) {
    st = pv__codec_failf(err, cap, PV_ERR_NOMEM, "out of memory for a %ux%u image", info.width,
               info.height);
    goto out_rgba;
  }
  if (!TIFFRGBAImageGet(&ri, raster, info.width, info.height) || m.failed) {
    st = pv__codec_failf(err, cap, PV_ERR_DECODE, "TIFF: %s", m.failed ? m.msg : "read error");
    goto out_rgba;
  }
  if ((st = alloc_image(&img, info.width, info.height, err, cap)) != PV_OK) goto out_rgba;
  size_t n = (size_t)info.width * info.height;
  for (size_t i = 0; i < n; i++) {
    img.pixels[3 * i + 0] = (uint8_t)TIFFGetR(raster[i]);
    img.pixels[3 * i + 1] = (uint8_t)TIFFGetG(raster[i]);
    img.pixels[3 * i + 2] = (uint8_t)TIFFGetB(raster[i]);
  }
  if (o->apply_exif_orientation &&
      (st = apply_orientation(&img, info.orientation, err, cap)) != PV_OK)
    goto out_rgba;
  *out = img;
  img.pixels = NULL;
  st = PV_OK;
out_rgba:
  TIFFRGBAImageEnd(&ri);
out_tiff:
  free(raster);
  pv__image_free(&img);
  TIFFClose(t);
  return st;
}

/* ---- BMP and PNM (stb_image) -------------------------------------------------- */

/* What stb_image is about to be given: size, and for PNM the maxval that it
 * ignores. need is the least file size that holds all the pixel data. */
typedef struct stb_hdr {
  uint32_t w, h;
  uint32_t maxval; /* PNM only */
  uint64_t data;   /* PNM only: offset of the first sample */
  uint64_t need;
} stb_hdr;

static int64_t s32le(const uint8_t *p) {
  uint32_t v = rd32(p, 1);
  return v & 0x80000000u ? (int64_t)v - 0x100000000LL : (int64_t)v;
}

static pv_status bmp_header(const uint8_t *b, size_t n, stb_hdr *hd, char *err, size_t cap) {
  if (n < 26) return pv__codec_failf(err, cap, PV_ERR_DECODE, "BMP: truncated header");
  uint32_t off = rd32(b + 10, 1), hsz = rd32(b + 14, 1), comp = 0, bpp;
  int64_t w, h;
  if (hsz == 12) {
    w = rd16(b + 18, 1);
    h = rd16(b + 20, 1);
    bpp = rd16(b + 24, 1);
  } else if (hsz == 40 || hsz == 56 || hsz == 108 || hsz == 124) {
    if (n < 34) return pv__codec_failf(err, cap, PV_ERR_DECODE, "BMP: truncated header");
    w = s32le(b + 18);
    h = s32le(b + 22);
    bpp = rd16(b + 28, 1);
    comp = rd32(b + 30, 1);
  } else {
    return pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED, "BMP: unsupported header size %u", hsz);
  }
  if (comp == 1 || comp == 2)
    return pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED, "BMP: RLE compression is not supported");
  if (comp != 0 && comp != 3)
    return pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED, "BMP: compression %u is not supported", comp);
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "BMP: bad bit depth %u", bpp);
  if (h < 0) h = -h; /* top-down */
  if (w <= 0 || h <= 0 || w > (1 << 24) || h > (1 << 24))
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "BMP: bad size %lldx%lld", (long long)w, (long long)h);
  hd->w = (uint32_t)w;
  hd->h = (uint32_t)h;
  hd->need = (uint64_t)off + ((uint64_t)w * bpp + 31) / 32 * 4 * (uint64_t)h;
  return PV_OK;
}

/* Reads one decimal header field the way stb_image does (whitespace and
 * '#' comments before it). Returns the value or -1. */
static int64_t pnm_field(const uint8_t *b, size_t n, size_t *pos) {
  size_t p = *pos;
  for (;;) {
    while (p < n && is_pnm_space(b[p])) p++;
    if (p < n && b[p] == '#') {
      while (p < n && b[p] != '\n' && b[p] != '\r') p++;
      continue;
    }
    break;
  }
  int64_t v = 0;
  size_t start = p;
  while (p < n && b[p] >= '0' && b[p] <= '9' && v < (1 << 30)) v = v * 10 + (b[p++] - '0');
  if (p == start || v >= (1 << 30)) return -1;
  *pos = p;
  return v;
}

static pv_status pnm_header(const uint8_t *b, size_t n, stb_hdr *hd, char *err, size_t cap) {
  if (n < 3) return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNM: truncated header");
  if (b[1] != '5' && b[1] != '6')
    return pv__codec_failf(err, cap, PV_ERR_UNSUPPORTED,
                 "PNM P%c (plain or bitmap) is not supported, only P5 and P6", b[1]);
  size_t p = 2;
  int64_t w = pnm_field(b, n, &p), h = pnm_field(b, n, &p), maxv = pnm_field(b, n, &p);
  if (w < 0 || h < 0 || maxv < 0 || p >= n || !is_pnm_space(b[p]))
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNM: bad or truncated header");
  p++; /* the single whitespace before the samples */
  if (w == 0 || h == 0 || w > (1 << 24) || h > (1 << 24))
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNM: bad size %lldx%lld", (long long)w, (long long)h);
  if (maxv < 1 || maxv > 65535)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "PNM: bad maxval %lld", (long long)maxv);
  hd->w = (uint32_t)w;
  hd->h = (uint32_t)h;
  hd->maxval = (uint32_t)maxv;
  hd->data = p;
  hd->need = p + (uint64_t)w * h * (b[1] == '6' ? 3 : 1) * (maxv > 255 ? 2 : 1);
  return PV_OK;
}

static pv_status stb_header(pv_src_format f, const uint8_t *b, size_t n, stb_hdr *hd, char *err,
                            size_t cap) {
  memset(hd, 0, sizeof *hd);
  pv_status st = f == PV_SRC_BMP ? bmp_header(b, n, hd, err, cap) : pnm_header(b, n, hd, err, cap);
  if (st != PV_OK) return st;
  if (n > INT_MAX)
    return pv__codec_failf(err, cap, PV_ERR_LIMIT, "%s file too large", f == PV_SRC_BMP ? "BMP" : "PNM");
  int x, y, c;
  if (!stbi_info_from_memory(b, (int)n, &x, &y, &c))
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "%s: %s", f == PV_SRC_BMP ? "BMP" : "PNM",
                 stbi_failure_reason() ? stbi_failure_reason() : "bad header");
  if ((uint32_t)x != hd->w || (uint32_t)(y < 0 ? -(int64_t)y : y) != hd->h) /* BMP top-down: -h */
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "%s: inconsistent header",
                 f == PV_SRC_BMP ? "BMP" : "PNM");
  return PV_OK;
}

static pv_status decode_stb(pv_src_format f, const uint8_t *b, size_t n, const pv_decode_opts *o,
                            pv_image *out, char *err, size_t cap) {
  const char *name = f == PV_SRC_BMP ? "BMP" : "PNM";
  stb_hdr hd;
  pv_status st = stb_header(f, b, n, &hd, err, cap);
  if (st != PV_OK) return st;
  if ((st = check_limit(hd.w, hd.h, o, err, cap)) != PV_OK) return st;
  if (n < hd.need)
    return pv__codec_failf(err, cap, PV_ERR_DECODE, "%s: truncated pixel data (%zu bytes, need %llu)", name,
                 n, (unsigned long long)hd.need);
  int x, y, c;
  pv_image img = {0};
  if (f == PV_SRC_PNM && hd.maxval > 255) {
    /* 16-bit samples. stb_image 2.27 mangles them when asked for another
     * channel count, so take them as stored (req_comp 0) and expand gray
     * here; it copies the file's big-endian bytes verbatim, which is
     * checked rather than assumed (a later stb may swap to host order). */
    uint16_t *px = stbi_load_16_from_memory(b, (int)n, &x, &y, &c, 0);
    if (!px) goto out_stb_fail;
    size_t cnt = (size_t)hd.w * hd.h;
    if ((uint32_t)x != hd.w || (uint32_t)y != hd.h || (c != 1 && c != 3)) {
      stbi_image_free(px);
      return pv__codec_failf(err, cap, PV_ERR_DECODE, "%s: inconsistent size", name);
    }
    if ((st = alloc_image(&img, hd.w, hd.h, err, cap)) != PV_OK) {
      stbi_image_free(px);
      return st;
    }
    int verbatim = !memcmp(px, b + hd.data, cnt * (size_t)c * 2);
    for (size_t i = 0; i < cnt * (size_t)c; i++) {
      const uint8_t *s = (const uint8_t *)&px[i];
      uint32_t v = verbatim ? (uint32_t)s[0] << 8 | s[1] : px[i];
      if (v > hd.maxval) v = hd.maxval;
      uint8_t q = (uint8_t)((v * 255u + hd.maxval / 2) / hd.maxval);
      if (c == 3) img.pixels[i] = q;
      else img.pixels[3 * i] = img.pixels[3 * i + 1] = img.pixels[3 * i + 2] = q;
    }
    stbi_image_free(px);
  } else {
    uint8_t *px = stbi_load_from_memory(b, (int)n, &x, &y, &c, 3);
    if (!px) goto out_stb_fail;
    if ((uint32_t)x != hd.w || (uint32_t)y != hd.h) {
      stbi_image_free(px);
      return pv__codec_failf(err, cap, PV_ERR_DECODE, "%s: inconsistent size", name);
    }
    if ((st = alloc_image(&img, hd.w, hd.h, err, cap)) != PV_OK) {
      stbi_image_free(px);
      return st;
    }
    size_t cnt = (size_t)hd.w * hd.h * 3;
    if (f == PV_SRC_PNM && hd.maxval != 255) {
      for (size_t i = 0; i < cnt; i++) {
        uint32_t v = px[i] > hd.maxval ? hd.maxval : px[i];
        img.pixels[i] = (uint8_t)((v * 255u + hd.maxval / 2) / hd.maxval);
      }
    } else {
      memcpy(img.pixels, px, cnt);
    }
    stbi_image_free(px);
  }
  *out = img;
  return PV_OK;
out_stb_fail:;
  const char *why = stbi_failure_reason();
  return pv__codec_failf(err, cap, why && !strcmp(why, "outofmem") ? PV_ERR_NOMEM : PV_ERR_DECODE,
               "%s: %s", name, why ? why : "decode failed");
}

/* ---- entry points --------------------------------------------------------------- */

pv_status pv__probe_image(const uint8_t *buf, size_t len, pv_src_info *info, char *err,
                          size_t errcap) {
  if (err && errcap) err[0] = '\0';
  if (!info || (!buf && len)) return pv__codec_failf(err, errcap, PV_ERR_INVALID_ARG, "invalid argument");
  memset(info, 0, sizeof *info);
  info->orientation = 1;
  pv_src_format f = pv__sniff(buf, len);
  switch (f) {
  case PV_SRC_JPEG: return probe_jpeg(buf, len, info, err, errcap);
  case PV_SRC_PNG: return probe_png(buf, len, info, err, errcap);
  case PV_SRC_WEBP: return probe_webp(buf, len, info, err, errcap);
  case PV_SRC_TIFF: return probe_tiff(buf, len, info, err, errcap);
  case PV_SRC_BMP:
  case PV_SRC_PNM: {
    stb_hdr hd;
    info->format = f;
    pv_status st = stb_header(f, buf, len, &hd, err, errcap);
    if (st != PV_OK) return st;
    info->width = hd.w;
    info->height = hd.h;
    return PV_OK;
  }
  case PV_SRC_UNKNOWN: break;
  }
  return pv__codec_failf(err, errcap, PV_ERR_UNSUPPORTED,
               len == 0 ? "empty file" : "not a recognised image format");
}

pv_status pv__decode_image(const uint8_t *buf, size_t len, const pv_decode_opts *opts,
                           pv_image *out, char *err, size_t errcap) {
  static const pv_decode_opts defaults = {0};
  if (err && errcap) err[0] = '\0';
  if (!out) return pv__codec_failf(err, errcap, PV_ERR_INVALID_ARG, "invalid argument");
  out->pixels = NULL;
  out->width = out->height = 0;
  if (!buf && len) return pv__codec_failf(err, errcap, PV_ERR_INVALID_ARG, "invalid argument");
  if (!opts) opts = &defaults;
  pv_src_format f = pv__sniff(buf, len);
  switch (f) {
  case PV_SRC_JPEG: return decode_jpeg(buf, len, opts, out, err, errcap);
  case PV_SRC_PNG: return decode_png(buf, len, opts, out, err, errcap);
  case PV_SRC_WEBP: return decode_webp(buf, len, opts, out, err, errcap);
  case PV_SRC_TIFF: return decode_tiff(buf, len, opts, out, err, errcap);
  case PV_SRC_BMP:
  case PV_SRC_PNM: return decode_stb(f, buf, len, opts, out, err, errcap);
  case PV_SRC_UNKNOWN: break;
  }
  return pv__codec_failf(err, errcap, PV_ERR_UNSUPPORTED,
               len == 0 ? "empty file" : "not a recognised image format");
}

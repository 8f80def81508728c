/* decode.h - source image decoding for the packer (internal to codec/, used by pack/).
 *
 * Turns the bytes of one source file into tightly packed 8-bit RGB, the way
 * PIL's Image.open(f).convert('RGB') would (gray replicated, alpha dropped,
 * palette expanded, CMYK/YCCK converted), except where PIL is plainly wrong
 * (16-bit gray PNG: scaled properly instead of clipped to white).
 *
 * The format is recognised by content, never by file name (a PNG named .jpg
 * is decoded as PNG). Any decoder warning (truncated data, premature end,
 * corrupt segment) is an error: the file is skipped, never packed half-grey.
 * (libtiff's warnings are the exception: they flag harmless oddities such
 * as unknown tags, while libtiff reports damaged data as errors.)
 *
 * Depends on: libjpeg-turbo (libjpeg API), libspng, libwebp, libtiff, and
 * stb_image (Debian libstb-dev, pkg-config "stb") for BMP and PNM.
 * Thread-safety: every function is reentrant; no global state.
 */
#ifndef PV_DECODE_H
#define PV_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

typedef enum pv_src_format {
  PV_SRC_UNKNOWN = 0,
  PV_SRC_JPEG,
  PV_SRC_PNG,
  PV_SRC_WEBP,
  PV_SRC_BMP,
  PV_SRC_PNM, /* binary PPM (P6) and PGM (P5); P1-P4 are recognised but refused */
  PV_SRC_TIFF
} pv_src_format;

/* Name for messages: "jpeg", "png", ... "unknown". Never NULL. */
const char *pv__src_format_name(pv_src_format f);

/* Recognise a format from the first bytes of a file (magic numbers only). */
pv_src_format pv__sniff(const uint8_t *buf, size_t len);

typedef struct pv_decode_opts {
  /* Refuse (PV_ERR_LIMIT) images whose width*height exceeds this, checked
   * from the header before any pixel buffer is allocated. 0 = no limit. */
  uint64_t max_pixels;
  /* Apply the EXIF orientation tag (JPEG, and WebP/PNG/TIFF where the
   * library exposes it). 0 = ignore it, like torchvision's loader. */
  int apply_exif_orientation;
  /* Decoders that can scale while decoding (JPEG DCT scaling) may return a
   * smaller image, as long as the result is still at least min_width wide
   * AND at least min_height high (so that the caller's antialiased resize
   * to its target loses nothing). 0,0 = full resolution. The scale is a
   * pure function of (source size, min_width, min_height): deterministic.
   * Both are in the stored frame, before any EXIF orientation is applied
   * (a caller that will rotate by 90 degrees passes its target swapped). */
  uint32_t min_width, min_height;
} pv_decode_opts;

/* Facts about a source file that the packer needs to choose a codec. */
typedef struct pv_src_info {
  pv_src_format format;
  uint32_t width, height;   /* full-resolution size, before orientation */
  int orientation;          /* EXIF orientation 1..8; 1 when absent */
  int jpeg_is_ycc3;         /* JPEG with 3 components in YCbCr (no conversion
                               to RGB needed beyond the standard one) */
} pv_src_info;

/* Reads only headers: format, size, orientation. Does not allocate pixels.
 * Returns PV_OK, PV_ERR_UNSUPPORTED (not a known format), PV_ERR_DECODE
 * (header unreadable). err (may be NULL) receives a one-line reason. */
pv_status pv__probe_image(const uint8_t *buf, size_t len, pv_src_info *info,
                          char *err, size_t errcap);

/* A decoded image: width*height*3 bytes, rows tightly packed, RGB order.
 * pixels is malloc'ed; release with pv__image_free. */
typedef struct pv_image {
  uint8_t *pixels;
  uint32_t width, height;
} pv_image;

void pv__image_free(pv_image *img);

/* Decodes buf (the whole file) into out. opts may be NULL (all zero). The
 * result is oriented when opts->apply_exif_orientation is set, so its size
 * may be the source size swapped. On failure out->pixels is NULL and err
 * gets one line saying why ("JPEG: Premature end of JPEG file", "PNG CRC
 * error", "image 30000x30000 exceeds the pixel limit 89478485").
 * Returns PV_OK, PV_ERR_UNSUPPORTED, PV_ERR_DECODE, PV_ERR_LIMIT, PV_ERR_NOMEM,
 * PV_ERR_INVALID_ARG. */
pv_status pv__decode_image(const uint8_t *buf, size_t len,
                           const pv_decode_opts *opts, pv_image *out,
                           char *err, size_t errcap);

#endif /* PV_DECODE_H */

/* fuzz_image.c - libFuzzer target for the packer's source-image decoding
 * (codec/decode.c): pv__sniff, pv__probe_image and pv__decode_image over
 * libjpeg-turbo, libspng, libwebp, libtiff and stb_image, with the
 * hand-written header checks (EXIF, WebP RIFF walk, BMP, PNM) in between.
 *
 * Input layout: byte 0 selects the decode options, the rest is the file.
 *   bit 0     apply_exif_orientation
 *   bits 1-2  scaling hint: none, 1x1, 64x48, 300x300 (min_width, min_height)
 *   bit 3     max_pixels 4096*4096 (0) or 256*256 (1); never 0, so that a
 *             hostile header cannot make the fuzzer allocate gigabytes
 * Invariants checked (abort() tells the fuzzer):
 *   - sniff is a pure function of the bytes, and probe/decode agree with it;
 *   - probe: on PV_OK a non-zero size and an orientation in 1..8; on failure
 *     a known status and a message;
 *   - decode: on PV_OK pixels non-NULL, size non-zero and within max_pixels
 *     (so an image over the limit is refused, not decoded); on failure
 *     pixels NULL, size 0, a known status and a message;
 *   - with no scaling and no orientation the decoded size is the probed
 *     size; with scaling it is no larger and still meets the hint (or is the
 *     full size); with orientation 5..8 applied it is swapped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) \
  do {             \
    if (!(c)) abort(); \
  } while (0)

static int known_failure(pv_status st) {
  return st == PV_ERR_UNSUPPORTED || st == PV_ERR_DECODE || st == PV_ERR_LIMIT ||
         st == PV_ERR_NOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t hints[4][2] = {{0, 0}, {1, 1}, {64, 48}, {300, 300}};
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  const uint8_t *buf = data + 1;
  const size_t len = size - 1;

  pv_decode_opts o;
  memset(&o, 0, sizeof o);
  o.apply_exif_orientation = sel & 1;
  o.min_width = hints[(sel >> 1) & 3][0];
  o.min_height = hints[(sel >> 1) & 3][1];
  o.max_pixels = sel & 8 ? 256u * 256u : 4096u * 4096u;

  const pv_src_format f = pv__sniff(buf, len);
  REQUIRE(f >= PV_SRC_UNKNOWN && f <= PV_SRC_TIFF);
  REQUIRE(pv__sniff(buf, len) == f);
  REQUIRE(pv__src_format_name(f) != NULL);

  char err[256];
  pv_src_info info;
  memset(err, 0, sizeof err);
  pv_status pst = pv__probe_image(buf, len, &info, err, sizeof err);
  if (pst == PV_OK) {
    REQUIRE(info.format == f && f != PV_SRC_UNKNOWN);
    REQUIRE(info.width >= 1 && info.height >= 1);
    REQUIRE(info.orientation >= 1 && info.orientation <= 8);
  } else {
    REQUIRE(known_failure(pst) && err[0] != 0);
    if (f == PV_SRC_UNKNOWN) REQUIRE(pst == PV_ERR_UNSUPPORTED);
  }

  pv_image img;
  memset(err, 0, sizeof err);
  memset(&img, 0xA5, sizeof img); /* decode must reset it, success or not */
  pv_status dst = pv__decode_image(buf, len, &o, &img, err, sizeof err);
  if (dst != PV_OK) {
    REQUIRE(known_failure(dst) && err[0] != 0);
    REQUIRE(img.pixels == NULL && img.width == 0 && img.height == 0);
    if (f == PV_SRC_UNKNOWN) REQUIRE(dst == PV_ERR_UNSUPPORTED);
    return 0;
  }
  REQUIRE(f != PV_SRC_UNKNOWN);
  REQUIRE(img.pixels != NULL && img.width >= 1 && img.height >= 1);
  REQUIRE((uint64_t)img.width * img.height <= o.max_pixels);
  /* A decode that succeeds had a readable header. */
  REQUIRE(pst == PV_OK);

  uint32_t pw = info.width, ph = info.height;
  if (o.apply_exif_orientation && info.orientation >= 5) {
    pw = info.height;
    ph = info.width;
  }
  if (o.min_width == 0 && o.min_height == 0) {
    REQUIRE(img.width == pw && img.height == ph);
  } else {
    /* Scaled in the stored frame, then oriented. */
    uint32_t sw = img.width, sh = img.height;
    if (o.apply_exif_orientation && info.orientation >= 5) {
      sw = img.height;
      sh = img.width;
    }
    REQUIRE(sw <= info.width && sh <= info.height);
    REQUIRE((sw >= o.min_width && sh >= o.min_height) ||
            (sw == info.width && sh == info.height));
  }

  /* Touch every byte, so that a short buffer shows up under ASan. */
  volatile uint8_t sink = 0;
  const size_t n = (size_t)img.width * img.height * 3;
  for (size_t i = 0; i < n; i += 61) sink ^= img.pixels[i];
  sink ^= img.pixels[n - 1];
  (void)sink;
  pv__image_free(&img);
  REQUIRE(img.pixels == NULL);
  return 0;
}

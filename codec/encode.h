/* encode.h - the packer's JPEG encoder (internal to codec/: the JPEG entry
 * of the codec table, codec_jpeg.c, writes records with it).
 *
 * Encodes RGB8 pixels as a baseline JPEG exactly as TurboJPEG's
 * tjCompress2(TJPF_RGB, TJSAMP_420, quality, flags 0) does (JFIF, YCbCr
 * 4:2:0, standard Huffman tables, fast integer forward DCT below quality
 * 96, accurate one from 96), plus one thing TurboJPEG 2.x cannot be asked
 * for per call: restart markers every R MCUs, with R a divisor of the
 * number of MCUs per row. A reader that wants only a crop can then cut the
 * entropy-coded data at restart markers and decode just the segments that
 * cover the crop (codec/jpeg_splice.h) instead of Huffman-decoding every
 * row above and every column beside it. See spec/FORMAT.md, "JPEG records".
 *
 * Depends on: libjpeg-turbo (libjpeg API). Thread-safety: one encoder per
 * thread.
 */
#ifndef PV_ENCODE_H
#define PV_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "pv_status.h"

typedef struct pv_jpeg_encoder pv_jpeg_encoder;

/* Returns PV_OK, PV_ERR_INVALID_ARG (out NULL) or PV_ERR_NOMEM. */
pv_status pv__jpeg_encoder_create(pv_jpeg_encoder **out);
void pv__jpeg_encoder_destroy(pv_jpeg_encoder *e); /* accepts NULL */

/* The restart interval (in MCUs) the encoder uses for an image width with
 * restart_max: the largest divisor of the MCUs per row (16-pixel MCUs)
 * that is <= restart_max and <= MCUs per row / PV_RESTARTS_PER_ROW (at
 * least 1), so that a row has 16 intervals or more where it has that many
 * MCUs; 0 (no restart markers) when restart_max is 0. */
#define PV_RESTARTS_PER_ROW 16u
uint32_t pv__jpeg_restart_interval(uint32_t width, uint32_t restart_max);

/* Encodes width x height RGB8 pixels (rows of stride bytes) at quality
 * 1..100 with pv__jpeg_restart_interval(width, restart_max). On PV_OK
 * *data / *len point into the encoder's buffer, valid until its next call.
 * Returns PV_OK, PV_ERR_INVALID_ARG (sizes 0 or above 65500, quality out
 * of range, NULL pointers), PV_ERR_NOMEM, PV_ERR_DECODE (libjpeg refused;
 * the reason in err). */
pv_status pv__jpeg_encode(pv_jpeg_encoder *e, const uint8_t *rgb, uint32_t width,
                          uint32_t height, size_t stride, int quality, uint32_t restart_max,
                          const uint8_t **data, size_t *len, char *err, size_t cap);

#endif /* PV_ENCODE_H */

/* opts_copy.c - options structs of other sizes (see opts_copy.h). */
#include "opts_copy.h"

#include <stdint.h>
#include <string.h>

pv_status pv__opts_copy(void *dst, size_t dst_size, const void *src, size_t src_size) {
  if (!dst || !src || dst_size < sizeof(size_t)) return PV_ERR_INVALID_ARG;
  if (src_size < sizeof(size_t) || src_size > PV__OPTS_MAX_SIZE) return PV_ERR_INVALID_ARG;
  if (src_size > dst_size) {
    /* A newer caller: whatever it set beyond our fields we cannot honour. */
    const uint8_t *tail = (const uint8_t *)src + dst_size;
    for (size_t i = 0; i < src_size - dst_size; i++)
      if (tail[i]) return PV_ERR_INVALID_ARG;
  }
  memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
  memcpy(dst, &dst_size, sizeof dst_size);
  return PV_OK;
}

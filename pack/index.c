/* index.c - the index stage of a build (build.h): index.pvi from the plan
 * and the written shards, encoded by format/ (pv_index_encode) and written
 * last, so that a directory holding it is a complete dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "pack_util.h"

pv_status pv__write_index(const pv__plan *p, const pv__shards *s, const char *dir,
                          int warn_empty, pv_build_summary *sum, char *err, size_t cap) {
  const pv_walk_result *walk = &p->walk;
  for (uint32_t c = 0; c < walk->class_count; c++)
    if (warn_empty && s->class_counts[c] == 0 && walk->class_file_count[c] > 0)
      pv__build_log(p->o, PV_LOG_WARN, "warning: class '%s' has no packable image (all skipped)",
                    walk->classes[c]);
  pv_index_input in = {0};
  in.dataset_id = p->dataset_id;
  in.shard_count = s->shard_count;
  in.shards = s->refs;
  in.class_count = walk->class_count;
  in.class_names = (const char *const *)walk->classes;
  in.class_record_counts = s->class_counts;
  in.record_count = s->records;
  in.record_paths = s->paths;
  in.record_labels = s->labels;
  in.options = p->options_text;
  in.skipped = s->skipped ? s->skipped : "";
  in.skipped_count = s->skipped_count;
  uint64_t isz = pv_index_encoded_size(&in);
  if (isz == 0) {
    snprintf(err, cap, "index limits exceeded");
    return PV_ERR_LIMIT;
  }
  uint8_t *buf = malloc((size_t)isz);
  if (!buf) {
    snprintf(err, cap, "out of memory");
    return PV_ERR_NOMEM;
  }
  pv_status st = pv_index_encode(&in, buf, isz);
  if (st == PV_OK) {
    int fd = pv__create_file(dir, PV_INDEX_FILENAME, err, cap);
    uint64_t off = 0;
    if (fd < 0) {
      st = PV_ERR_IO;
    } else if ((st = pv__write_all(fd, buf, (size_t)isz, &off, err, cap)) != PV_OK) {
      close(fd);
    } else {
      st = pv__fsync_close(fd, err, cap);
    }
  }
  free(buf);
  if (st == PV_OK) sum->bytes_out += isz;
  return st;
}

/* dataset.c - open a dataset directory: map and validate index and shards,
 * hand out zero-copy record views. See pvpack.h for the contract. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read_limits.h"
#include "pvpack.h"

typedef struct pv_mapping {
  uint8_t *addr;
  uint64_t size;
} pv_mapping;

struct pv_dataset {
  pv_open_options opts;
  pv_mapping index_map;
  pv_index_view index;
  uint32_t shard_count;
  pv_mapping *shard_maps; /* shard_count */
  pv_shard_view *shards;  /* shard_count */
  char **class_names;     /* NUL-terminated copies, class_count */
};

unsigned pv_version_number(void) { return PV_VERSION_NUMBER; }
const char *pv_version_string(void) { return "0.1.0"; }

void pv_open_options_init(pv_open_options *o) {
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  pv_limits_init(&o->limits);
}

static void errf(char *err, size_t cap, const char *fmt, ...) {
  if (!err || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

/* Maps path read-only. An empty file maps to a non-NULL dummy of size 0
 * (mmap refuses length 0) so that validators report it as truncated. */
static pv_status map_file(const char *path, pv_mapping *m, char *err, size_t cap) {
  static uint8_t empty[1];
  m->addr = NULL;
  m->size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errf(err, cap, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    errf(err, cap, "%s: not a regular file", path);
    close(fd);
    return PV_ERR_IO;
  }
  m->size = (uint64_t)st.st_size;
  if (m->size == 0) {
    m->addr = empty;
    close(fd);
    return PV_OK;
  }
  if (m->size != (uint64_t)(size_t)m->size) {
    close(fd);
    errf(err, cap, "%s: too large to map", path);
    return PV_ERR_LIMIT;
  }
  void *a = mmap(NULL, (size_t)m->size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (a == MAP_FAILED) {
    errf(err, cap, "%s: mmap: %s", path, strerror(errno));
    m->size = 0;
    return PV_ERR_IO;
  }
  m->addr = a;
  return PV_OK;
}

static void unmap_file(pv_mapping *m) {
  if (m->addr && m->size) munmap(m->addr, (size_t)m->size);
  m->addr = NULL;
  m->size = 0;
}

/* Checks that a validated shard is the one the index names. */
static pv_status shard_matches_index(const pv_index_view *ix, uint32_t k, const pv_shard_view *sv,
                                     char *err, size_t cap) {
  pv_shard_ref ref;
  pv_index_shard(ix, k, &ref);
  if (sv->file_size != ref.file_size) {
    errf(err, cap, "is %llu bytes, the index says %llu", (unsigned long long)sv->file_size,
         (unsigned long long)ref.file_size);
    return sv->file_size < ref.file_size ? PV_ERR_TRUNCATED : PV_ERR_CORRUPT;
  }
  if (sv->footer.footer_checksum != ref.footer_checksum) {
    errf(err, cap, "footer checksum differs from the index's (shard from another build?)");
    return PV_ERR_CHECKSUM;
  }
  if (sv->header.shard_index != k || sv->header.first_record != ref.first_record ||
      sv->header.record_count != ref.record_count || sv->header.dataset_id != ix->header.dataset_id) {
    errf(err, cap, "header (index %u, first record %llu, %u records) disagrees with the index",
         sv->header.shard_index, (unsigned long long)sv->header.first_record,
         sv->header.record_count);
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

pv_status pv_dataset_open(const char *dir, const pv_open_options *opts, pv_dataset **out,
                          char *err, size_t errcap) {
  pv_status st = PV_OK;
  char sub[256];
  if (!dir || !out) return PV_ERR_INVALID_ARG;
  *out = NULL;
  if (!*dir) {
    errf(err, errcap, "empty dataset path");
    return PV_ERR_INVALID_ARG;
  }
  size_t dlen = strlen(dir);
  char *path = malloc(dlen + 64);
  pv_dataset *ds = calloc(1, sizeof *ds);
  if (!path || !ds) {
    free(path);
    free(ds);
    return PV_ERR_NOMEM;
  }
  pv_open_options_init(&ds->opts);
  if (opts) {
    ds->opts.verify_on_read = opts->verify_on_read;
    /* limits: only from a caller that knows the field (a larger size). */
    if (opts->size >= offsetof(pv_open_options, limits) + sizeof opts->limits.size &&
        pv__limits_resolve(&opts->limits, &ds->opts.limits) != PV_OK) {
      free(path);
      free(ds);
      errf(err, errcap, "open options: limits not initialised with pv_limits_init");
      return PV_ERR_INVALID_ARG;
    }
  }

  snprintf(path, dlen + 64, "%s/%s", dir, PV_INDEX_FILENAME);
  if ((st = map_file(path, &ds->index_map, err, errcap)) != PV_OK) goto out_free;
  st = pv_index_validate(ds->index_map.addr, ds->index_map.size, &ds->index, sub, sizeof sub);
  if (st != PV_OK) {
    errf(err, errcap, "%s: %s", path, sub);
    goto out_free;
  }
  const pv_index_header *h = &ds->index.header;
  ds->shard_count = h->shard_count;
  ds->shard_maps = calloc(h->shard_count ? h->shard_count : 1, sizeof *ds->shard_maps);
  ds->shards = calloc(h->shard_count ? h->shard_count : 1, sizeof *ds->shards);
  ds->class_names = calloc(h->class_count ? h->class_count : 1, sizeof *ds->class_names);
  if (!ds->shard_maps || !ds->shards || !ds->class_names) {
    st = PV_ERR_NOMEM;
    goto out_free;
  }
  for (uint32_t c = 0; c < h->class_count; c++) {
    uint32_t len;
    const char *n = pv_index_class_name(&ds->index, c, &len);
    if (!(ds->class_names[c] = malloc((size_t)len + 1))) {
      st = PV_ERR_NOMEM;
      goto out_free;
    }
    memcpy(ds->class_names[c], n, len);
    ds->class_names[c][len] = 0;
  }
  for (uint32_t k = 0; k < h->shard_count; k++) {
    int n = snprintf(path, dlen + 64, "%s/", dir);
    snprintf(path + n, dlen + 64 - (size_t)n, PV_SHARD_NAME_FMT, k);
    if ((st = map_file(path, &ds->shard_maps[k], err, errcap)) != PV_OK) goto out_free;
    st = pv_shard_validate(ds->shard_maps[k].addr, ds->shard_maps[k].size, &ds->shards[k], sub,
                           sizeof sub);
    if (st == PV_OK) st = shard_matches_index(&ds->index, k, &ds->shards[k], sub, sizeof sub);
    if (st != PV_OK) {
      errf(err, errcap, "%s: %s", path, sub);
      goto out_free;
    }
  }
  free(path);
  *out = ds;
  return PV_OK;

out_free:
  free(path);
  pv_dataset_close(ds);
  return st;
}

void pv_dataset_close(pv_dataset *ds) {
  if (!ds) return;
  if (ds->shard_maps)
    for (uint32_t k = 0; k < ds->shard_count; k++) unmap_file(&ds->shard_maps[k]);
  if (ds->class_names)
    for (uint32_t c = 0; c < ds->index.header.class_count; c++) free(ds->class_names[c]);
  unmap_file(&ds->index_map);
  free(ds->class_names);
  free(ds->shard_maps);
  free(ds->shards);
  free(ds);
}

const pv_limits *pv_dataset_limits(const pv_dataset *ds) { return &ds->opts.limits; }

uint64_t pv_dataset_record_count(const pv_dataset *ds) { return ds->index.header.record_count; }
uint32_t pv_dataset_class_count(const pv_dataset *ds) { return ds->index.header.class_count; }
uint32_t pv_dataset_shard_count(const pv_dataset *ds) { return ds->shard_count; }
uint64_t pv_dataset_id(const pv_dataset *ds) { return ds->index.header.dataset_id; }
uint64_t pv_dataset_skipped_count(const pv_dataset *ds) { return ds->index.header.skipped_count; }

const char *pv_dataset_class_name(const pv_dataset *ds, uint32_t c) {
  return c < ds->index.header.class_count ? ds->class_names[c] : NULL;
}

uint64_t pv_dataset_class_records(const pv_dataset *ds, uint32_t c) {
  return c < ds->index.header.class_count ? pv_index_class_records(&ds->index, c) : 0;
}

const char *pv_dataset_options_text(const pv_dataset *ds, size_t *len) {
  uint64_t n;
  const char *t = pv_index_section_text(&ds->index, PV_SEC_OPTIONS, &n);
  *len = (size_t)n;
  return t;
}

const char *pv_dataset_skipped_text(const pv_dataset *ds, size_t *len) {
  uint64_t n;
  const char *t = pv_index_section_text(&ds->index, PV_SEC_SKIPPED, &n);
  *len = (size_t)n;
  return t;
}

pv_status pv_dataset_record(const pv_dataset *ds, uint64_t i, pv_record *out) {
  if (!ds || !out || i >= ds->index.header.record_count) return PV_ERR_INVALID_ARG;
  uint32_t k = pv_index_find_shard(&ds->index, i);
  const pv_shard_view *sv = &ds->shards[k];
  uint32_t j = (uint32_t)(i - sv->header.first_record);
  pv_record_entry e;
  pv_shard_entry(sv, j, &e);
  out->data = sv->file + e.offset;
  out->length = e.length;
  out->label = e.label;
  out->width = e.width;
  out->height = e.height;
  out->codec = e.codec;
  out->flags = e.flags;
  out->checksum = e.checksum;
  out->index = i;
  out->shard = k;
  out->shard_record = j;
  if (ds->opts.verify_on_read && pv_checksum(out->data, out->length) != e.checksum)
    return PV_ERR_CHECKSUM;
  return PV_OK;
}

const char *pv_dataset_source_path(const pv_dataset *ds, uint64_t i, uint32_t *len) {
  if (!ds || i >= ds->index.header.record_count) return NULL;
  return pv_index_record_path(&ds->index, i, len, NULL);
}

const pv_shard_view *pv_dataset_shard_view(const pv_dataset *ds, uint32_t k) {
  return k < ds->shard_count ? &ds->shards[k] : NULL;
}

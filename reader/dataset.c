/* dataset.c - open a dataset directory: map and validate index and shards,
 * hand out zero-copy record views. See pvpack.h for the contract. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "opts_copy.h"
#include "read_limits.h"
#include "pvpack.h"
#include "shard_map.h"

typedef struct pv_mapping {
  uint8_t *addr;
  uint64_t size;
} pv_mapping;

struct pv_dataset {
  pv_open_options opts;
  char *dir;              /* as given to pv_dataset_open */
  pv_mapping index_map;
  pv__file_id index_id;
  pv_index_view index;
  uint32_t shard_count;
  pv_mapping *shard_maps; /* shard_count */
  pv__file_id *shard_ids;  /* shard_count */
  pv_shard_view *shards;  /* shard_count; validated copies (heap), never re-read */
  char **class_names;     /* NUL-terminated copies, class_count */
  uint64_t *class_records; /* copies, class_count */
};

unsigned pv_version_number(void) { return PV_VERSION_NUMBER; }
const char *pv_version_string(void) { return PV_VERSION_STRING; }

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

static pv_status map_file(const char *path, pv_mapping *m, pv__file_id *id, char *err,
                          size_t cap) {
  return pv__map_file(path, &m->addr, &m->size, id, err, cap);
}

static void unmap_file(pv_mapping *m) {
  pv__unmap_file(m->addr, m->size);
  m->addr = NULL;
  m->size = 0;
}

/* The checks of open that read a mapping, run under a guard on it (a file
 * truncated during open must not kill the process either). */
typedef struct open_job {
  pv_dataset *ds;
  uint32_t k;    /* shard; unused for the index */
  uint64_t *scratch; /* index: class_count counters */
  char *sub;
  size_t subcap;
} open_job;

static pv_status open_index_run(void *arg) {
  open_job *j = arg;
  pv_dataset *ds = j->ds;
  pv_status st = pv_index_validate(ds->index_map.addr, ds->index_map.size, &ds->index, j->sub,
                                   j->subcap);
  if (st != PV_OK) return st;
  if (ds->index.header.class_count) {
    if (!(j->scratch = calloc(ds->index.header.class_count, sizeof *j->scratch)))
      return PV_ERR_NOMEM;
  }
  return pv_index_check_class_counts(&ds->index, j->scratch, j->sub, j->subcap);
}

static pv_status class_records_run(void *arg) {
  open_job *j = arg;
  for (uint32_t c = 0; c < j->ds->index.header.class_count; c++)
    j->ds->class_records[c] = pv_index_class_records(&j->ds->index, c);
  return PV_OK;
}

static pv_status open_shard_run(void *arg) {
  open_job *j = arg;
  pv_dataset *ds = j->ds;
  const uint32_t k = j->k;
  pv_shard_ref ref;
  pv_status st = pv__shard_ref(&ds->index, k, &ref);
  if (st == PV_OK)
    st = pv__shard_check(ds->shard_maps[k].addr, ds->shard_maps[k].size, &ref, &ds->index.header,
                         k, &ds->shards[k], j->sub, j->subcap);
  if (st == PV_OK) st = pv_shard_check_labels(&ds->shards[k], &ds->index, j->sub, j->subcap);
  return st;
}

/* open_shard_run reads the index too (labels): both mappings guarded. */
static pv_status open_shard_guarded(void *arg) {
  open_job *j = arg;
  return pv__guard_call(j->ds->shard_maps[j->k].addr, (size_t)j->ds->shard_maps[j->k].size,
                        open_shard_run, j);
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
  pv__guard_install();
  size_t dlen = strlen(dir);
  size_t pcap = dlen + 64;
  char *path = malloc(pcap);
  pv_dataset *ds = calloc(1, sizeof *ds);
  if (!path || !ds || !(ds->dir = strdup(dir))) {
    free(path);
    if (ds) free(ds->dir);
    free(ds);
    return PV_ERR_NOMEM;
  }
  /* An older caller's smaller struct: its fields, the defaults for the rest
   * (opts_copy.h); limits only from a caller that knows the field, by their
   * own size. */
  if (PV__OPTS_COPY(&ds->opts, pv_open_options_init, opts) != PV_OK ||
      (opts && pv__limits_resolve_nested(opts, opts->size, offsetof(pv_open_options, limits),
                                         &ds->opts.limits) != PV_OK)) {
    free(path);
    free(ds->dir);
    free(ds);
    errf(err, errcap, "open options (or their limits) not initialised with pv_open_options_init");
    return PV_ERR_INVALID_ARG;
  }

  snprintf(path, pcap, "%s/%s", dir, PV_INDEX_FILENAME);
  if ((st = map_file(path, &ds->index_map, &ds->index_id, err, errcap)) != PV_OK) goto out_free;
  {
    open_job j = {ds, 0, NULL, sub, sizeof sub};
    sub[0] = 0;
    st = pv__guard_call(ds->index_map.addr, (size_t)ds->index_map.size, open_index_run, &j);
    free(j.scratch);
    if (st == PV_ERR_CHANGED)
      errf(err, errcap, "%s changed size while being opened", path);
    else if (st != PV_OK)
      errf(err, errcap, "%s: %s", path, st == PV_ERR_NOMEM ? "out of memory" : sub);
    if (st != PV_OK) goto out_free;
  }
  const pv_index_header *h = &ds->index.header;
  ds->shard_count = h->shard_count;
  ds->shard_maps = calloc(h->shard_count ? h->shard_count : 1, sizeof *ds->shard_maps);
  ds->shard_ids = calloc(h->shard_count ? h->shard_count : 1, sizeof *ds->shard_ids);
  ds->shards = calloc(h->shard_count ? h->shard_count : 1, sizeof *ds->shards);
  ds->class_names = calloc(h->class_count ? h->class_count : 1, sizeof *ds->class_names);
  ds->class_records = calloc(h->class_count ? h->class_count : 1, sizeof *ds->class_records);
  if (!ds->shard_maps || !ds->shard_ids || !ds->shards || !ds->class_names ||
      !ds->class_records) {
    st = PV_ERR_NOMEM;
    goto out_free;
  }
  for (uint32_t c = 0; c < h->class_count; c++) {
    uint32_t len;
    const char *n = pv_index_class_name(&ds->index, c, &len);
    if (!(ds->class_names[c] = malloc((size_t)len + 1)) ||
        pv__guard_copy(ds->class_names[c], n, len) != PV_OK) {
      st = ds->class_names[c] ? PV_ERR_CHANGED : PV_ERR_NOMEM;
      if (st == PV_ERR_CHANGED) errf(err, errcap, "%s changed size while being opened", path);
      goto out_free;
    }
    ds->class_names[c][len] = 0;
  }
  {
    open_job j = {ds, 0, NULL, sub, sizeof sub};
    if (pv__guard_call(ds->index_map.addr, (size_t)ds->index_map.size, class_records_run, &j) !=
        PV_OK) {
      st = PV_ERR_CHANGED;
      errf(err, errcap, "%s changed size while being opened", path);
      goto out_free;
    }
  }
  for (uint32_t k = 0; k < h->shard_count; k++) {
    if ((st = pv__map_shard(dir, k, path, pcap, &ds->shard_maps[k].addr, &ds->shard_maps[k].size,
                            &ds->shard_ids[k], err, errcap)) != PV_OK)
      goto out_free;
    open_job j = {ds, k, NULL, sub, sizeof sub};
    sub[0] = 0;
    st = pv__guard_call(ds->index_map.addr, (size_t)ds->index_map.size, open_shard_guarded, &j);
    if (st == PV_ERR_CHANGED) {
      errf(err, errcap, "%s changed size while being opened", path);
      goto out_free;
    }
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
  free(ds->class_records);
  free(ds->shard_maps);
  free(ds->shard_ids);
  free(ds->shards);
  free(ds->dir);
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
  return c < ds->index.header.class_count ? ds->class_records[c] : 0;
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

/* The shard holding global record i: largest k with first_record(k) <= i,
 * over the validated heap copies of the shard headers (not the index
 * mapping, which could be rewritten after open). */
static uint32_t find_shard(const pv_dataset *ds, uint64_t i) {
  uint32_t lo = 0, hi = ds->shard_count;
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (ds->shards[mid].header.first_record <= i)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

typedef struct sum_job {
  const uint8_t *data;
  uint32_t length;
  uint64_t sum;
} sum_job;

static pv_status sum_run(void *arg) {
  sum_job *j = arg;
  j->sum = pv_checksum(j->data, j->length);
  return PV_OK;
}

pv_status pv_dataset_record_ex(const pv_dataset *ds, uint64_t i, pv_record *out, char *err,
                               size_t errcap) {
  if (err && errcap) err[0] = 0;
  if (!ds || !out) return PV_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  out->index = i;
  if (i >= ds->index.header.record_count) {
    errf(err, errcap, "record %llu out of range (%llu records)", (unsigned long long)i,
         (unsigned long long)ds->index.header.record_count);
    return PV_ERR_INVALID_ARG;
  }
  const uint32_t k = find_shard(ds, i);
  const pv_shard_view *sv = &ds->shards[k];
  const uint32_t j = (uint32_t)(i - sv->header.first_record);
  out->shard = k;
  out->shard_record = j;
  /* Both entries are copied out of the mappings once and every field used
   * comes from the copies, checked as open checked them: another process
   * may have rewritten the bytes since (spec/FORMAT.md 9.4). */
  uint8_t eb[PV_RECORD_ENTRY_SIZE], ib[PV_INDEX_RECORD_SIZE];
  pv_status st = pv__guard_copy(eb, pv_shard_entry_bytes(sv, j), sizeof eb);
  if (st == PV_OK) st = pv__guard_copy(ib, pv_index_record_bytes(&ds->index, i), sizeof ib);
  if (st != PV_OK) {
    char why[400];
    int shard_ok = pv__guard_copy(eb, pv_shard_entry_bytes(sv, j), sizeof eb) == PV_OK;
    st = pv_dataset_explain_fault(ds, shard_ok ? PV_DATASET_INDEX_FILE : k, why, sizeof why);
    errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): %s", k, (unsigned long long)i, j,
         why);
    return st;
  }
  pv_record_entry e;
  pv_index_record ir;
  char sub[160];
  if ((st = pv_record_entry_decode(eb, sv->footer.table_offset, &e, sub, sizeof sub)) != PV_OK) {
    errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): %s (the table changed after open)",
         k, (unsigned long long)i, j, sub);
    return st;
  }
  if (e.label >= ds->index.header.class_count) {
    errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): label %u out of range (%u classes)",
         k, (unsigned long long)i, j, e.label, ds->index.header.class_count);
    return PV_ERR_CORRUPT;
  }
  if (pv_index_record_decode(&ds->index, ib, &ir) != PV_OK) {
    errf(err, errcap, "index.pvi: the entry of record %llu is out of bounds (the index changed "
         "after open)", (unsigned long long)i);
    return PV_ERR_CORRUPT;
  }
  if (ir.label != e.label) {
    errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): label %u in the shard, %u in the index",
         k, (unsigned long long)i, j, e.label, ir.label);
    return PV_ERR_CORRUPT;
  }
  out->data = sv->file + e.offset; /* inside the mapping: offset + length <= table_offset */
  out->length = e.length;
  out->label = e.label;
  out->width = e.width;
  out->height = e.height;
  out->codec = e.codec;
  out->flags = e.flags;
  out->checksum = e.checksum;
  if (ds->opts.verify_on_read) {
    sum_job sj = {out->data, out->length, 0};
    if (pv__guard_call(out->data, out->length, sum_run, &sj) != PV_OK) {
      char why[400];
      st = pv_dataset_explain_fault(ds, k, why, sizeof why);
      errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): %s", k, (unsigned long long)i, j,
           why);
      return st;
    }
    if (sj.sum != e.checksum) {
      errf(err, errcap, "shard-%05u.pvs record %llu (entry %u): payload checksum mismatch", k,
           (unsigned long long)i, j);
      return PV_ERR_CHECKSUM;
    }
  }
  return PV_OK;
}

pv_status pv_dataset_record(const pv_dataset *ds, uint64_t i, pv_record *out) {
  return pv_dataset_record_ex(ds, i, out, NULL, 0);
}

pv_status pv_dataset_explain_fault(const pv_dataset *ds, uint32_t k, char *err, size_t errcap) {
  if (!ds || (k != PV_DATASET_INDEX_FILE && k >= ds->shard_count)) return PV_ERR_INVALID_ARG;
  char name[32], path[4200];
  const pv__file_id *was;
  if (k == PV_DATASET_INDEX_FILE) {
    snprintf(name, sizeof name, "%s", PV_INDEX_FILENAME);
    was = &ds->index_id;
  } else {
    snprintf(name, sizeof name, PV_SHARD_NAME_FMT, k);
    was = &ds->shard_ids[k];
  }
  snprintf(path, sizeof path, "%s/%s", ds->dir, name);
  return pv__explain_change(path, name, was, err, errcap);
}

const char *pv_dataset_source_path(const pv_dataset *ds, uint64_t i, uint32_t *len) {
  if (!ds || i >= ds->index.header.record_count) return NULL;
  uint8_t ib[PV_INDEX_RECORD_SIZE];
  pv_index_record ir;
  if (pv__guard_copy(ib, pv_index_record_bytes(&ds->index, i), sizeof ib) != PV_OK ||
      pv_index_record_decode(&ds->index, ib, &ir) != PV_OK)
    return NULL;
  if (len) *len = ir.path_length;
  return (const char *)ds->index.sec[PV_SEC_STRINGS] + ir.path_offset;
}

size_t pv_dataset_source_path_copy(const pv_dataset *ds, uint64_t i, char *buf, size_t cap) {
  if (!buf || cap == 0) return 0;
  buf[0] = 0;
  uint32_t len = 0;
  const char *p = pv_dataset_source_path(ds, i, &len);
  if (!p) return 0;
  size_t n = len < cap - 1 ? len : cap - 1;
  if (pv__guard_copy(buf, p, n) != PV_OK) n = 0;
  buf[n] = 0;
  return n;
}

const pv_shard_view *pv_dataset_shard_view(const pv_dataset *ds, uint32_t k) {
  return k < ds->shard_count ? &ds->shards[k] : NULL;
}

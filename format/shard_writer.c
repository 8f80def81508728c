/* shard_writer.c - lays out and encodes a shard (pv_format.h, "Writing a
 * shard"; spec/FORMAT.md 3.2). The only code that decides where the bytes
 * of a shard go: the packer, tools/gen_dataset and the test builders call
 * it and do the I/O themselves. */
#include <stdlib.h>
#include <string.h>

#include "pv_format.h"

struct pv_shard_writer {
  int open;              /* a shard is open (begin called, finish not yet) */
  uint64_t dataset_id;
  uint32_t shard_index;
  uint64_t first_record;
  uint64_t offset;       /* bytes of the shard so far */
  uint32_t count;        /* entries in table */
  uint8_t *table;        /* count * PV_RECORD_ENTRY_SIZE bytes used */
  size_t cap;            /* entries table can hold */
};

/* Zero bytes up to the next multiple of PV_RECORD_ALIGN. */
static uint32_t pad_to_align(uint64_t offset) {
  return (uint32_t)((PV_RECORD_ALIGN - offset % PV_RECORD_ALIGN) % PV_RECORD_ALIGN);
}

pv_status pv_shard_writer_create(pv_shard_writer **out) {
  if (!out) return PV_ERR_INVALID_ARG;
  *out = calloc(1, sizeof **out);
  return *out ? PV_OK : PV_ERR_NOMEM;
}

void pv_shard_writer_destroy(pv_shard_writer *w) {
  if (!w) return;
  free(w->table);
  free(w);
}

pv_status pv_shard_writer_begin(pv_shard_writer *w, uint64_t dataset_id, uint32_t shard_index,
                                uint64_t first_record, uint8_t header[PV_SHARD_HEADER_SIZE]) {
  if (!w) return PV_ERR_INVALID_ARG;
  w->open = 1;
  w->dataset_id = dataset_id;
  w->shard_index = shard_index;
  w->first_record = first_record;
  w->offset = PV_SHARD_HEADER_SIZE;
  w->count = 0;
  if (header) memset(header, 0, PV_SHARD_HEADER_SIZE);
  return PV_OK;
}

pv_status pv_shard_writer_append(pv_shard_writer *w, pv_record_entry *e, const void *payload,
                                 uint32_t *pad) {
  if (!w || !w->open || !e || (!payload && e->length)) return PV_ERR_INVALID_ARG;
  if (w->count == UINT32_MAX) return PV_ERR_LIMIT;
  const uint32_t p = pad_to_align(w->offset);
  if (w->offset > (UINT64_C(1) << 63) - ((uint64_t)p + e->length) -
                      ((uint64_t)w->count + 1) * PV_RECORD_ENTRY_SIZE - 2 * PV_RECORD_ALIGN)
    return PV_ERR_LIMIT;
  if (w->count == w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 1024;
    if (nc > SIZE_MAX / PV_RECORD_ENTRY_SIZE) return PV_ERR_LIMIT;
    uint8_t *n = realloc(w->table, nc * PV_RECORD_ENTRY_SIZE);
    if (!n) return PV_ERR_NOMEM;
    w->table = n;
    w->cap = nc;
  }
  e->offset = w->offset + p;
  e->checksum = pv_checksum(payload, e->length);
  pv_record_entry_encode(e, w->table + (size_t)w->count * PV_RECORD_ENTRY_SIZE);
  w->count++;
  w->offset = e->offset + e->length;
  if (pad) *pad = p;
  return PV_OK;
}

uint64_t pv_shard_writer_offset(const pv_shard_writer *w) { return w->offset; }

uint32_t pv_shard_writer_count(const pv_shard_writer *w) { return w->count; }

uint64_t pv_shard_writer_bound(const pv_shard_writer *w, uint32_t length) {
  return w->offset + pad_to_align(w->offset) + length + PV_RECORD_ALIGN +
         ((uint64_t)w->count + 1) * PV_RECORD_ENTRY_SIZE + PV_SHARD_FOOTER_SIZE;
}

pv_status pv_shard_writer_finish(pv_shard_writer *w, pv_shard_tail *t) {
  if (!w || !w->open || !t) return PV_ERR_INVALID_ARG;
  memset(t, 0, sizeof *t);
  t->pad = pad_to_align(w->offset);
  const uint64_t table_offset = w->offset + t->pad;
  t->table = w->table;
  t->table_size = (size_t)w->count * PV_RECORD_ENTRY_SIZE;

  const pv_shard_header h = {PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR, 0, 0,
                             w->dataset_id, w->shard_index, w->count, w->first_record};
  pv_shard_header_encode(&h, t->header);
  pv_shard_footer f = {0};
  f.table_offset = table_offset;
  f.record_count = w->count;
  f.shard_index = w->shard_index;
  f.dataset_id = w->dataset_id;
  f.header_checksum = pv_load64(t->header + PV_SHARD_HEADER_SIZE - 8);
  f.table_checksum = pv_checksum(w->table, t->table_size);
  pv_shard_footer_encode(&f, t->footer);

  t->ref.file_size = table_offset + t->table_size + PV_SHARD_FOOTER_SIZE;
  t->ref.first_record = w->first_record;
  t->ref.record_count = w->count;
  t->ref.footer_checksum = f.footer_checksum;
  w->open = 0;
  return PV_OK;
}

/* format.c - encode, decode and validate pvpack v1 structures.
 *
 * The byte layout of every structure is written down twice: as a packed-free
 * struct of fixed-width fields below (used only for offsetof/sizeof, never
 * mapped onto file bytes, so host endianness and alignment cannot leak into
 * the format), and in spec/FORMAT.md. _Static_assert ties the struct to the
 * numbers in the spec; tests tie the spec's worked example to the encoder.
 */
#include "pv_format.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- on-disk layouts (descriptors only) ---------------------------------- */

typedef struct pv_disk_shard_header {
  uint8_t magic[8];
  uint16_t version_major;
  uint16_t version_minor;
  uint32_t header_size;
  uint32_t incompat_flags;
  uint32_t compat_flags;
  uint64_t dataset_id;
  uint32_t shard_index;
  uint32_t record_count;
  uint64_t first_record;
  uint32_t reserved; /* must be zero: checked (spec 1, "Reserved and unused") */
  uint32_t unused;   /* written zero, ignored on read: a minor version's field */
  uint64_t checksum;
} pv_disk_shard_header;

typedef struct pv_disk_shard_footer {
  uint64_t table_offset;
  uint32_t record_count;
  uint32_t shard_index;
  uint64_t dataset_id;
  uint64_t header_checksum;
  uint64_t table_checksum;
  uint64_t reserved;
  uint64_t footer_checksum;
  uint8_t magic[8];
} pv_disk_shard_footer;

typedef struct pv_disk_record {
  uint64_t offset;
  uint32_t length;
  uint32_t label;
  uint32_t width;
  uint32_t height;
  uint8_t codec;
  uint8_t channels;
  uint16_t flags;
  uint32_t reserved;
  uint64_t checksum;
} pv_disk_record;

typedef struct pv_disk_section {
  uint64_t offset;
  uint64_t size;
  uint64_t checksum;
} pv_disk_section;

typedef struct pv_disk_index_header {
  uint8_t magic[8];
  uint16_t version_major;
  uint16_t version_minor;
  uint32_t header_size;
  uint32_t incompat_flags;
  uint32_t compat_flags;
  uint64_t file_size;
  uint64_t dataset_id;
  uint64_t record_count;
  uint32_t shard_count;
  uint32_t class_count;
  uint64_t skipped_count;
  pv_disk_section sections[PV_SEC_COUNT];
  uint8_t reserved[8]; /* must be zero: checked */
  uint8_t unused[32];  /* written zero, ignored on read (a minor version's
                          fields: the descriptor of section 6 at 216) */
  uint64_t checksum;
} pv_disk_index_header;

typedef struct pv_disk_index_trailer {
  uint64_t header_checksum;
  uint8_t magic[8];
} pv_disk_index_trailer;

typedef struct pv_disk_shard_ref {
  uint64_t file_size;
  uint64_t first_record;
  uint32_t record_count;
  uint32_t reserved;
  uint64_t footer_checksum;
} pv_disk_shard_ref;

typedef struct pv_disk_class {
  uint64_t name_offset;
  uint32_t name_length;
  uint32_t reserved;
  uint64_t record_count;
} pv_disk_class;

typedef struct pv_disk_index_record {
  uint64_t path_offset;
  uint32_t path_length;
  uint32_t label;
} pv_disk_index_record;

#define SH(f) offsetof(pv_disk_shard_header, f)
#define SF(f) offsetof(pv_disk_shard_footer, f)
#define RE(f) offsetof(pv_disk_record, f)
#define IH(f) offsetof(pv_disk_index_header, f)

_Static_assert(sizeof(pv_disk_shard_header) == PV_SHARD_HEADER_SIZE, "shard header is 64 bytes");
_Static_assert(SH(version_major) == 8 && SH(header_size) == 12 && SH(incompat_flags) == 16 &&
                   SH(dataset_id) == 24 && SH(shard_index) == 32 && SH(record_count) == 36 &&
                   SH(first_record) == 40 && SH(reserved) == 48 && SH(unused) == 52 &&
                   SH(checksum) == 56,
               "shard header layout matches spec/FORMAT.md");
_Static_assert(sizeof(pv_disk_shard_footer) == PV_SHARD_FOOTER_SIZE, "shard footer is 64 bytes");
_Static_assert(SF(record_count) == 8 && SF(shard_index) == 12 && SF(dataset_id) == 16 &&
                   SF(header_checksum) == 24 && SF(table_checksum) == 32 && SF(reserved) == 40 &&
                   SF(footer_checksum) == 48 && SF(magic) == 56,
               "shard footer layout matches spec/FORMAT.md");
_Static_assert(sizeof(pv_disk_record) == PV_RECORD_ENTRY_SIZE, "record entry is 40 bytes");
_Static_assert(RE(length) == 8 && RE(label) == 12 && RE(width) == 16 && RE(height) == 20 &&
                   RE(codec) == 24 && RE(channels) == 25 && RE(flags) == 26 &&
                   RE(reserved) == 28 && RE(checksum) == 32,
               "record entry layout matches spec/FORMAT.md");
_Static_assert(sizeof(pv_disk_section) == 24, "section descriptor is 24 bytes");
_Static_assert(sizeof(pv_disk_index_header) == PV_INDEX_HEADER_SIZE, "index header is 256 bytes");
_Static_assert(IH(file_size) == 24 && IH(dataset_id) == 32 && IH(record_count) == 40 &&
                   IH(shard_count) == 48 && IH(class_count) == 52 && IH(skipped_count) == 56 &&
                   IH(sections) == 64 && IH(reserved) == 208 && IH(unused) == 216 &&
                   IH(checksum) == 248,
               "index header layout matches spec/FORMAT.md");
_Static_assert(sizeof(pv_disk_index_trailer) == PV_INDEX_TRAILER_SIZE, "index trailer is 16 bytes");
_Static_assert(sizeof(pv_disk_shard_ref) == PV_SHARD_REF_SIZE, "shard reference is 32 bytes");
_Static_assert(sizeof(pv_disk_class) == PV_CLASS_ENTRY_SIZE, "class entry is 24 bytes");
_Static_assert(sizeof(pv_disk_index_record) == PV_INDEX_RECORD_SIZE, "index record is 16 bytes");
_Static_assert(PV_SHARD_HEADER_SIZE % PV_RECORD_ALIGN == 0, "first payload is aligned");

/* ---- helpers -------------------------------------------------------------- */

static void pv__errf(char *err, size_t cap, const char *fmt, ...) {
  if (!err || cap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + (a - 1)) / a * a; }

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

/* The version rule shared by shard and index headers (spec 5): a major
 * version we do not know, or an incompatible-feature bit we do not know,
 * means the file must be refused. `what` names the file kind in messages. */
static pv_status check_version(const char *what, uint16_t major, uint16_t minor,
                               uint32_t incompat, char *err, size_t errcap) {
  if (major != PV_FORMAT_VERSION_MAJOR) {
    pv__errf(err, errcap, "%s format version %u.%u, this reader knows %u.x", what, major, minor,
             PV_FORMAT_VERSION_MAJOR);
    return PV_ERR_VERSION;
  }
  if (incompat & ~PV_INCOMPAT_KNOWN) {
    pv__errf(err, errcap, "%s uses unknown incompatible features 0x%08x", what,
             incompat & ~PV_INCOMPAT_KNOWN);
    return PV_ERR_VERSION;
  }
  return PV_OK;
}

uint16_t pv_load16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
uint32_t pv_load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
uint64_t pv_load64(const uint8_t *p) {
  return (uint64_t)pv_load32(p) | ((uint64_t)pv_load32(p + 4) << 32);
}
void pv_store16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
void pv_store32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
void pv_store64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t pv_checksum(const void *data, size_t len) { return XXH3_64bits_withSeed(data, len, 0); }

#define PV_CODEC_NAME_(sym, id, name) [id] = name,
static const char *const k_codec_names[PV_CODEC_COUNT] = {PV_CODEC_LIST(PV_CODEC_NAME_)};
#undef PV_CODEC_NAME_

const char *pv_codec_name(int codec) {
  return codec >= 0 && codec < PV_CODEC_COUNT && k_codec_names[codec] ? k_codec_names[codec]
                                                                      : "unknown";
}

int pv_codec_by_name(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < PV_CODEC_COUNT; i++)
    if (k_codec_names[i] && strcmp(k_codec_names[i], name) == 0) return i;
  return -1;
}

/* ---- shard header ---------------------------------------------------------- */

void pv_shard_header_encode(const pv_shard_header *h, uint8_t out[PV_SHARD_HEADER_SIZE]) {
  memset(out, 0, PV_SHARD_HEADER_SIZE);
  memcpy(out, PV_SHARD_MAGIC, 8);
  pv_store16(out + SH(version_major), h->version_major);
  pv_store16(out + SH(version_minor), h->version_minor);
  pv_store32(out + SH(header_size), PV_SHARD_HEADER_SIZE);
  pv_store32(out + SH(incompat_flags), h->incompat_flags);
  pv_store32(out + SH(compat_flags), h->compat_flags);
  pv_store64(out + SH(dataset_id), h->dataset_id);
  pv_store32(out + SH(shard_index), h->shard_index);
  pv_store32(out + SH(record_count), h->record_count);
  pv_store64(out + SH(first_record), h->first_record);
  pv_store64(out + SH(checksum), pv_checksum(out, SH(checksum)));
}

pv_status pv_shard_header_decode(const uint8_t *buf, uint64_t len, pv_shard_header *h,
                                 uint64_t *checksum_out, char *err, size_t errcap) {
  if (len < PV_SHARD_HEADER_SIZE) {
    /* Shorter than a header: truncated when what is there is (a prefix
     * of) our magic, including an empty file; otherwise not ours. */
    size_t n = len < 8 ? (size_t)len : 8;
    pv__errf(err, errcap, "file is %llu bytes, smaller than a shard header", (unsigned long long)len);
    return memcmp(buf, PV_SHARD_MAGIC, n) == 0 ? PV_ERR_TRUNCATED : PV_ERR_NOT_PVPACK;
  }
  if (memcmp(buf, PV_SHARD_MAGIC, 8) != 0) {
    pv__errf(err, errcap, "bad shard magic");
    return PV_ERR_NOT_PVPACK;
  }
  uint64_t stored = pv_load64(buf + SH(checksum));
  if (checksum_out) *checksum_out = stored;
  if (pv_checksum(buf, SH(checksum)) != stored) {
    pv__errf(err, errcap, "shard header checksum mismatch");
    return PV_ERR_CHECKSUM;
  }
  h->version_major = pv_load16(buf + SH(version_major));
  h->version_minor = pv_load16(buf + SH(version_minor));
  h->incompat_flags = pv_load32(buf + SH(incompat_flags));
  h->compat_flags = pv_load32(buf + SH(compat_flags));
  h->dataset_id = pv_load64(buf + SH(dataset_id));
  h->shard_index = pv_load32(buf + SH(shard_index));
  h->record_count = pv_load32(buf + SH(record_count));
  h->first_record = pv_load64(buf + SH(first_record));
  pv_status st = check_version("shard", h->version_major, h->version_minor, h->incompat_flags,
                               err, errcap);
  if (st != PV_OK) return st;
  if (pv_load32(buf + SH(header_size)) != PV_SHARD_HEADER_SIZE) {
    pv__errf(err, errcap, "shard header_size is %u, expected %u", pv_load32(buf + SH(header_size)),
             PV_SHARD_HEADER_SIZE);
    return PV_ERR_CORRUPT;
  }
  /* The reserved bytes only: the unused ones are a later minor version's. */
  if (!all_zero(buf + SH(reserved), sizeof(((pv_disk_shard_header *)0)->reserved))) {
    pv__errf(err, errcap, "shard header reserved bytes are not zero");
    return PV_ERR_CORRUPT;
  }
  if (h->first_record > PV_MAX_RECORDS) {
    pv__errf(err, errcap, "shard first_record %llu over the limit", (unsigned long long)h->first_record);
    return PV_ERR_LIMIT;
  }
  return PV_OK;
}

/* ---- shard footer ---------------------------------------------------------- */

void pv_shard_footer_encode(pv_shard_footer *f, uint8_t out[PV_SHARD_FOOTER_SIZE]) {
  memset(out, 0, PV_SHARD_FOOTER_SIZE);
  pv_store64(out + SF(table_offset), f->table_offset);
  pv_store32(out + SF(record_count), f->record_count);
  pv_store32(out + SF(shard_index), f->shard_index);
  pv_store64(out + SF(dataset_id), f->dataset_id);
  pv_store64(out + SF(header_checksum), f->header_checksum);
  pv_store64(out + SF(table_checksum), f->table_checksum);
  f->footer_checksum = pv_checksum(out, SF(footer_checksum));
  pv_store64(out + SF(footer_checksum), f->footer_checksum);
  memcpy(out + SF(magic), PV_SHARD_END_MAGIC, 8);
}

pv_status pv_shard_footer_decode(const uint8_t *file, uint64_t file_size, pv_shard_footer *f,
                                 char *err, size_t errcap) {
  if (file_size < PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE) {
    pv__errf(err, errcap, "file is %llu bytes, too small for a header and a footer",
             (unsigned long long)file_size);
    return PV_ERR_TRUNCATED;
  }
  const uint8_t *p = file + (file_size - PV_SHARD_FOOTER_SIZE);
  if (memcmp(p + SF(magic), PV_SHARD_END_MAGIC, 8) != 0) {
    pv__errf(err, errcap, "end magic missing at byte %llu: file truncated or damaged",
             (unsigned long long)(file_size - 8));
    return PV_ERR_TRUNCATED;
  }
  f->footer_checksum = pv_load64(p + SF(footer_checksum));
  if (pv_checksum(p, SF(footer_checksum)) != f->footer_checksum) {
    pv__errf(err, errcap, "shard footer checksum mismatch");
    return PV_ERR_CHECKSUM;
  }
  f->table_offset = pv_load64(p + SF(table_offset));
  f->record_count = pv_load32(p + SF(record_count));
  f->shard_index = pv_load32(p + SF(shard_index));
  f->dataset_id = pv_load64(p + SF(dataset_id));
  f->header_checksum = pv_load64(p + SF(header_checksum));
  f->table_checksum = pv_load64(p + SF(table_checksum));
  if (!all_zero(p + SF(reserved), 8)) {
    pv__errf(err, errcap, "shard footer reserved bytes are not zero");
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

/* ---- record entries ---------------------------------------------------------- */

void pv_record_entry_encode(const pv_record_entry *e, uint8_t out[PV_RECORD_ENTRY_SIZE]) {
  memset(out, 0, PV_RECORD_ENTRY_SIZE);
  pv_store64(out + RE(offset), e->offset);
  pv_store32(out + RE(length), e->length);
  pv_store32(out + RE(label), e->label);
  pv_store32(out + RE(width), e->width);
  pv_store32(out + RE(height), e->height);
  out[RE(codec)] = e->codec;
  out[RE(channels)] = e->channels;
  pv_store16(out + RE(flags), e->flags);
  pv_store64(out + RE(checksum), e->checksum);
}

pv_status pv_record_entry_decode(const uint8_t *p, uint64_t table_offset, pv_record_entry *e,
                                 char *err, size_t errcap) {
  e->offset = pv_load64(p + RE(offset));
  e->length = pv_load32(p + RE(length));
  e->label = pv_load32(p + RE(label));
  e->width = pv_load32(p + RE(width));
  e->height = pv_load32(p + RE(height));
  e->codec = p[RE(codec)];
  e->channels = p[RE(channels)];
  e->flags = pv_load16(p + RE(flags));
  e->checksum = pv_load64(p + RE(checksum));
  if (e->codec >= PV_CODEC_COUNT) {
    pv__errf(err, errcap, "unknown codec %u", e->codec);
    return PV_ERR_VERSION;
  }
  if (e->flags & ~PV_RECORD_FLAGS_KNOWN) {
    pv__errf(err, errcap, "unknown record flags 0x%04x", e->flags);
    return PV_ERR_VERSION;
  }
  if (e->channels != 3) {
    pv__errf(err, errcap, "channels is %u, version 1 stores 3", e->channels);
    return PV_ERR_CORRUPT;
  }
  if (pv_load32(p + RE(reserved)) != 0) {
    pv__errf(err, errcap, "record entry reserved bytes are not zero");
    return PV_ERR_CORRUPT;
  }
  if (e->width == 0 || e->height == 0 || e->width > PV_MAX_DIM || e->height > PV_MAX_DIM) {
    pv__errf(err, errcap, "image size %ux%u outside 1..%u", e->width, e->height, PV_MAX_DIM);
    return PV_ERR_LIMIT;
  }
  if (e->codec == PV_CODEC_RAW && (uint64_t)e->length != (uint64_t)e->width * e->height * 3u) {
    pv__errf(err, errcap, "raw record is %u bytes, %ux%u RGB needs %llu", e->length, e->width,
             e->height, (unsigned long long)e->width * e->height * 3u);
    return PV_ERR_CORRUPT;
  }
  if (e->codec != PV_CODEC_RAW && e->length == 0) {
    pv__errf(err, errcap, "empty %s payload", pv_codec_name(e->codec));
    return PV_ERR_CORRUPT;
  }
  if ((e->flags & PV_RECORD_FLAG_ORIGINAL) && e->codec != PV_CODEC_JPEG) {
    pv__errf(err, errcap, "ORIGINAL flag on a %s record", pv_codec_name(e->codec));
    return PV_ERR_CORRUPT;
  }
  if (e->offset < PV_SHARD_HEADER_SIZE || e->offset % PV_RECORD_ALIGN != 0 ||
      e->offset > table_offset || e->length > table_offset - e->offset) {
    pv__errf(err, errcap, "payload [%llu, +%u) outside the payload area [64, %llu) or unaligned",
             (unsigned long long)e->offset, e->length, (unsigned long long)table_offset);
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

/* ---- whole shard ---------------------------------------------------------- */

pv_status pv_shard_validate(const uint8_t *file, uint64_t file_size, pv_shard_view *v, char *err,
                            size_t errcap) {
  pv_status st;
  uint64_t hsum = 0;
  memset(v, 0, sizeof *v);
  v->file = file;
  v->file_size = file_size;
  if ((st = pv_shard_header_decode(file, file_size, &v->header, &hsum, err, errcap)) != PV_OK)
    return st;
  if ((st = pv_shard_footer_decode(file, file_size, &v->footer, err, errcap)) != PV_OK) return st;
  const pv_shard_header *h = &v->header;
  const pv_shard_footer *f = &v->footer;
  if (f->header_checksum != hsum || f->record_count != h->record_count ||
      f->shard_index != h->shard_index || f->dataset_id != h->dataset_id) {
    pv__errf(err, errcap, "footer does not match header (count %u/%u, index %u/%u)",
             f->record_count, h->record_count, f->shard_index, h->shard_index);
    return PV_ERR_CORRUPT;
  }
  uint64_t table_bytes = (uint64_t)h->record_count * PV_RECORD_ENTRY_SIZE;
  if (f->table_offset < PV_SHARD_HEADER_SIZE || f->table_offset % PV_RECORD_ALIGN != 0 ||
      f->table_offset > file_size || table_bytes + PV_SHARD_FOOTER_SIZE != file_size - f->table_offset) {
    pv__errf(err, errcap,
             "record table at %llu with %u entries does not end at the footer (file %llu bytes)",
             (unsigned long long)f->table_offset, h->record_count, (unsigned long long)file_size);
    return PV_ERR_CORRUPT;
  }
  v->table = file + f->table_offset;
  if (pv_checksum(v->table, (size_t)table_bytes) != f->table_checksum) {
    pv__errf(err, errcap, "record table checksum mismatch");
    return PV_ERR_CHECKSUM;
  }
  /* Payloads are packed in order with minimal alignment padding, so every
   * byte of the file belongs to exactly one structure (spec 3.2). */
  uint64_t expect = PV_SHARD_HEADER_SIZE;
  for (uint32_t i = 0; i < h->record_count; i++) {
    pv_record_entry e;
    char sub[160];
    st = pv_record_entry_decode(v->table + (uint64_t)i * PV_RECORD_ENTRY_SIZE, f->table_offset, &e,
                                sub, sizeof sub);
    if (st != PV_OK) {
      pv__errf(err, errcap, "record %u: %s", i, sub);
      return st;
    }
    if (e.offset != expect) {
      pv__errf(err, errcap, "record %u: payload at %llu, expected %llu", i,
               (unsigned long long)e.offset, (unsigned long long)expect);
      return PV_ERR_CORRUPT;
    }
    expect = align_up(e.offset + e.length, PV_RECORD_ALIGN);
  }
  if (expect != f->table_offset) {
    pv__errf(err, errcap, "payloads end at %llu but the table starts at %llu",
             (unsigned long long)expect, (unsigned long long)f->table_offset);
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

void pv_shard_entry(const pv_shard_view *v, uint32_t i, pv_record_entry *e) {
  pv_record_entry_decode(v->table + (uint64_t)i * PV_RECORD_ENTRY_SIZE, v->footer.table_offset, e,
                         NULL, 0);
}

const uint8_t *pv_shard_entry_bytes(const pv_shard_view *v, uint32_t i) {
  return v->table + (uint64_t)i * PV_RECORD_ENTRY_SIZE;
}

pv_status pv_shard_check_record(const pv_shard_view *v, const pv_record_entry *e) {
  return pv_checksum(v->file + e->offset, e->length) == e->checksum ? PV_OK : PV_ERR_CHECKSUM;
}

/* ---- index ---------------------------------------------------------------- */

static uint64_t index_section_sizes(const pv_index_input *in, uint64_t sizes[PV_SEC_COUNT]) {
  if (in->shard_count > PV_MAX_SHARDS || in->class_count > PV_MAX_CLASSES ||
      in->record_count > PV_MAX_RECORDS)
    return 0;
  uint64_t strings = 0;
  for (uint32_t c = 0; c < in->class_count; c++) {
    size_t n = strlen(in->class_names[c]);
    if (n > PV_MAX_PATH_BYTES) return 0;
    strings += n;
  }
  for (uint64_t i = 0; i < in->record_count; i++) {
    size_t n = strlen(in->record_paths[i]);
    if (n > PV_MAX_PATH_BYTES) return 0;
    strings += n;
  }
  sizes[PV_SEC_SHARDS] = (uint64_t)in->shard_count * PV_SHARD_REF_SIZE;
  sizes[PV_SEC_CLASSES] = (uint64_t)in->class_count * PV_CLASS_ENTRY_SIZE;
  sizes[PV_SEC_RECORDS] = in->record_count * PV_INDEX_RECORD_SIZE;
  sizes[PV_SEC_STRINGS] = strings;
  sizes[PV_SEC_OPTIONS] = in->options ? strlen(in->options) : 0;
  sizes[PV_SEC_SKIPPED] = in->skipped ? strlen(in->skipped) : 0;
  uint64_t off = PV_INDEX_HEADER_SIZE;
  for (int s = 0; s < PV_SEC_COUNT; s++) off = align_up(off, PV_SECTION_ALIGN) + sizes[s];
  return align_up(off, PV_SECTION_ALIGN) + PV_INDEX_TRAILER_SIZE;
}

uint64_t pv_index_encoded_size(const pv_index_input *in) {
  uint64_t sizes[PV_SEC_COUNT];
  return index_section_sizes(in, sizes);
}

pv_status pv_index_encode(const pv_index_input *in, uint8_t *out, uint64_t out_size) {
  uint64_t sizes[PV_SEC_COUNT], offs[PV_SEC_COUNT];
  if (!in || !out) return PV_ERR_INVALID_ARG;
  uint64_t total = index_section_sizes(in, sizes);
  if (total == 0) return PV_ERR_LIMIT;
  if (out_size != total) return PV_ERR_INVALID_ARG;
  memset(out, 0, (size_t)total);
  uint64_t off = PV_INDEX_HEADER_SIZE;
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    offs[s] = align_up(off, PV_SECTION_ALIGN);
    off = offs[s] + sizes[s];
  }
  /* shards */
  uint8_t *p = out + offs[PV_SEC_SHARDS];
  for (uint32_t k = 0; k < in->shard_count; k++, p += PV_SHARD_REF_SIZE) {
    pv_store64(p + offsetof(pv_disk_shard_ref, file_size), in->shards[k].file_size);
    pv_store64(p + offsetof(pv_disk_shard_ref, first_record), in->shards[k].first_record);
    pv_store32(p + offsetof(pv_disk_shard_ref, record_count), in->shards[k].record_count);
    pv_store64(p + offsetof(pv_disk_shard_ref, footer_checksum), in->shards[k].footer_checksum);
  }
  /* strings: class names first, then record paths, in order, no separators */
  uint8_t *str = out + offs[PV_SEC_STRINGS];
  uint64_t so = 0;
  p = out + offs[PV_SEC_CLASSES];
  for (uint32_t c = 0; c < in->class_count; c++, p += PV_CLASS_ENTRY_SIZE) {
    size_t n = strlen(in->class_names[c]);
    memcpy(str + so, in->class_names[c], n);
    pv_store64(p + offsetof(pv_disk_class, name_offset), so);
    pv_store32(p + offsetof(pv_disk_class, name_length), (uint32_t)n);
    pv_store64(p + offsetof(pv_disk_class, record_count), in->class_record_counts[c]);
    so += n;
  }
  p = out + offs[PV_SEC_RECORDS];
  for (uint64_t i = 0; i < in->record_count; i++, p += PV_INDEX_RECORD_SIZE) {
    size_t n = strlen(in->record_paths[i]);
    memcpy(str + so, in->record_paths[i], n);
    pv_store64(p + offsetof(pv_disk_index_record, path_offset), so);
    pv_store32(p + offsetof(pv_disk_index_record, path_length), (uint32_t)n);
    pv_store32(p + offsetof(pv_disk_index_record, label), in->record_labels[i]);
    so += n;
  }
  if (sizes[PV_SEC_OPTIONS]) memcpy(out + offs[PV_SEC_OPTIONS], in->options, sizes[PV_SEC_OPTIONS]);
  if (sizes[PV_SEC_SKIPPED]) memcpy(out + offs[PV_SEC_SKIPPED], in->skipped, sizes[PV_SEC_SKIPPED]);
  /* header */
  memcpy(out, PV_INDEX_MAGIC, 8);
  pv_store16(out + IH(version_major), PV_FORMAT_VERSION_MAJOR);
  pv_store16(out + IH(version_minor), PV_FORMAT_VERSION_MINOR);
  pv_store32(out + IH(header_size), PV_INDEX_HEADER_SIZE);
  pv_store64(out + IH(file_size), total);
  pv_store64(out + IH(dataset_id), in->dataset_id);
  pv_store64(out + IH(record_count), in->record_count);
  pv_store32(out + IH(shard_count), in->shard_count);
  pv_store32(out + IH(class_count), in->class_count);
  pv_store64(out + IH(skipped_count), in->skipped_count);
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    uint8_t *d = out + IH(sections) + (size_t)s * sizeof(pv_disk_section);
    pv_store64(d + offsetof(pv_disk_section, offset), offs[s]);
    pv_store64(d + offsetof(pv_disk_section, size), sizes[s]);
    pv_store64(d + offsetof(pv_disk_section, checksum), pv_checksum(out + offs[s], (size_t)sizes[s]));
  }
  uint64_t hsum = pv_checksum(out, IH(checksum));
  pv_store64(out + IH(checksum), hsum);
  uint8_t *t = out + total - PV_INDEX_TRAILER_SIZE;
  pv_store64(t + offsetof(pv_disk_index_trailer, header_checksum), hsum);
  memcpy(t + offsetof(pv_disk_index_trailer, magic), PV_INDEX_END_MAGIC, 8);
  return PV_OK;
}

static const char *const section_names[PV_SEC_COUNT] = {"shards", "classes", "records",
                                                        "strings", "options", "skipped"};

pv_status pv_index_validate(const uint8_t *file, uint64_t file_size, pv_index_view *v, char *err,
                            size_t errcap) {
  memset(v, 0, sizeof *v);
  v->file = file;
  v->file_size = file_size;
  pv_index_header *h = &v->header;
  if (memcmp(file, PV_INDEX_MAGIC, file_size < 8 ? (size_t)file_size : 8) != 0) {
    pv__errf(err, errcap, "bad index magic");
    return PV_ERR_NOT_PVPACK;
  }
  if (file_size < PV_INDEX_HEADER_SIZE + PV_INDEX_TRAILER_SIZE) {
    pv__errf(err, errcap, "index is %llu bytes, smaller than header and trailer",
             (unsigned long long)file_size);
    return PV_ERR_TRUNCATED;
  }
  const uint8_t *t = file + file_size - PV_INDEX_TRAILER_SIZE;
  if (memcmp(t + offsetof(pv_disk_index_trailer, magic), PV_INDEX_END_MAGIC, 8) != 0) {
    pv__errf(err, errcap, "index end magic missing: file truncated or damaged");
    return PV_ERR_TRUNCATED;
  }
  v->header_checksum = pv_load64(file + IH(checksum));
  if (pv_checksum(file, IH(checksum)) != v->header_checksum) {
    pv__errf(err, errcap, "index header checksum mismatch");
    return PV_ERR_CHECKSUM;
  }
  if (pv_load64(t + offsetof(pv_disk_index_trailer, header_checksum)) != v->header_checksum) {
    pv__errf(err, errcap, "index trailer does not match the header");
    return PV_ERR_CORRUPT;
  }
  h->version_major = pv_load16(file + IH(version_major));
  h->version_minor = pv_load16(file + IH(version_minor));
  h->incompat_flags = pv_load32(file + IH(incompat_flags));
  h->compat_flags = pv_load32(file + IH(compat_flags));
  h->file_size = pv_load64(file + IH(file_size));
  h->dataset_id = pv_load64(file + IH(dataset_id));
  h->record_count = pv_load64(file + IH(record_count));
  h->shard_count = pv_load32(file + IH(shard_count));
  h->class_count = pv_load32(file + IH(class_count));
  h->skipped_count = pv_load64(file + IH(skipped_count));
  pv_status vst = check_version("index", h->version_major, h->version_minor, h->incompat_flags,
                                err, errcap);
  if (vst != PV_OK) return vst;
  if (pv_load32(file + IH(header_size)) != PV_INDEX_HEADER_SIZE ||
      !all_zero(file + IH(reserved), sizeof(((pv_disk_index_header *)0)->reserved))) {
    pv__errf(err, errcap, "index header_size wrong or reserved bytes not zero");
    return PV_ERR_CORRUPT;
  }
  if (h->file_size != file_size) {
    pv__errf(err, errcap, "index says %llu bytes, file has %llu", (unsigned long long)h->file_size,
             (unsigned long long)file_size);
    return file_size < h->file_size ? PV_ERR_TRUNCATED : PV_ERR_CORRUPT;
  }
  if (h->shard_count > PV_MAX_SHARDS || h->class_count > PV_MAX_CLASSES ||
      h->record_count > PV_MAX_RECORDS) {
    pv__errf(err, errcap, "index counts over the limits (%u shards, %u classes, %llu records)",
             h->shard_count, h->class_count, (unsigned long long)h->record_count);
    return PV_ERR_LIMIT;
  }
  const uint64_t expect_size[PV_SEC_COUNT] = {
      (uint64_t)h->shard_count * PV_SHARD_REF_SIZE, (uint64_t)h->class_count * PV_CLASS_ENTRY_SIZE,
      h->record_count * PV_INDEX_RECORD_SIZE, 0, 0, 0};
  uint64_t expect_off = PV_INDEX_HEADER_SIZE;
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    const uint8_t *d = file + IH(sections) + (size_t)s * sizeof(pv_disk_section);
    pv_section *sec = &h->sections[s];
    sec->offset = pv_load64(d + offsetof(pv_disk_section, offset));
    sec->size = pv_load64(d + offsetof(pv_disk_section, size));
    sec->checksum = pv_load64(d + offsetof(pv_disk_section, checksum));
    expect_off = align_up(expect_off, PV_SECTION_ALIGN);
    /* offset is bounded before it is subtracted or added to file: when
     * file_size - 16 is not a multiple of 8, align_up can step past the
     * trailer, and an unchecked size would then wrap the next offset. */
    if (sec->offset != expect_off || sec->offset > file_size - PV_INDEX_TRAILER_SIZE ||
        sec->size > file_size - PV_INDEX_TRAILER_SIZE - sec->offset) {
      pv__errf(err, errcap, "index section '%s' at [%llu, +%llu) misplaced", section_names[s],
               (unsigned long long)sec->offset, (unsigned long long)sec->size);
      return PV_ERR_CORRUPT;
    }
    if (s < PV_SEC_STRINGS && sec->size != expect_size[s]) {
      pv__errf(err, errcap, "index section '%s' is %llu bytes, counts need %llu", section_names[s],
               (unsigned long long)sec->size, (unsigned long long)expect_size[s]);
      return PV_ERR_CORRUPT;
    }
    expect_off = sec->offset + sec->size;
    v->sec[s] = file + sec->offset;
  }
  /* [align8(end of section 5), trailer) is the extension area: empty in a
   * 1.0 file, a later minor version's sections otherwise, which a 1.0
   * reader neither reads nor checks (spec 4.1 rule 3). */
  const uint64_t ext_start = align_up(expect_off, PV_SECTION_ALIGN);
  if (ext_start > file_size - PV_INDEX_TRAILER_SIZE ||
      (file_size - PV_INDEX_TRAILER_SIZE) % PV_SECTION_ALIGN != 0) {
    pv__errf(err, errcap, "index sections end at %llu, trailer is at %llu",
             (unsigned long long)expect_off, (unsigned long long)(file_size - PV_INDEX_TRAILER_SIZE));
    return PV_ERR_CORRUPT;
  }
  /* Padding between sections must be zero so that every byte is covered. */
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    uint64_t end = h->sections[s].offset + h->sections[s].size;
    uint64_t next = s + 1 < PV_SEC_COUNT ? h->sections[s + 1].offset : ext_start;
    if (!all_zero(file + end, (size_t)(next - end))) {
      pv__errf(err, errcap, "padding after index section '%s' is not zero", section_names[s]);
      return PV_ERR_CORRUPT;
    }
  }
  for (int s = 0; s < PV_SEC_COUNT; s++) {
    if (pv_checksum(v->sec[s], (size_t)h->sections[s].size) != h->sections[s].checksum) {
      pv__errf(err, errcap, "index section '%s' checksum mismatch", section_names[s]);
      return PV_ERR_CHECKSUM;
    }
  }
  /* Cross-structure rules. */
  uint64_t next_first = 0;
  for (uint32_t k = 0; k < h->shard_count; k++) {
    pv_shard_ref r;
    pv_index_shard(v, k, &r);
    const uint8_t *p = v->sec[PV_SEC_SHARDS] + (uint64_t)k * PV_SHARD_REF_SIZE;
    if (pv_load32(p + offsetof(pv_disk_shard_ref, reserved)) != 0 || r.first_record != next_first ||
        r.file_size < PV_SHARD_HEADER_SIZE + PV_SHARD_FOOTER_SIZE) {
      pv__errf(err, errcap, "shard %u: reference inconsistent (first record %llu, expected %llu)", k,
               (unsigned long long)r.first_record, (unsigned long long)next_first);
      return PV_ERR_CORRUPT;
    }
    next_first += r.record_count;
  }
  if (next_first != h->record_count) {
    pv__errf(err, errcap, "shards hold %llu records, index says %llu",
             (unsigned long long)next_first, (unsigned long long)h->record_count);
    return PV_ERR_CORRUPT;
  }
  uint64_t strings = h->sections[PV_SEC_STRINGS].size, class_sum = 0;
  for (uint32_t c = 0; c < h->class_count; c++) {
    const uint8_t *p = v->sec[PV_SEC_CLASSES] + (uint64_t)c * PV_CLASS_ENTRY_SIZE;
    uint64_t off = pv_load64(p + offsetof(pv_disk_class, name_offset));
    uint32_t len = pv_load32(p + offsetof(pv_disk_class, name_length));
    uint64_t cnt = pv_load64(p + offsetof(pv_disk_class, record_count));
    if (pv_load32(p + offsetof(pv_disk_class, reserved)) != 0 || len == 0 ||
        len > PV_MAX_PATH_BYTES || off > strings || len > strings - off ||
        cnt > h->record_count - class_sum) {
      pv__errf(err, errcap, "class %u: entry out of bounds", c);
      return PV_ERR_CORRUPT;
    }
    class_sum += cnt;
  }
  if (class_sum != h->record_count) {
    pv__errf(err, errcap, "classes count %llu records, index says %llu",
             (unsigned long long)class_sum, (unsigned long long)h->record_count);
    return PV_ERR_CORRUPT;
  }
  const uint8_t *p = v->sec[PV_SEC_RECORDS];
  for (uint64_t i = 0; i < h->record_count; i++, p += PV_INDEX_RECORD_SIZE) {
    uint64_t off = pv_load64(p + offsetof(pv_disk_index_record, path_offset));
    uint32_t len = pv_load32(p + offsetof(pv_disk_index_record, path_length));
    uint32_t label = pv_load32(p + offsetof(pv_disk_index_record, label));
    if (len > PV_MAX_PATH_BYTES || off > strings || len > strings - off || label >= h->class_count) {
      pv__errf(err, errcap, "record %llu: index entry out of bounds (label %u, path [%llu,+%u))",
               (unsigned long long)i, label, (unsigned long long)off, len);
      return PV_ERR_CORRUPT;
    }
  }
  return PV_OK;
}

pv_status pv_index_check_class_counts(const pv_index_view *v, uint64_t *counts, char *err,
                                      size_t errcap) {
  const pv_index_header *h = &v->header;
  if (h->class_count) memset(counts, 0, (size_t)h->class_count * sizeof *counts);
  const uint8_t *p = v->sec[PV_SEC_RECORDS];
  for (uint64_t i = 0; i < h->record_count; i++, p += PV_INDEX_RECORD_SIZE)
    counts[pv_load32(p + offsetof(pv_disk_index_record, label))]++; /* < class_count: validated */
  for (uint32_t c = 0; c < h->class_count; c++) {
    uint64_t want = pv_index_class_records(v, c);
    if (counts[c] != want) {
      pv__errf(err, errcap, "class %u: the index counts %llu records, its records section has %llu",
               c, (unsigned long long)want, (unsigned long long)counts[c]);
      return PV_ERR_CORRUPT;
    }
  }
  return PV_OK;
}

pv_status pv_shard_check_labels(const pv_shard_view *v, const pv_index_view *ix, char *err,
                                size_t errcap) {
  const uint8_t *e = v->table + RE(label);
  const uint8_t *r = ix->sec[PV_SEC_RECORDS] + v->header.first_record * PV_INDEX_RECORD_SIZE +
                     offsetof(pv_disk_index_record, label);
  for (uint32_t j = 0; j < v->header.record_count;
       j++, e += PV_RECORD_ENTRY_SIZE, r += PV_INDEX_RECORD_SIZE) {
    const uint32_t label = pv_load32(e), ilabel = pv_load32(r);
    if (label == ilabel) continue;
    const unsigned long long rec = (unsigned long long)(v->header.first_record + j);
    if (label >= ix->header.class_count)
      pv__errf(err, errcap, "record %llu (entry %u): label %u out of range (%u classes)", rec, j,
               label, ix->header.class_count);
    else
      pv__errf(err, errcap, "record %llu (entry %u): label %u in the shard, %u in the index", rec,
               j, label, ilabel);
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

pv_status pv_shard_matches_ref_size(uint64_t file_size, const pv_shard_ref *ref, char *err,
                                    size_t errcap) {
  if (file_size == ref->file_size) return PV_OK;
  pv__errf(err, errcap, "file is %llu bytes, the index says %llu", (unsigned long long)file_size,
           (unsigned long long)ref->file_size);
  return file_size < ref->file_size ? PV_ERR_TRUNCATED : PV_ERR_CORRUPT;
}

pv_status pv_shard_matches_ref(const pv_shard_view *v, const pv_shard_ref *ref,
                               const pv_index_header *ix, uint32_t k, char *err, size_t errcap) {
  pv_status st = pv_shard_matches_ref_size(v->file_size, ref, err, errcap);
  if (st != PV_OK) return st;
  if (v->footer.footer_checksum != ref->footer_checksum) {
    pv__errf(err, errcap,
             "footer checksum differs from the one the index records (a shard of another build?)");
    return PV_ERR_CHECKSUM;
  }
  const pv_shard_header *h = &v->header;
  if (h->shard_index != k || h->first_record != ref->first_record ||
      h->record_count != ref->record_count || h->dataset_id != ix->dataset_id) {
    pv__errf(err, errcap,
             "header says shard %u, records [%llu, +%u), dataset %016llx; the index expects "
             "shard %u, [%llu, +%u), dataset %016llx",
             h->shard_index, (unsigned long long)h->first_record, h->record_count,
             (unsigned long long)h->dataset_id, k, (unsigned long long)ref->first_record,
             ref->record_count, (unsigned long long)ix->dataset_id);
    return PV_ERR_CORRUPT;
  }
  return PV_OK;
}

const uint8_t *pv_index_record_bytes(const pv_index_view *v, uint64_t i) {
  return v->sec[PV_SEC_RECORDS] + i * PV_INDEX_RECORD_SIZE;
}

pv_status pv_index_record_decode(const pv_index_view *v, const uint8_t *p, pv_index_record *out) {
  const uint64_t strings = v->header.sections[PV_SEC_STRINGS].size;
  out->path_offset = pv_load64(p + offsetof(pv_disk_index_record, path_offset));
  out->path_length = pv_load32(p + offsetof(pv_disk_index_record, path_length));
  out->label = pv_load32(p + offsetof(pv_disk_index_record, label));
  if (out->path_length > PV_MAX_PATH_BYTES || out->path_offset > strings ||
      out->path_length > strings - out->path_offset || out->label >= v->header.class_count)
    return PV_ERR_CORRUPT;
  return PV_OK;
}

void pv_index_shard(const pv_index_view *v, uint32_t k, pv_shard_ref *out) {
  const uint8_t *p = v->sec[PV_SEC_SHARDS] + (uint64_t)k * PV_SHARD_REF_SIZE;
  out->file_size = pv_load64(p + offsetof(pv_disk_shard_ref, file_size));
  out->first_record = pv_load64(p + offsetof(pv_disk_shard_ref, first_record));
  out->record_count = pv_load32(p + offsetof(pv_disk_shard_ref, record_count));
  out->footer_checksum = pv_load64(p + offsetof(pv_disk_shard_ref, footer_checksum));
}

const char *pv_index_class_name(const pv_index_view *v, uint32_t c, uint32_t *len) {
  const uint8_t *p = v->sec[PV_SEC_CLASSES] + (uint64_t)c * PV_CLASS_ENTRY_SIZE;
  *len = pv_load32(p + offsetof(pv_disk_class, name_length));
  return (const char *)v->sec[PV_SEC_STRINGS] + pv_load64(p + offsetof(pv_disk_class, name_offset));
}

uint64_t pv_index_class_records(const pv_index_view *v, uint32_t c) {
  const uint8_t *p = v->sec[PV_SEC_CLASSES] + (uint64_t)c * PV_CLASS_ENTRY_SIZE;
  return pv_load64(p + offsetof(pv_disk_class, record_count));
}

const char *pv_index_record_path(const pv_index_view *v, uint64_t i, uint32_t *len,
                                 uint32_t *label) {
  const uint8_t *p = v->sec[PV_SEC_RECORDS] + i * PV_INDEX_RECORD_SIZE;
  if (len) *len = pv_load32(p + offsetof(pv_disk_index_record, path_length));
  if (label) *label = pv_load32(p + offsetof(pv_disk_index_record, label));
  return (const char *)v->sec[PV_SEC_STRINGS] +
         pv_load64(p + offsetof(pv_disk_index_record, path_offset));
}

const char *pv_index_section_text(const pv_index_view *v, pv_section_id s, uint64_t *len) {
  *len = v->header.sections[s].size;
  return (const char *)v->sec[s];
}

uint32_t pv_index_find_shard(const pv_index_view *v, uint64_t i) {
  /* Largest k with first_record(k) <= i; shards are contiguous and
   * ascending (checked by pv_index_validate). Empty shards never match
   * because the next shard has the same first_record. */
  uint32_t lo = 0, hi = v->header.shard_count;
  while (hi - lo > 1) {
    uint32_t mid = lo + (hi - lo) / 2;
    const uint8_t *p = v->sec[PV_SEC_SHARDS] + (uint64_t)mid * PV_SHARD_REF_SIZE;
    if (pv_load64(p + offsetof(pv_disk_shard_ref, first_record)) <= i)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

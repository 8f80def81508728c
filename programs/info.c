/* info.c - `pvpack info`: counts, classes, codecs, sizes, build options. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct stat3 {
  uint64_t min, max;
  double sum;
} stat3;

static void st_add(stat3 *s, uint64_t v, uint64_t n) {
  if (n == 0 || v < s->min) s->min = v;
  if (v > s->max) s->max = v;
  s->sum += (double)v;
}

void info_usage(FILE *f) {
  fprintf(f, "usage: pvpack info DIR [--json]\n"
             "Counts, classes, codecs, sizes and the build options of a dataset. Class names\n"
             "and paths are printed escaped (\\n, \\xNN, ...); --json gives valid JSON.\n");
}

int cmd_info(int argc, char **argv) {
  const char *dir = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      info_usage(stdout);
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "pvpack info: unknown option %s\n", argv[i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[i];
    } else {
      fprintf(stderr, "pvpack info: unexpected argument %s\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    info_usage(stderr);
    return EXIT_USAGE;
  }
  pv_dataset *ds = cli_open_or_die(dir);
  uint64_t n = pv_dataset_record_count(ds);
  uint32_t nc = pv_dataset_class_count(ds);
  uint64_t codecs[PV_CODEC_COUNT] = {0}, originals = 0, total = 0;
  stat3 bytes = {0, 0, 0}, w = {0, 0, 0}, h = {0, 0, 0};
  int rc = 0;
  for (uint64_t i = 0; i < n; i++) {
    pv_record r;
    char rerr[512];
    pv_status rst = pv_dataset_record_ex(ds, i, &r, rerr, sizeof rerr);
    if (rst != PV_OK) {
      fprintf(stderr, "pvpack info: record %" PRIu64 ": %s: ", i, pv_strerror(rst));
      pv__put_escaped(stderr, rerr, strlen(rerr));
      fputc('\n', stderr);
      rc = EXIT_DAMAGE;
      continue;
    }
    if (r.codec < PV_CODEC_COUNT) codecs[r.codec]++;
    originals += (r.flags & PV_RECORD_FLAG_ORIGINAL) != 0;
    total += r.length;
    st_add(&bytes, r.length, i);
    st_add(&w, r.width, i);
    st_add(&h, r.height, i);
  }
  double dn = n ? (double)n : 1;
  size_t olen, slen;
  const char *opt = pv_dataset_options_text(ds, &olen);
  const char *skp = pv_dataset_skipped_text(ds, &slen);
  FILE *f = stdout;
  if (json) {
    fprintf(f, "{\n  \"path\": ");
    cli_json_str(f, dir, strlen(dir));
    fprintf(f, ",\n  \"format_version\": \"%u.%u\",\n  \"dataset_id\": \"%016" PRIx64 "\",\n",
            PV_FORMAT_VERSION_MAJOR, PV_FORMAT_VERSION_MINOR, pv_dataset_id(ds));
    fprintf(f, "  \"records\": %" PRIu64 ",\n  \"shards\": %u,\n  \"skipped\": %" PRIu64 ",\n", n,
            pv_dataset_shard_count(ds), pv_dataset_skipped_count(ds));
    fprintf(f, "  \"classes\": [");
    for (uint32_t c = 0; c < nc; c++) {
      const char *cn = pv_dataset_class_name(ds, c);
      fprintf(f, "%s", c ? ", " : "");
      cli_json_str(f, cn ? cn : "", cn ? strlen(cn) : 0);
    }
    fprintf(f, "],\n  \"class_counts\": [");
    for (uint32_t c = 0; c < nc; c++)
      fprintf(f, "%s%" PRIu64, c ? ", " : "", pv_dataset_class_records(ds, c));
    fprintf(f, "],\n  \"codecs\": {");
    for (int c = 0; c < PV_CODEC_COUNT; c++) /* every codec of the format, by byte value */
      fprintf(f, "\"%s\": %" PRIu64 ", ", pv_codec_name(c), codecs[c]);
    fprintf(f, "\"original_jpeg\": %" PRIu64 "},\n", originals);
    fprintf(f, "  \"payload_bytes\": {\"total\": %" PRIu64 ", \"min\": %" PRIu64
               ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n",
            total, bytes.min, bytes.sum / dn, bytes.max);
    fprintf(f, "  \"width\": {\"min\": %" PRIu64 ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n", w.min,
            w.sum / dn, w.max);
    fprintf(f, "  \"height\": {\"min\": %" PRIu64 ", \"mean\": %.1f, \"max\": %" PRIu64 "},\n",
            h.min, h.sum / dn, h.max);
    fprintf(f, "  \"build_options\": {");
    int first = 1;
    for (size_t p = 0; p < olen;) {
      const char *nl = memchr(opt + p, '\n', olen - p);
      size_t e = nl ? (size_t)(nl - opt) : olen;
      const char *eq = memchr(opt + p, '=', e - p);
      if (eq) {
        fprintf(f, "%s", first ? "" : ", ");
        first = 0;
        cli_json_str(f, opt + p, (size_t)(eq - (opt + p)));
        fputs(": ", f);
        cli_json_str(f, eq + 1, e - (size_t)(eq + 1 - opt));
      }
      p = e + 1;
    }
    fprintf(f, "},\n  \"skipped_files\": ");
    cli_json_str(f, skp, slen);
    fprintf(f, "\n}\n");
  } else {
    char tb[32];
    cli_human_bytes(total, tb, sizeof tb);
    fprintf(f, "dataset   ");
    pv__put_escaped(f, dir, strlen(dir));
    fprintf(f, " (format %u.%u, id %016" PRIx64 ")\n", PV_FORMAT_VERSION_MAJOR,
            PV_FORMAT_VERSION_MINOR, pv_dataset_id(ds));
    fprintf(f, "records   %" PRIu64 " in %u shards (%" PRIu64 " source files skipped)\n", n,
            pv_dataset_shard_count(ds), pv_dataset_skipped_count(ds));
    /* JPEG first (with its originals), then every other codec by byte value. */
    fprintf(f, "codecs    jpeg %" PRIu64 " (original %" PRIu64 ")", codecs[PV_CODEC_JPEG], originals);
    for (int c = 0; c < PV_CODEC_COUNT; c++)
      if (c != PV_CODEC_JPEG) fprintf(f, ", %s %" PRIu64, pv_codec_name(c), codecs[c]);
    fputc('\n', f);
    fprintf(f, "payload   %s; per record min %" PRIu64 ", mean %.0f, max %" PRIu64 " bytes\n", tb,
            bytes.min, bytes.sum / dn, bytes.max);
    fprintf(f, "width     min %" PRIu64 ", mean %.1f, max %" PRIu64 "\n", w.min, w.sum / dn, w.max);
    fprintf(f, "height    min %" PRIu64 ", mean %.1f, max %" PRIu64 "\n", h.min, h.sum / dn, h.max);
    fprintf(f, "classes   %u\n", nc);
    for (uint32_t c = 0; c < nc; c++) {
      const char *cn = pv_dataset_class_name(ds, c);
      char *esc = cn ? pv__escaped(cn, strlen(cn)) : NULL;
      fprintf(f, "  %5u  %-40s %" PRIu64 "\n", c, esc ? esc : "?",
              pv_dataset_class_records(ds, c));
      free(esc);
    }
    fprintf(f, "build options\n");
    for (size_t p = 0; p < olen;) {
      const char *nl = memchr(opt + p, '\n', olen - p);
      size_t e = nl ? (size_t)(nl - opt) : olen;
      fputs("  ", f);
      pv__put_escaped(f, opt + p, e - p);
      fputc('\n', f);
      p = e + 1;
    }
  }
  pv_dataset_close(ds);
  return rc;
}

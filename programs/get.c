/* get.c - `pvpack get`: write one record as an image file. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void get_usage(FILE *f) {
  fprintf(f, "usage: pvpack get DIR N [-o FILE] [limits]\n"
             "Writes record N (0-based): JPEG records as .jpg (their stored bytes), others\n"
             "as .ppm; default FILE record-N.jpg / .ppm. FILE must not exist: get never\n"
             "overwrites a file. Prints the record's label, class and source path (escaped).\n"
             "The record is decoded first, within these limits (checked before its pixels\n"
             "are allocated):\n");
  cli_limits_usage(f);
}

int cmd_get(int argc, char **argv) {
  const char *dir = NULL, *nstr = NULL, *out = NULL;
  pv_open_options oo;
  pv_open_options_init(&oo);
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *arg = argv[a.i];
    if (cli_opt_is(&a, "-h") || cli_opt_is(&a, "--help")) {
      get_usage(stdout);
      return 0;
    } else if (cli_limit_opt(&a, &oo.limits)) {
    } else if (cli_opt_is(&a, "-o") || cli_opt_is(&a, "--output")) {
      out = cli_opt_value(&a);
    } else if (arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9')) {
      fprintf(stderr, "pvpack get: unknown option %s\n", arg);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = arg;
    } else if (!nstr) {
      nstr = arg; /* "-1" lands here and is refused below */
    } else {
      fprintf(stderr, "pvpack get: unexpected argument %s\n", arg);
      return EXIT_USAGE;
    }
  }
  if (!dir || !nstr) {
    get_usage(stderr);
    return EXIT_USAGE;
  }
  uint64_t n;
  if (!cli_parse_count(nstr, &n)) {
    fprintf(stderr, "pvpack get: bad record number '");
    pv__put_escaped(stderr, nstr, strlen(nstr));
    fprintf(stderr, "' (a record number is 0 or more, digits only)\n");
    return EXIT_USAGE;
  }
  oo.verify_on_read = 1; /* the record's checksum, read under the fault guard */
  pv_dataset *ds = cli_open_or_die_opts(dir, &oo);
  if (n >= pv_dataset_record_count(ds)) {
    fprintf(stderr, "pvpack get: record %" PRIu64 " out of range (dataset has %" PRIu64 ")\n", n,
            pv_dataset_record_count(ds));
    pv_dataset_close(ds);
    return EXIT_USAGE;
  }
  pv_record r;
  int rc = 0;
  uint8_t *pix = NULL;
  pv_decoder *dec = NULL;
  char rerr[512];
  pv_status st = pv_dataset_record_ex(ds, n, &r, rerr, sizeof rerr);
  if (st != PV_OK) {
    if (st == PV_ERR_CHECKSUM) {
      fprintf(stderr, "pvpack get: ");
      pv__put_escaped(stderr, dir, strlen(dir));
      fprintf(stderr, " record %" PRIu64 ": checksum mismatch\n", n);
    } else {
      fprintf(stderr, "pvpack get: record %" PRIu64 ": %s: ", n, pv_strerror(st));
      pv__put_escaped(stderr, rerr, strlen(rerr));
      fputc('\n', stderr);
    }
    rc = st == PV_ERR_IO ? EXIT_USAGE : EXIT_DAMAGE;
    goto done;
  }
  char def[64];
  int is_jpeg = r.codec == PV_CODEC_JPEG;
  snprintf(def, sizeof def, "record-%" PRIu64 ".%s", n, is_jpeg ? "jpg" : "ppm");
  if (!out) out = def;
  /* Always decode: proves the record is usable, whatever form is written.
   * Its limits (the dataset's) are checked before its pixels are
   * allocated. The checksum was checked by pv_dataset_record_ex
   * (verify_on_read), under the fault guard. */
  size_t need = (size_t)r.width * r.height * 3;
  if (pv_decoder_create(&dec) != PV_OK ||
      pv_decoder_set_limits(dec, pv_dataset_limits(ds)) != PV_OK) {
    fprintf(stderr, "pvpack get: out of memory\n");
    rc = EXIT_USAGE;
    goto done;
  }
  st = pv_decoder_check(dec, &r);
  if (st == PV_OK && !(pix = malloc(need ? need : 1))) {
    fprintf(stderr, "pvpack get: out of memory\n");
    rc = EXIT_USAGE;
    goto done;
  }
  if (st == PV_OK) st = pv_decoder_decode(dec, &r, pix, (size_t)r.width * 3, need);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack get: record %" PRIu64 ": ", n);
    const char *why = pv_decoder_last_error(dec);
    if (st == PV_ERR_CHANGED) {
      st = pv_dataset_explain_fault(ds, r.shard, rerr, sizeof rerr);
      why = rerr;
    } else {
      fprintf(stderr, "%s: ", pv_strerror(st)); /* "limit exceeded: ..." */
    }
    pv__put_escaped(stderr, why, strlen(why));
    fputc('\n', stderr);
    rc = st == PV_ERR_IO ? EXIT_USAGE : EXIT_DAMAGE;
    goto done;
  }
  int wr;
  if (is_jpeg) {
    wr = cli_write_new_file(out, "", 0, r.data, r.length);
  } else {
    char head[64];
    int hn = snprintf(head, sizeof head, "P6\n%u %u\n255\n", r.width, r.height);
    wr = cli_write_new_file(out, head, (size_t)hn, pix, need);
  }
  if (wr != 0) {
    fprintf(stderr, "pvpack get: cannot write ");
    pv__put_escaped(stderr, out, strlen(out));
    fprintf(stderr, ": %s%s\n", strerror(errno),
            errno == EEXIST ? " (get never overwrites a file: choose another -o FILE)" : "");
    rc = EXIT_USAGE;
    goto done;
  }
  uint32_t plen = 0;
  const char *sp = pv_dataset_source_path(ds, n, &plen);
  const char *cname = pv_dataset_class_name(ds, r.label);
  printf("record   %" PRIu64 " (shard %u, entry %u)\n", n, r.shard, r.shard_record);
  printf("label    %u (", r.label);
  if (cname) pv__put_escaped(stdout, cname, strlen(cname));
  else fputs("no such class", stdout);
  printf(")\nsource   ");
  if (sp) pv__put_escaped(stdout, sp, plen);
  printf("\nimage    %ux%u, %s%s, %u bytes\n", r.width, r.height, pv_codec_name(r.codec),
         (r.flags & PV_RECORD_FLAG_ORIGINAL) ? " (original file)" : "", r.length);
  printf("written  ");
  pv__put_escaped(stdout, out, strlen(out));
  printf("\n");
  if (!cname) rc = EXIT_DAMAGE; /* a label with no class is damage */
done:
  pv_decoder_destroy(dec);
  free(pix);
  pv_dataset_close(ds);
  return rc;
}

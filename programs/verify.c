/* verify.c - `pvpack verify`: check every byte of a dataset (pv_verify),
 * as text or JSON. */
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* The options are pv_verify_options' table (reader/verify_options.h, through
 * pv_verify_option_info) and the limits pv_limits' table: flags, help,
 * ranges and defaults all come from them. */
void verify_usage(FILE *f) {
  fprintf(f, "usage: pvpack verify DIR [--decode] [--threads N] [--json] [--max-problems N]\n"
             "                     [limits]\n");
  cli_table_usage(f, pv_verify_option_info);
  fprintf(f, "  --json                  one JSON object on stdout\n"
             "limits (records are decoded within these with --decode):\n");
  cli_limits_usage(f);
  fprintf(f, "exit status: 0 clean, 1 damage found, 2 usage or I/O error, or DIR is not a\n"
             "pvpack dataset\n");
}
typedef struct vjson {
  FILE *f;
  int n;
} vjson;

static void verify_json_problem(void *ctx, const char *file, int64_t record, const char *source,
                                pv_status st, const char *what) {
  vjson *j = ctx;
  fprintf(j->f, "%s\n    {\"file\": ", j->n++ ? "," : "");
  cli_json_str(j->f, file, strlen(file));
  fprintf(j->f, ", \"record\": %lld, \"source\": ", (long long)record);
  if (source) cli_json_str(j->f, source, strlen(source));
  else fputs("null", j->f);
  fprintf(j->f, ", \"status\": \"%s\", \"what\": ", pv_status_name(st));
  cli_json_str(j->f, what, strlen(what));
  fputc('}', j->f);
}

int cmd_verify(int argc, char **argv) {
  pv_verify_options o;
  pv_verify_options_init(&o);
  const char *dir = NULL;
  int json = 0;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    if (cli_opt_is(&a, "-h") || cli_opt_is(&a, "--help")) {
      verify_usage(stdout);
      return 0;
    } else if (cli_limit_opt(&a, &o.limits)) {
    } else if (cli_table_opt(&a, pv_verify_option_info, &o)) {
    } else if (cli_opt_is(&a, "--json")) {
      json = 1;
    } else if (argv[a.i][0] == '-') {
      fprintf(stderr, "pvpack verify: unknown option %s\n", argv[a.i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[a.i];
    } else {
      fprintf(stderr, "pvpack verify: unexpected argument %s\n", argv[a.i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    verify_usage(stderr);
    return EXIT_USAGE;
  }
  vjson j = {stdout, 0};
  if (json) {
    o.problem = verify_json_problem;
    o.ctx = &j;
    printf("{\n  \"dataset\": ");
    cli_json_str(stdout, dir, strlen(dir));
    printf(",\n  \"problems\": [");
  }
  pv_verify_summary s;
  pv_status st = pv_verify(dir, &o, &s);
  int rc = s.problems ? EXIT_DAMAGE : (st == PV_OK ? 0 : EXIT_USAGE);
  double gbs = s.seconds > 0 ? (double)s.bytes_checked / s.seconds / 1e9 : 0;
  /* Why it could not run: not a dataset (exit 2, not "DAMAGED"), or not
   * even there. */
  char why[800] = "";
  if (rc == EXIT_USAGE) {
    if (st == PV_ERR_NOT_PVPACK || st == PV_ERR_NOT_FOUND) {
      struct stat sb;
      snprintf(why, sizeof why, "not a pvpack dataset (%s)",
               st == PV_ERR_NOT_FOUND ? "no such file or directory"
               : stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)
                   ? "not a directory"
                   : "no pvpack index (" PV_INDEX_FILENAME ") and no shard files");
    } else {
      /* A resource limit (a shard it could not map, counts over this
       * reader's limits): s.error says which. */
      snprintf(why, sizeof why, "%s%s%s", pv_strerror(st), s.error[0] ? ": " : "", s.error);
    }
    fprintf(stderr, "pvpack verify: ");
    pv__put_escaped(stderr, dir, strlen(dir));
    fprintf(stderr, ": %s\n", why);
  }
  /* problem_count: the problems listed (at most --max-problems);
   * problem_total: all found; problems_omitted: the difference. */
  uint64_t listed = (uint64_t)j.n;
  if (json) {
    printf("%s],\n  \"problem_count\": %" PRIu64 ",\n  \"problem_total\": %" PRIu64
           ",\n  \"problems_omitted\": %" PRIu64 ",\n  \"status\": \"%s\",\n",
           j.n ? "\n  " : "", listed, s.problems, s.problems > listed ? s.problems - listed : 0,
           pv_status_name(st));
    if (why[0]) {
      printf("  \"error\": ");
      cli_json_str(stdout, why, strlen(why));
      printf(",\n");
    }
    printf("  \"ok\": %s,\n  \"shards_checked\": %u,\n  \"records_checked\": %" PRIu64
           ",\n  \"records_decoded\": %" PRIu64 ",\n  \"bytes_checked\": %" PRIu64
           ",\n  \"threads\": %d,\n  \"seconds\": %.6f,\n  \"gb_per_s\": %.3f\n}\n",
           rc == 0 ? "true" : "false", s.shards_checked, s.records_checked, s.records_decoded,
           s.bytes_checked, s.threads, s.seconds, gbs);
  } else if (rc == 0) {
    char b[32];
    cli_human_bytes(s.bytes_checked, b, sizeof b);
    printf("OK ");
    pv__put_escaped(stdout, dir, strlen(dir));
    printf(": %u shards, %" PRIu64 " records, %s checked%s in %.3f s (%.2f GB/s, %d thread%s)\n",
           s.shards_checked, s.records_checked, b, o.decode ? " and decoded" : "", s.seconds, gbs,
           s.threads, s.threads == 1 ? "" : "s");
  } else if (rc == EXIT_DAMAGE) {
    printf("DAMAGED ");
    pv__put_escaped(stdout, dir, strlen(dir));
    printf(": %" PRIu64 " problem(s) found (first: %s)", s.problems, pv_strerror(st));
    if (o.max_problems > 0 && s.problems > (uint64_t)o.max_problems)
      printf("; the first %d listed", o.max_problems);
    printf("\n");
  }
  if (rc == EXIT_DAMAGE && s.error[0]) {
    fprintf(stderr, "pvpack verify: ");
    pv__put_escaped(stderr, dir, strlen(dir));
    fprintf(stderr, ": stopped early: ");
    pv__put_escaped(stderr, s.error, strlen(s.error));
    fputc('\n', stderr);
  }
  return rc;
}

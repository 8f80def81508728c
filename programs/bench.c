/* bench.c - `pvpack bench`: measure the batch loader. */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* The loader options are pv_loader_options' table (reader/loader_options.h,
 * the entries flagged PV_OPTION_CLI), the limits pv_limits' table. */
void bench_usage(FILE *f) {
  fprintf(f, "usage: pvpack bench DIR [options]\n");
  cli_table_usage(f, pv_loader_option_info);
  fprintf(f,
          "  --batch N               the same as --batch-size\n"
          "  --epochs N              epochs to run (default 3)\n"
          "  --json                  print one JSON object\n"
          "records are decoded within these limits (over one: an error, as a decode error):\n");
  cli_limits_usage(f);
}

int cmd_bench(int argc, char **argv) {
  pv_loader_options o;
  pv_loader_options_init(&o);
  pv_limits lim;
  pv_limits_init(&lim);
  const char *dir = NULL;
  int epochs = 3, json = 0;
  argp a = {argc, 0, argv, NULL, argv[0], ""};
  for (a.i = 1; a.i < argc; a.i++) {
    const char *v;
    if (cli_opt_is(&a, "-h") || cli_opt_is(&a, "--help")) {
      bench_usage(stdout);
      return 0;
    } else if (cli_opt_is(&a, "--batch")) { /* the flag's name before the table */
      cli_set_text(&a, cli_table_find(pv_loader_option_info, "batch_size"), &o, cli_opt_value(&a));
    } else if (cli_table_opt(&a, pv_loader_option_info, &o)) {
    } else if (cli_opt_is(&a, "--epochs")) {
      if (!cli_parse_int(v = cli_opt_value(&a), 1, 1 << 20, &epochs)) cli_bad_value(&a, v);
    } else if (cli_limit_opt(&a, &lim)) {
    } else if (cli_opt_is(&a, "--json")) {
      json = 1;
    } else if (argv[a.i][0] == '-') {
      fprintf(stderr, "pvpack bench: unknown option %s\n", argv[a.i]);
      return EXIT_USAGE;
    } else if (!dir) {
      dir = argv[a.i];
    } else {
      fprintf(stderr, "pvpack bench: unexpected argument %s\n", argv[a.i]);
      return EXIT_USAGE;
    }
  }
  if (!dir) {
    bench_usage(stderr);
    return EXIT_USAGE;
  }
  double t0 = cli_now_s();
  pv_open_options oo;
  pv_open_options_init(&oo);
  oo.limits = lim;
  pv_dataset *ds = cli_open_or_die_opts(dir, &oo);
  double t_open = cli_now_s() - t0;
  pv_loader *l = NULL;
  char err[512] = "";
  pv_status st = pv_loader_create(ds, &o, &l, err, sizeof err);
  if (st != PV_OK) {
    fprintf(stderr, "pvpack bench: %s: %s\n", pv_strerror(st), err);
    pv_dataset_close(ds);
    return EXIT_USAGE;
  }
  int threads = pv_loader_thread_count(l);
  uint64_t images = 0, batches = 0;
  double t1 = cli_now_s(), first_batch = -1;
  int rc = 0;
  for (int e = 0; e < epochs && rc == 0; e++) {
    if (e) pv_loader_set_epoch(l, (uint64_t)e, 0);
    for (;;) {
      pv_batch *b;
      st = pv_loader_next(l, &b);
      if (st != PV_OK) {
        fprintf(stderr, "pvpack bench: %s: %s\n", pv_strerror(st), pv_loader_last_error(l));
        rc = EXIT_DAMAGE;
        break;
      }
      if (!b) break;
      if (first_batch < 0) first_batch = cli_now_s() - t1;
      images += b->count;
      batches++;
      pv_loader_release(l, b);
    }
  }
  double el = cli_now_s() - t1;
  pv_loader_stats s;
  pv_loader_get_stats(l, &s);
  const char *pipes[] = {"train", "eval", "none"};
  double ips = el > 0 ? images / el : 0;
  if (json) {
    printf("{\"images_per_s\": %.1f, \"images\": %" PRIu64 ", \"batches\": %" PRIu64
           ", \"seconds\": %.4f, \"epochs\": %d, \"threads\": %d, \"batch\": %u, \"size\": %d, "
           "\"pipeline\": \"%s\", \"open_s\": %.6f, \"first_batch_s\": %.4f, "
           "\"decode_resize_s\": %.4f, \"convert_s\": %.4f, \"wait_s\": %.4f, "
           "\"us_per_image_decode_resize\": %.1f, \"claims\": %" PRIu64
           ", \"samples_per_claim\": %.2f}\n",
           ips, images, batches, el, epochs, threads, o.batch_size, o.height, pipes[o.pipeline], t_open,
           first_batch, s.decode_resize_s, s.convert_s, s.wait_s,
           s.samples ? s.decode_resize_s / s.samples * 1e6 : 0.0, s.claims,
           s.claims ? (double)s.samples / s.claims : 0.0);
  } else {
    printf("pvpack bench %s: %s pipeline, %ux%u, batch %u, %d thread(s), %d epochs\n", dir,
           pipes[o.pipeline], o.height, o.width, o.batch_size, threads, epochs);
    printf("  %.1f images/s (%" PRIu64 " images in %.3f s; first batch after %.3f s)\n", ips,
           images, el, first_batch);
    printf("  dataset open %.3f ms\n", t_open * 1e3);
    printf("  per image, summed over threads: decode+crop+resize %.1f us, convert %.1f us\n",
           s.samples ? s.decode_resize_s / s.samples * 1e6 : 0.0,
           s.samples ? s.convert_s / s.samples * 1e6 : 0.0);
    printf("  caller waited %.3f s of %.3f s\n", s.wait_s, el);
  }
  pv_loader_destroy(l);
  pv_dataset_close(ds);
  return rc;
}

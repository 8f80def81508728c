/* main.c - the `pvpack` command: the dispatcher (one file per command:
 * build.c, verify.c, info.c, get.c, demo.c, bench.c, help.c; shared helpers
 * in cli.c).
 *
 * A thin shell over pv_build / pv_verify / the reader API. Exit codes:
 * 0 success; 1 the command ran and found a problem (verify: damage; build:
 * a strict-mode skip or nothing packable); 2 usage or I/O error, or not a
 * dataset; 128 + N when stopped by signal N (SIGINT 130, SIGTERM 143).
 *
 * Every command answers -h / --help (anywhere on its command line) with its
 * usage on stdout and does nothing else. No command deletes or overwrites a
 * file it did not write: build follows pv_build's output rule, get writes
 * only a new file, demo only into a new, empty or earlier demo folder.
 * Strings that come from a dataset (class names, source paths) are printed
 * escaped (escape.h). */
#include <string.h>

#include "cli.h"

void cli_usage(FILE *f) {
  fprintf(f,
          "usage: pvpack <command> [options]\n"
          "\n"
          "commands:\n"
          "  build SRC [-o OUT]   pack an ImageFolder tree (default OUT: SRC.pvpack)\n"
          "  merge OUT            merge the parts of OUT/parts/ (build --part K/N) into OUT\n"
          "  verify DIR           check every byte of a dataset (exit 0 clean, 1 damage, 2 error)\n"
          "  info DIR             counts, classes, codecs, sizes, build options\n"
          "  get DIR N [-o FILE]  write record N as an image file; print label and source\n"
          "  bench DIR            measure the batch loader (images/s, per-stage time)\n"
          "  demo [DIR]           generate a demo ImageFolder, pack it, verify it, read it back\n"
          "  version              print the library and format versions (also -V, --version)\n"
          "  help [COMMAND]       this text, or the usage of COMMAND\n"
          "\n"
          "Run 'pvpack <command> --help' or 'pvpack help <command>' for the options of a\n"
          "command.\n");
}

static const cli_command k_commands[] = {
    {"build", cmd_build, build_usage},     {"verify", cmd_verify, verify_usage},
    {"info", cmd_info, info_usage},        {"get", cmd_get, get_usage},
    {"bench", cmd_bench, bench_usage},     {"demo", cmd_demo, demo_usage},
    {"version", cmd_version, version_usage}, {"help", cmd_help, help_usage},
    {"merge", cmd_merge, merge_usage},
};

const cli_command *cli_find_command(const char *name) {
  for (size_t i = 0; i < sizeof k_commands / sizeof *k_commands; i++)
    if (!strcmp(k_commands[i].name, name)) return &k_commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
    cli_usage(stdout);
    return 0;
  }
  if (!strcmp(name, "-V") || !strcmp(name, "--version")) return cmd_version(1, argv + 1);
  const cli_command *c = cli_find_command(name);
  if (!c) {
    fprintf(stderr, "pvpack: unknown command '%s'\n", name);
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  /* -h / --help anywhere after the command: its usage, nothing else (so
   * that `pvpack demo --help` does not create a folder named --help). */
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      c->usage(stdout);
      return 0;
    }
  return c->run(argc - 1, argv + 1);
}

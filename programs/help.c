/* help.c - `pvpack version` and `pvpack help`. */

#include "cli.h"

void version_usage(FILE *f) {
  fprintf(f, "usage: pvpack version   (or pvpack -V, pvpack --version)\n"
             "Prints the library version and the format version it writes.\n");
}

void help_usage(FILE *f) {
  fprintf(f, "usage: pvpack help [COMMAND]\n"
             "Prints the list of commands, or the usage of COMMAND.\n");
}

int cmd_version(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    version_usage(stderr);
    return EXIT_USAGE;
  }
  printf("pvpack %s (format %u.%u)\n", pv_version_string(), PV_FORMAT_VERSION_MAJOR,
         PV_FORMAT_VERSION_MINOR);
  return 0;
}

int cmd_help(int argc, char **argv) {
  if (argc < 2) {
    cli_usage(stdout);
    return 0;
  }
  const cli_command *c = cli_find_command(argv[1]);
  if (!c || argc > 2) {
    fprintf(stderr, "pvpack help: unknown command '%s'\n", argv[1]);
    cli_usage(stderr);
    return EXIT_USAGE;
  }
  c->usage(stdout);
  return 0;
}

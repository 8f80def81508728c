/* cli.h - what the `pvpack` commands share (internal to programs/).
 *
 * programs/ sees only the installed public headers (pvpack.h, pv_verify.h,
 * pv_pack.h, pv_format.h, pv_filter.h) and platform/'s escape.h: strings
 * that come from a dataset are printed escaped. Exit codes: 0 success;
 * EXIT_DAMAGE the command ran and found a problem; EXIT_USAGE usage or I/O
 * error, or not a dataset; 128 + N when stopped by signal N.
 */
#ifndef PV_CLI_H
#define PV_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "escape.h"
#include "pv_format.h"
#include "pv_pack.h"
#include "pv_verify.h"
#include "pvpack.h"

#define EXIT_DAMAGE 1
#define EXIT_USAGE 2

/* The number of the signal (SIGINT, SIGTERM) that asked us to stop; 0 = none. */
extern volatile sig_atomic_t cli_cancel;

/* Shared option plumbing: "--name value" or "--name=value". */
typedef struct argp {
  int argc, i;
  char **argv;
  const char *val;
  const char *cmd;  /* "build", ... for messages */
  const char *name; /* the option last matched by cli_opt_is */
} argp;

/* Flags made from an options table (pv_option.h): table(i) is entry i, NULL
 * past the end (pv_build_option_info, pv_loader_option_info,
 * pv_limits_option_info, pv_verify_option_info). cli_table_opt: when a.argv[a.i] is the flag of an
 * entry flagged PV_OPTION_CLI, parses its value into opts (exits with a
 * usage error naming the flag on a bad one) and returns 1.
 * cli_table_usage: the --help lines of those entries, with their choices
 * and defaults. */
typedef const pv_option_info *(*cli_table)(size_t i);
int cli_table_opt(argp *a, cli_table table, void *opts);
void cli_table_usage(FILE *f, cli_table table);
const pv_option_info *cli_table_find(cli_table table, const char *name);
void cli_set_text(argp *a, const pv_option_info *o, void *opts, const char *v);
void cli_bad_value_why(argp *a, const char *v, const char *why);
/* The read-side limit flags of verify, get and bench. */
#define cli_limit_opt(a, limits) cli_table_opt((a), pv_limits_option_info, (limits))
#define cli_limits_usage(f) cli_table_usage((f), pv_limits_option_info)

void cli_catch_stop_signals(void);
int cli_parse_digits(const char *s, uint64_t *out, const char **end);
int cli_parse_count(const char *s, uint64_t *out);
int cli_parse_u64(const char *s, uint64_t *out);
int cli_parse_int(const char *s, int lo, int hi, int *out);
int cli_opt_is(argp *a, const char *name);
const char *cli_opt_value(argp *a);
void cli_bad_value(argp *a, const char *v);
void cli_human_bytes(uint64_t b, char *out, size_t cap);
void cli_json_str(FILE *f, const char *s, size_t n);
pv_dataset *cli_open_or_die_opts(const char *dir, const pv_open_options *oo);
pv_dataset *cli_open_or_die(const char *dir);
int cli_write_new_file(const char *path, const void *head, size_t hn, const void *data, size_t n);
double cli_now_s(void);

/* The command table (main.c) and the top-level usage. */
typedef struct cli_command {
  const char *name;
  int (*run)(int argc, char **argv);
  void (*usage)(FILE *f);
} cli_command;
const cli_command *cli_find_command(const char *name);
void cli_usage(FILE *f);

/* One file per command: its usage text and its entry point. */
int cmd_build(int argc, char **argv);
void build_usage(FILE *f);
int cmd_merge(int argc, char **argv);
void merge_usage(FILE *f);
int cmd_verify(int argc, char **argv);
void verify_usage(FILE *f);
int cmd_info(int argc, char **argv);
void info_usage(FILE *f);
int cmd_get(int argc, char **argv);
void get_usage(FILE *f);
int cmd_demo(int argc, char **argv);
void demo_usage(FILE *f);
int cmd_bench(int argc, char **argv);
void bench_usage(FILE *f);
int cmd_version(int argc, char **argv);
void version_usage(FILE *f);
int cmd_help(int argc, char **argv);
void help_usage(FILE *f);

#endif /* PV_CLI_H */

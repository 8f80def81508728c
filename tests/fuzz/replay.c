/* replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over saved inputs,
 * so ctest checks the seed corpus (and every crash input ever added to it)
 * on builds without libFuzzer.
 *
 * Usage: replay_TARGET PATH...   (each PATH a file, or a directory whose
 * regular files are all run; directories are not descended into).
 * Exits 0 when at least one input ran and none crashed (a crash aborts the
 * process, as under libFuzzer), 1 when nothing could be read.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs one file; returns 0 on success, -1 when it cannot be read. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      fclose(f);
      fprintf(stderr, "replay: out of memory\n");
      return -1;
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) free(buf);
    buf = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: %s: read error\n", path);
    free(buf);
    return -1;
  }
  /* Hand over an exact-size copy so AddressSanitizer sees any overread. */
  uint8_t *exact = malloc(n ? n : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(exact, n);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  unsigned long ran = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      failed++;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      if (run_file(argv[i]) == 0) ran++; else failed++;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
      failed++;
      continue;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.') continue;
      size_t len = strlen(argv[i]) + strlen(de->d_name) + 2;
      char *p = malloc(len);
      if (!p) break;
      snprintf(p, len, "%s/%s", argv[i], de->d_name);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        if (run_file(p) == 0) ran++; else failed++;
      }
      free(p);
    }
    closedir(d);
  }
  printf("replay: %lu inputs ran, %lu unreadable\n", ran, failed);
  return ran > 0 && failed == 0 ? 0 : 1;
}

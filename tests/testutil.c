/* testutil.c - see testutil.h. */
#include "testutil.h"

#include "pv_pack.h"
#include "pvpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

char *pvt_mkdtemp(const char *tag) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  size_t n = strlen(base) + strlen(tag) + 32;
  char *p = malloc(n);
  if (!p) return NULL;
  snprintf(p, n, "%s/pvt-%s-XXXXXX", base, tag);
  if (!mkdtemp(p)) {
    free(p);
    return NULL;
  }
  return p;
}

int pvt_rmrf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char *c = pvt_join(path, e->d_name);
      pvt_rmrf(c);
      free(c);
    }
    closedir(d);
    return rmdir(path);
  }
  return unlink(path);
}

char *pvt_join(const char *dir, const char *rel) {
  size_t n = strlen(dir) + strlen(rel) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, rel);
  return p;
}

int pvt_mkdirs(const char *path, int is_dir) {
  char *p = strdup(path);
  if (!p) return -1;
  size_t n = strlen(p);
  if (!is_dir) {
    char *slash = strrchr(p, '/');
    if (!slash) { free(p); return 0; }
    *slash = 0;
    n = strlen(p);
  }
  for (size_t i = 1; i <= n; i++) {
    if (p[i] == '/' || p[i] == 0) {
      char c = p[i];
      p[i] = 0;
      if (mkdir(p, 0755) != 0 && errno != EEXIST) { free(p); return -1; }
      p[i] = c;
    }
  }
  free(p);
  return 0;
}

int pvt_write_file(const char *path, const void *data, size_t len) {
  if (pvt_mkdirs(path, 0) != 0) return -1;
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = len ? fwrite(data, 1, len, f) : 0;
  int rc = fclose(f);
  return (w == len && rc == 0) ? 0 : -1;
}

uint8_t *pvt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
  if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
  fclose(f);
  if (b && len) *len = (size_t)n;
  return b;
}

uint8_t *pvt_pattern_rgb(uint32_t w, uint32_t h, uint32_t seed) {
  uint8_t *p = malloc((size_t)w * h * 3);
  if (!p) return NULL;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *q = p + ((size_t)y * w + x) * 3;
      q[0] = (uint8_t)((x * 255u) / (w > 1 ? w - 1 : 1) + seed * 37u);
      q[1] = (uint8_t)((y * 255u) / (h > 1 ? h - 1 : 1) + seed * 11u);
      q[2] = (uint8_t)(((x / 8 + y / 8) & 1) ? 200 - (seed & 63) : 40 + (seed & 63));
    }
  return p;
}

uint8_t *pvt_encode_jpeg(const uint8_t *rgb, uint32_t w, uint32_t h, int quality, size_t *len) {
  tjhandle tj = tjInitCompress();
  if (!tj) return NULL;
  unsigned char *out = NULL;
  unsigned long sz = 0;
  int rc = tjCompress2(tj, rgb, (int)w, 0, (int)h, TJPF_RGB, &out, &sz, TJSAMP_420, quality, 0);
  tjDestroy(tj);
  if (rc != 0) { tjFree(out); return NULL; }
  uint8_t *copy = malloc(sz);
  if (copy) memcpy(copy, out, sz);
  tjFree(out);
  *len = sz;
  return copy;
}

int pvt_write_jpeg(const char *path, uint32_t w, uint32_t h, uint32_t seed, int quality) {
  uint8_t *px = pvt_pattern_rgb(w, h, seed);
  if (!px) return -1;
  size_t n = 0;
  uint8_t *j = pvt_encode_jpeg(px, w, h, quality, &n);
  free(px);
  if (!j) return -1;
  int rc = pvt_write_file(path, j, n);
  free(j);
  return rc;
}

int pvt_write_png(const char *path, uint32_t w, uint32_t h, uint32_t seed) {
  uint8_t *px = pvt_pattern_rgb(w, h, seed);
  if (!px) return -1;
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  struct spng_ihdr ihdr = {0};
  ihdr.width = w;
  ihdr.height = h;
  ihdr.bit_depth = 8;
  ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
  spng_set_ihdr(ctx, &ihdr);
  int rc = spng_encode_image(ctx, px, (size_t)w * h * 3, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  size_t n = 0;
  int err = 0;
  void *buf = rc == 0 ? spng_get_png_buffer(ctx, &n, &err) : NULL;
  spng_ctx_free(ctx);
  free(px);
  if (!buf) return -1;
  rc = pvt_write_file(path, buf, n);
  free(buf);
  return rc;
}

int pvt_run_cli(char **output, const char *const argv[]) {
  const char *bin = getenv("PVPACK_BIN");
  if (!bin) bin = "pvpack";
  char *tmp = pvt_mkdtemp("cli");
  if (!tmp) return -1;
  char *outpath = pvt_join(tmp, "out.txt");
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
    int n = 0;
    while (argv[n]) n++;
    char **av = calloc((size_t)n + 2, sizeof *av);
    av[0] = (char *)bin;
    for (int i = 0; i < n; i++) av[i + 1] = (char *)argv[i];
    execv(bin, av);
    _exit(127);
  }
  int status = 0, code = -1;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) code = WEXITSTATUS(status);
  if (output) {
    size_t n = 0;
    uint8_t *b = pvt_read_file(outpath, &n);
    char *s = malloc(n + 1);
    if (s) { if (b) memcpy(s, b, n); s[b ? n : 0] = 0; }
    free(b);
    *output = s;
  }
  pvt_rmrf(tmp);
  free(outpath);
  free(tmp);
  return code;
}

int pvt_write_jpeg_tree(const char *src, int n, int classes, uint32_t w0, uint32_t wspan,
                        uint32_t h0, uint32_t hspan, int quality) {
  for (int i = 0; i < n; i++) {
    char rel[64];
    snprintf(rel, sizeof rel, "class%d/img%03d.jpg", i % classes, i);
    char *p = pvt_join(src, rel);
    const uint32_t w = w0 + (uint32_t)(i * 37) % wspan, h = h0 + (uint32_t)(i * 53) % hspan;
    const int rc = p ? pvt_write_jpeg(p, w, h, (uint32_t)i, quality) : -1;
    free(p);
    if (rc != 0) return -1;
  }
  return 0;
}

static void pvt_quiet_log(void *ctx, pv_log_level level, const char *line) {
  (void)ctx, (void)level, (void)line;
}

int pvt_build_quiet(const char *src, const char *out, int codec, uint64_t shard_bytes) {
  pv_build_options o;
  pv_build_options_init(&o);
  o.progress = 0;
  o.log = pvt_quiet_log;
  o.codec = codec;
  if (shard_bytes) o.shard_bytes = shard_bytes;
  return pv_build(src, out, &o, NULL, NULL, 0);
}

pvt_ds_fixture *pvt_ds_fixture_new(const char *tag, int n, int classes, uint32_t w0,
                                   uint32_t wspan, uint32_t h0, uint32_t hspan) {
  pvt_ds_fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->root = pvt_mkdtemp(tag);
  f->src = pvt_join(f->root, "src");
  assert_int_equal(pvt_write_jpeg_tree(f->src, n, classes, w0, wspan, h0, hspan, 90), 0);
  f->ds_dir = pvt_join(f->root, "ds.pvpack");
  assert_int_equal(pvt_build_quiet(f->src, f->ds_dir, PV_PACK_CODEC_JPEG, 0), PV_OK);
  assert_int_equal(pv_dataset_open(f->ds_dir, NULL, &f->ds, NULL, 0), PV_OK);
  return f;
}

void pvt_ds_fixture_free(pvt_ds_fixture *f) {
  if (!f) return;
  pv_dataset_close(f->ds);
  pvt_rmrf(f->root);
  free(f->root);
  free(f->src);
  free(f->ds_dir);
  free(f);
}

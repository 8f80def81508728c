/* walk.c - ImageFolder discovery in torchvision's order; see walk.h.
 *
 * Shape of the walk, per class in label order:
 *   1. a depth-first walk collects one record per directory reached (its
 *      path relative to the root) and the names of its sample files, in
 *      readdir order, into a scratch arena;
 *   2. the directory records are sorted by path and each directory's names
 *      by name, both with Python's str ordering (py_strcmp below);
 *   3. "dir/name" paths are written into the result arena in that order.
 * Step 2 is what sorted(os.walk(...)) does; a walk that merely sorted the
 * children of each directory would put "a/b/c" before "a/b c", where Python
 * puts "a/b c" first (' ' < '/').
 */
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* ------------------------------------------------------------------------ */
/* Arena: a list of blocks, bump allocation, freed all at once. Keeps the
 * millions of short path strings of a large dataset out of malloc. */

typedef struct arena_block {
  struct arena_block *next;
  size_t used, cap;
  char data[];
} arena_block;

typedef struct arena {
  arena_block *head;
} arena;

enum { ARENA_MIN_BLOCK = 64 * 1024 };

/* Only strings live in the arena, so no alignment is needed. */
static char *arena_alloc(arena *a, size_t n) {
  arena_block *b = a->head;
  if (b && n <= b->cap - b->used) {
    char *p = b->data + b->used;
    b->used += n;
    return p;
  }
  size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
  b = malloc(sizeof *b + cap);
  if (!b) return NULL;
  b->next = a->head;
  b->used = n;
  b->cap = cap;
  a->head = b;
  return b->data;
}

/* Copies s1 (l1 bytes), then sep unless it is 0, then s2 (l2 bytes) and a
 * NUL into the arena. */
static char *arena_join(arena *a, const char *s1, size_t l1, char sep, const char *s2, size_t l2) {
  size_t n = l1 + (sep ? 1 : 0) + l2;
  char *p = arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s1, l1);
  if (sep) p[l1] = sep;
  memcpy(p + l1 + (sep ? 1 : 0), s2, l2);
  p[n] = 0;
  return p;
}

static void arena_free_all(arena *a) {
  arena_block *b = a->head;
  while (b) {
    arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

/* Growable array of fixed-size elements. */
typedef struct vec {
  void *v;
  size_t n, cap, elem;
} vec;

static void *vec_push(vec *x) {
  if (x->n == x->cap) {
    size_t cap = x->cap ? x->cap * 2 : 64;
    void *nv = realloc(x->v, cap * x->elem);
    if (!nv) return NULL;
    x->v = nv;
    x->cap = cap;
  }
  return (unsigned char *)x->v + x->elem * x->n++;
}

/* ------------------------------------------------------------------------ */
/* Python str ordering of file names.
 *
 * CPython decodes Linux file names as UTF-8 with surrogateescape: a byte that
 * does not start a valid (strict RFC 3629) sequence becomes U+DC00 + byte.
 * str comparison is by code point. For valid UTF-8 that equals byte order;
 * with undecodable bytes it does not (byte 0xFF is U+DCFF, which sorts before
 * U+E000 = EE 80 80), so names are compared by decoded code points. */

static uint32_t py_decode(const unsigned char *s, size_t *adv) {
  unsigned c = s[0];
  *adv = 1;
  if (c < 0x80) return c;
  unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0; /* overlong */
    if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
    if (c == 0xF0) lo = 0x90; /* overlong */
    if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0xDC00u + c;
  }
  if (s[1] < lo || s[1] > hi) return 0xDC00u + c;
  for (size_t i = 1; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF) return 0xDC00u + c; /* also stops at NUL */
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  *adv = len;
  return cp;
}

static int py_strcmp(const char *a, const char *b) {
  const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
  for (;;) {
    /* Fast path: identical ASCII prefix. */
    while (*x && *x == *y && *x < 0x80) {
      x++;
      y++;
    }
    if (!*x || !*y) return (*x > *y) - (*x < *y);
    size_t ax, ay;
    uint32_t cx = py_decode(x, &ax), cy = py_decode(y, &ay);
    if (cx != cy) return cx < cy ? -1 : 1;
    x += ax;
    y += ay;
  }
}

static int cmp_name_ptr(const void *a, const void *b) {
  return py_strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ------------------------------------------------------------------------ */

int pv__has_image_extension(const char *name) {
  static const char *const exts[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                     ".pgm", ".tif",  ".tiff", ".webp"};
  size_t n = strlen(name);
  for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
    size_t m = strlen(exts[e]);
    if (n < m) continue;
    const char *s = name + n - m;
    size_t i = 0;
    /* ASCII folding is exact here: no non-ASCII character lowers (Python's
     * str.lower) to one of the ASCII letters these extensions use. */
    while (i < m) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
      if (c != exts[e][i]) break;
      i++;
    }
    if (i == m) return 1;
  }
  return 0;
}

typedef struct dir_rec {
  const char *rel;  /* "cat/sub", in the scratch arena */
  size_t first, n;  /* slice of walker.names */
} dir_rec;

typedef struct ancestor {
  dev_t dev;
  ino_t ino;
  const char *rel;
} ancestor;

typedef struct walker {
  const char *root;
  size_t root_len;
  void (*warn)(void *ctx, const char *msg);
  void *ctx;
  arena *out;     /* result strings */
  arena scratch;  /* per-class names and directory paths */
  vec dirs;       /* dir_rec */
  vec names;      /* const char * into scratch */
  vec anc;        /* ancestor: the directories on the current walk path */
  char path[PATH_MAX];
  int nomem;
} walker;

/* Appends s to buf at *pos, escaping bytes below 0x20 and 0x7F as \xNN so a
 * warning stays on one line whatever the file name holds. */
static void put_quoted(char *buf, size_t cap, size_t *pos, const char *s) {
  for (; *s && *pos + 5 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7F)
      *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\x%02X", c);
    else
      buf[(*pos)++] = (char)c;
  }
  buf[*pos] = 0;
}

/* warnf("text %s text %s", a, b): only %s conversions; arguments are file
 * names and get escaped. */
static void warnf(const walker *w, const char *fmt, ...) {
  if (!w->warn) return;
  char buf[2 * PATH_MAX + 256];
  size_t pos = 0;
  va_list ap;
  va_start(ap, fmt);
  buf[0] = 0;
  for (const char *f = fmt; *f && pos + 1 < sizeof buf; f++) {
    if (f[0] == '%' && f[1] == 's') {
      put_quoted(buf, sizeof buf, &pos, va_arg(ap, const char *));
      f++;
    } else {
      buf[pos++] = *f;
      buf[pos] = 0;
    }
  }
  va_end(ap);
  w->warn(w->ctx, buf);
}

/* Sets w->path to root + "/" + rel; 0 on success, -1 when too long. */
static int make_path(walker *w, const char *rel) {
  size_t rl = strlen(rel);
  if (w->root_len + 1 + rl + 1 > sizeof w->path) return -1;
  memcpy(w->path, w->root, w->root_len);
  w->path[w->root_len] = '/';
  memcpy(w->path + w->root_len + 1, rel, rl + 1);
  return 0;
}

enum kind { K_DIR, K_FILE, K_OTHER, K_BROKEN };

/* Classifies a directory entry the way os.scandir's is_dir() does (following
 * symlinks), and tells regular files (also through symlinks) from everything
 * else. Uses d_type where the platform fills it, to save a stat per file. */
static enum kind entry_kind(DIR *d, const struct dirent *e) {
#if defined(DT_UNKNOWN) && defined(DT_LNK)
  if (e->d_type == DT_DIR) return K_DIR;
  if (e->d_type == DT_REG) return K_FILE;
  if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) return K_OTHER;
#endif
  struct stat st;
  if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) return K_BROKEN;
  if (S_ISDIR(st.st_mode)) return K_DIR;
  if (S_ISREG(st.st_mode)) return K_FILE;
  return K_OTHER;
}

static int is_dot(const char *n) { return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2])); }

/* strerror() may share a buffer between threads; walk.h promises reentrancy. */
typedef struct errbuf {
  char s[128];
} errbuf;

static const char *errstr(int e, errbuf *b) {
  if (strerror_r(e, b->s, sizeof b->s) != 0) snprintf(b->s, sizeof b->s, "errno %d", e);
  return b->s;
}

/* Walks the directory rel (relative to the root) and, recursively, what is
 * below it, adding a dir_rec per directory read and its sample names. */
static void walk_dir(walker *w, const char *rel) {
  errbuf eb;
  if (make_path(w, rel) != 0) {
    warnf(w, "'%s': path longer than PATH_MAX; skipped", rel);
    return;
  }
  DIR *d = opendir(w->path);
  if (!d) {
    warnf(w, "cannot read directory '%s' (%s); skipped", rel, errstr(errno, &eb));
    return;
  }
  struct stat st;
  if (fstat(dirfd(d), &st) != 0) {
    warnf(w, "cannot stat directory '%s' (%s); skipped", rel, errstr(errno, &eb));
    closedir(d);
    return;
  }
  const ancestor *an = w->anc.v;
  for (size_t i = 0; i < w->anc.n; i++)
    if (an[i].dev == st.st_dev && an[i].ino == st.st_ino) {
      warnf(w, "symlink loop: '%s' points back to '%s'; not followed", rel, an[i].rel);
      closedir(d);
      return;
    }

  ancestor *me = vec_push(&w->anc);
  dir_rec *dr = vec_push(&w->dirs);
  if (!me || !dr) goto out_nomem;
  me->dev = st.st_dev;
  me->ino = st.st_ino;
  me->rel = rel;
  size_t rec_index = w->dirs.n - 1;
  dr->rel = rel;
  dr->first = w->names.n;
  dr->n = 0;

  vec subdirs = {NULL, 0, 0, sizeof(const char *)};
  size_t rel_len = strlen(rel);
  struct dirent *e;
  for (;;) {
    errno = 0;
    if (!(e = readdir(d))) break;
    if (is_dot(e->d_name)) continue;
    enum kind k = entry_kind(d, e);
    size_t nl = strlen(e->d_name);
    if (k == K_DIR) {
      const char **slot = vec_push(&subdirs);
      if (!slot || !(*slot = arena_join(&w->scratch, rel, rel_len, '/', e->d_name, nl)))
        goto out_nomem_sub;
      continue;
    }
    if (!pv__has_image_extension(e->d_name)) continue;
    if (k != K_FILE) {
      /* torchvision would list these and fail when loading them. */
      char *p = arena_join(&w->scratch, rel, rel_len, '/', e->d_name, nl);
      if (!p) goto out_nomem_sub;
      warnf(w, "'%s' is %s; skipped", p,
            k == K_BROKEN ? "a broken symlink" : "not a regular file");
      continue;
    }
    const char **slot = vec_push(&w->names);
    if (!slot || !(*slot = arena_join(&w->scratch, e->d_name, nl, 0, "", 0))) goto out_nomem_sub;
  }
  if (errno != 0) {
    /* os.walk drops a directory whose listing fails part-way. */
    warnf(w, "error reading directory '%s' (%s); skipped", rel, errstr(errno, &eb));
    w->names.n = ((dir_rec *)w->dirs.v)[rec_index].first;
    w->dirs.n = rec_index;
    subdirs.n = 0;
  } else {
    dir_rec *r = (dir_rec *)w->dirs.v + rec_index;
    r->n = w->names.n - r->first;
  }
  closedir(d);
  d = NULL;

  const char **sd = subdirs.v;
  for (size_t i = 0; i < subdirs.n && !w->nomem; i++) walk_dir(w, sd[i]);
  free(subdirs.v);
  w->anc.n--;
  return;

out_nomem_sub:
  free(subdirs.v);
out_nomem:
  w->nomem = 1;
  if (d) closedir(d);
}

static int cmp_dir_rec(const void *a, const void *b) {
  return py_strcmp(((const dir_rec *)a)->rel, ((const dir_rec *)b)->rel);
}

/* Walks one class and appends its samples to out->files. */
static pv_status walk_class(walker *w, pv_walk_result *out, vec *files, uint32_t label) {
  const char *cls = out->classes[label];
  w->dirs.n = w->names.n = w->anc.n = 0;
  walk_dir(w, cls);
  if (w->nomem) return PV_ERR_NOMEM;

  dir_rec *dr = w->dirs.v;
  const char **names = w->names.v;
  if (w->dirs.n > 1) qsort(dr, w->dirs.n, sizeof *dr, cmp_dir_rec);
  uint64_t count = 0;
  for (size_t i = 0; i < w->dirs.n; i++) {
    if (dr[i].n > 1) qsort(names + dr[i].first, dr[i].n, sizeof *names, cmp_name_ptr);
    size_t dl = strlen(dr[i].rel);
    for (size_t j = 0; j < dr[i].n; j++) {
      const char *nm = names[dr[i].first + j];
      pv_walk_file *f = vec_push(files);
      if (!f) return PV_ERR_NOMEM;
      f->relpath = arena_join(w->out, dr[i].rel, dl, '/', nm, strlen(nm));
      if (!f->relpath) return PV_ERR_NOMEM;
      f->label = label;
      count++;
    }
  }
  out->class_file_count[label] = count;
  if (count == 0)
    warnf(w, "class '%s' has no image files (its label is kept)", cls);
  arena_free_all(&w->scratch);
  return PV_OK;
}

/* Lists the class folders of the root: entries that are directories after
 * following symlinks, as find_classes' os.scandir + is_dir() does. */
static pv_status find_classes(walker *w, pv_walk_result *out, char *err, size_t errcap) {
  errbuf eb;
  DIR *d = opendir(w->root);
  if (!d) {
    int e0 = errno;
    snprintf(err, errcap, "%s: %s", w->root, errstr(e0, &eb));
    return e0 == ENOENT || e0 == ENOTDIR ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  vec names = {NULL, 0, 0, sizeof(char *)};
  pv_status st = PV_OK;
  struct dirent *e;
  for (;;) {
    errno = 0;
    if (!(e = readdir(d))) break;
    if (is_dot(e->d_name) || entry_kind(d, e) != K_DIR) continue;
    char **slot = vec_push(&names);
    if (!slot || !(*slot = arena_join(w->out, e->d_name, strlen(e->d_name), 0, "", 0))) {
      st = PV_ERR_NOMEM;
      goto out_close;
    }
  }
  if (errno != 0) {
    snprintf(err, errcap, "%s: %s", w->root, errstr(errno, &eb));
    st = PV_ERR_IO;
    goto out_close;
  }
  if (names.n == 0) {
    snprintf(err, errcap, "%s: no class folders (an ImageFolder root holds one folder per class)",
             w->root);
    st = PV_ERR_EMPTY;
    goto out_close;
  }
  if (names.n > UINT32_MAX) {
    snprintf(err, errcap, "%s: too many class folders", w->root);
    st = PV_ERR_LIMIT;
    goto out_close;
  }
  qsort(names.v, names.n, sizeof(char *), cmp_name_ptr);
  out->classes = names.v;
  out->class_count = (uint32_t)names.n;
  names.v = NULL;
out_close:
  free(names.v);
  closedir(d);
  return st;
}

pv_status pv__walk_imagefolder(const char *root, pv_walk_result *out,
                               void (*warn)(void *ctx, const char *msg), void *ctx,
                               char *err, size_t errcap) {
  char dummy[1];
  if (!err || !errcap) {
    err = dummy;
    errcap = sizeof dummy;
  }
  err[0] = 0;
  if (!out) return PV_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  if (!root || !*root) {
    snprintf(err, errcap, "empty root path");
    return PV_ERR_INVALID_ARG;
  }
  struct stat st;
  if (stat(root, &st) != 0) {
    int e0 = errno;
    errbuf eb;
    snprintf(err, errcap, "%s: %s", root, errstr(e0, &eb));
    return e0 == ENOENT || e0 == ENOTDIR ? PV_ERR_NOT_FOUND : PV_ERR_IO;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errcap, "%s: not a directory", root);
    return PV_ERR_NOT_FOUND;
  }

  pv_status s = PV_OK;
  walker w;
  memset(&w, 0, sizeof w);
  w.root = root;
  w.root_len = strlen(root);
  w.warn = warn;
  w.ctx = ctx;
  w.dirs.elem = sizeof(dir_rec);
  w.names.elem = sizeof(const char *);
  w.anc.elem = sizeof(ancestor);
  vec files = {NULL, 0, 0, sizeof(pv_walk_file)};

  w.out = calloc(1, sizeof *w.out);
  if (!w.out) return PV_ERR_NOMEM;
  out->arena__ = w.out;

  if ((s = find_classes(&w, out, err, errcap)) != PV_OK) goto out_fail;
  out->class_file_count = calloc(out->class_count, sizeof *out->class_file_count);
  if (!out->class_file_count) {
    s = PV_ERR_NOMEM;
    goto out_fail;
  }
  for (uint32_t c = 0; c < out->class_count; c++) {
    if (out->classes[c][0] == '.')
      warnf(&w, "class '%s' is a hidden folder (kept as a class, as torchvision does)",
            out->classes[c]);
    if ((s = walk_class(&w, out, &files, c)) != PV_OK) goto out_fail;
  }
  out->files = files.v;
  out->file_count = files.n;
  files.v = NULL;
  goto out_scratch;

out_fail:
  if (s == PV_ERR_NOMEM && !err[0]) snprintf(err, errcap, "out of memory while walking %s", root);
  free(files.v);
  pv__walk_free(out);
out_scratch:
  arena_free_all(&w.scratch);
  free(w.dirs.v);
  free(w.names.v);
  free(w.anc.v);
  return s;
}

void pv__walk_free(pv_walk_result *r) {
  if (!r) return;
  free(r->classes); /* the names themselves live in the arena */
  free(r->files);
  free(r->class_file_count);
  if (r->arena__) {
    arena_free_all(r->arena__);
    free(r->arena__);
  }
  memset(r, 0, sizeof *r);
}

char *pv__walk_strdup(pv_walk_result *r, const char *s, size_t len) {
  if (!r->arena__ && !(r->arena__ = calloc(1, sizeof(arena)))) return NULL;
  return arena_join(r->arena__, s, len, 0, "", 0);
}

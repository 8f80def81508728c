/* option.c - reading, writing and checking an options struct's fields
 * through their descriptors (pv_option.h, option_table.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "option_table.h"

static pv_status bad(char *err, size_t cap, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static pv_status bad(char *err, size_t cap, const char *fmt, ...) {
  if (err && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return PV_ERR_INVALID_ARG;
}

static int is_integer_kind(pv_option_kind k) {
  return k == PV_OPTION_BOOL || k == PV_OPTION_INT || k == PV_OPTION_BYTES ||
         k == PV_OPTION_CHOICE;
}

/* ---- raw field access ---------------------------------------------------------- */

static void store_int(const pv_option_info *o, void *opts, int64_t v) {
  char *p = (char *)opts + o->offset;
  switch (o->size) {
    case 1: {
      int8_t x = (int8_t)v;
      memcpy(p, &x, 1);
      break;
    }
    case 2: {
      int16_t x = (int16_t)v;
      memcpy(p, &x, 2);
      break;
    }
    case 4: {
      int32_t x = (int32_t)v;
      memcpy(p, &x, 4);
      break;
    }
    default: {
      int64_t x = v;
      memcpy(p, &x, 8);
      break;
    }
  }
}

/* The field as a signed value (signed fields) or an unsigned one. */
static void load_int(const pv_option_info *o, const void *opts, int64_t *s, uint64_t *u) {
  const char *p = (const char *)opts + o->offset;
  int64_t sv = 0;
  uint64_t uv = 0;
  switch (o->size) {
    case 1: {
      int8_t x;
      memcpy(&x, p, 1);
      sv = x;
      uv = (uint8_t)x;
      break;
    }
    case 2: {
      int16_t x;
      memcpy(&x, p, 2);
      sv = x;
      uv = (uint16_t)x;
      break;
    }
    case 4: {
      int32_t x;
      memcpy(&x, p, 4);
      sv = x;
      uv = (uint32_t)x;
      break;
    }
    default: {
      memcpy(&uv, p, 8);
      sv = (int64_t)uv;
      break;
    }
  }
  *s = sv;
  *u = uv;
}

void pv_option_get(const pv_option_info *o, const void *opts, int64_t *i, uint64_t *u,
                   double f[3]) {
  if (!o || !opts) return;
  if (is_integer_kind(o->kind)) {
    int64_t s;
    uint64_t v;
    load_int(o, opts, &s, &v);
    if (o->is_signed) {
      if (i) *i = s;
      if (u && s >= 0) *u = (uint64_t)s;
    } else {
      if (u) *u = v;
      if (i && v <= (uint64_t)INT64_MAX) *i = (int64_t)v;
    }
  } else if (f) {
    const char *p = (const char *)opts + o->offset;
    if (o->kind == PV_OPTION_FLOAT) {
      memcpy(&f[0], p, sizeof(double));
    } else {
      float x[3];
      memcpy(x, p, sizeof x);
      for (int c = 0; c < 3; c++) f[c] = x[c];
    }
  }
}

/* ---- checks -------------------------------------------------------------------- */

const char *pv_option_choice_name(const pv_option_info *o, int v) {
  if (!o || o->kind != PV_OPTION_CHOICE || !o->choices) return NULL;
  for (const pv_option_choice *c = o->choices; c->name; c++)
    if (c->value == v) return c->name;
  return NULL;
}

static pv_status bad_choice(const pv_option_info *o, const char *what, char *err, size_t cap) {
  char list[256] = "";
  size_t n = 0;
  for (const pv_option_choice *c = o->choices; c && c->name && n < sizeof list; c++)
    n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", c->name);
  return bad(err, cap, "%s must be one of %s, not %s", o->name, list, what);
}

/* v (signed when neg) within [min, max]? */
static int in_range(const pv_option_info *o, int neg, int64_t s, uint64_t u) {
  if (neg) return s >= o->min;
  if (o->min > 0 && u < (uint64_t)o->min) return 0;
  return u <= o->max;
}

static pv_status check_int(const pv_option_info *o, int neg, int64_t s, uint64_t u, char *err,
                           size_t cap) {
  if (o->kind == PV_OPTION_BOOL) return PV_OK;
  if (o->kind == PV_OPTION_CHOICE) {
    if (!neg && u > INT32_MAX) return bad_choice(o, "a value out of range", err, cap);
    const int v = neg ? (int)s : (int)u;
    if (pv_option_choice_name(o, v)) return PV_OK;
    char what[32];
    snprintf(what, sizeof what, "%d", v);
    return bad_choice(o, what, err, cap);
  }
  if (in_range(o, neg, s, u)) return PV_OK;
  if (o->max == UINT64_MAX) /* only a lower bound */
    return neg ? bad(err, cap, "%s must be >= %lld, not %lld", o->name, (long long)o->min,
                     (long long)s)
               : bad(err, cap, "%s must be >= %lld, not %llu", o->name, (long long)o->min,
                     (unsigned long long)u);
  if (neg)
    return bad(err, cap, "%s must be %lld..%llu, not %lld", o->name, (long long)o->min,
               (unsigned long long)o->max, (long long)s);
  return bad(err, cap, "%s must be %lld..%llu, not %llu", o->name, (long long)o->min,
             (unsigned long long)o->max, (unsigned long long)u);
}

static pv_status check_float(const pv_option_info *o, double v, char *err, size_t cap) {
  if (v >= o->fmin && v <= o->fmax) return PV_OK;
  return bad(err, cap, "%s must be in [%g, %g], not %g", o->name, o->fmin, o->fmax, v);
}

pv_status pv_option_check(const pv_option_info *o, const void *opts, char *err, size_t cap) {
  if (!o || !opts) return PV_ERR_INVALID_ARG;
  if (is_integer_kind(o->kind)) {
    int64_t s;
    uint64_t u;
    load_int(o, opts, &s, &u);
    const int neg = o->is_signed && s < 0;
    return check_int(o, neg, s, o->is_signed ? (uint64_t)s : u, err, cap);
  }
  double f[3] = {0, 0, 0};
  pv_option_get(o, opts, NULL, NULL, f);
  const int n = o->kind == PV_OPTION_FLOAT3 ? 3 : 1;
  for (int c = 0; c < n; c++) {
    pv_status st = check_float(o, f[c], err, cap);
    if (st != PV_OK) return st;
  }
  return PV_OK;
}

/* ---- setters ------------------------------------------------------------------- */

/* Stores a checked integer (signed when neg). */
static pv_status set_integer(const pv_option_info *o, void *opts, int neg, int64_t s, uint64_t u,
                             char *err, size_t cap) {
  if (!o || !opts) return PV_ERR_INVALID_ARG;
  if (!is_integer_kind(o->kind))
    return bad(err, cap, "%s takes a number with a fraction, not an integer", o->name);
  if (o->kind == PV_OPTION_BOOL) {
    store_int(o, opts, neg ? 1 : u != 0);
    return PV_OK;
  }
  if (neg && !o->is_signed) {
    if (o->kind == PV_OPTION_CHOICE) return bad_choice(o, "a negative value", err, cap);
    return bad(err, cap, "%s must be %lld..%llu, not %lld", o->name, (long long)o->min,
               (unsigned long long)o->max, (long long)s);
  }
  pv_status st = check_int(o, neg, s, u, err, cap);
  if (st != PV_OK) return st;
  store_int(o, opts, neg ? s : (int64_t)u);
  return PV_OK;
}

pv_status pv_option_set_int(const pv_option_info *o, void *opts, int64_t v, char *err,
                            size_t cap) {
  return set_integer(o, opts, v < 0, v, v < 0 ? 0 : (uint64_t)v, err, cap);
}

pv_status pv_option_set_uint(const pv_option_info *o, void *opts, uint64_t v, char *err,
                             size_t cap) {
  return set_integer(o, opts, 0, v <= (uint64_t)INT64_MAX ? (int64_t)v : INT64_MAX, v, err, cap);
}

pv_status pv_option_set_float(const pv_option_info *o, void *opts, const double *v, size_t count,
                              char *err, size_t cap) {
  if (!o || !opts || !v) return PV_ERR_INVALID_ARG;
  if (o->kind != PV_OPTION_FLOAT && o->kind != PV_OPTION_FLOAT3)
    return bad(err, cap, "%s takes an integer", o->name);
  const size_t n = o->kind == PV_OPTION_FLOAT3 ? 3 : 1;
  if (count != n) return bad(err, cap, "%s takes %zu value%s", o->name, n, n > 1 ? "s" : "");
  for (size_t c = 0; c < n; c++) {
    pv_status st = check_float(o, v[c], err, cap);
    if (st != PV_OK) return st;
  }
  char *p = (char *)opts + o->offset;
  if (n == 1) {
    memcpy(p, &v[0], sizeof(double));
  } else {
    const float x[3] = {(float)v[0], (float)v[1], (float)v[2]};
    memcpy(p, x, sizeof x);
  }
  return PV_OK;
}

/* text == name, ASCII letters of text in either case (names are lower case). */
static int name_eq(const char *text, const char *name) {
  for (;; text++, name++) {
    int a = (unsigned char)*text;
    if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
    if (a != (unsigned char)*name) return 0;
    if (!a) return 1;
  }
}

/* Strict unsigned decimal with an optional K/M/G suffix: the command line's
 * size syntax (digits only, no sign, no spaces, no overflow). */
static int parse_u64(const char *s, uint64_t *out) {
  if (*s < '0' || *s > '9') return 0;
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    const unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  uint64_t mul = 1;
  if (*s == 'K' || *s == 'k') mul = 1ull << 10, s++;
  else if (*s == 'M' || *s == 'm') mul = 1ull << 20, s++;
  else if (*s == 'G' || *s == 'g') mul = 1ull << 30, s++;
  if (mul > 1 && *s == 'i') s++;
  if (mul > 1 && *s == 'B') s++;
  if (*s) return 0;
  if (mul > 1 && v > UINT64_MAX / mul) return 0;
  *out = v * mul;
  return 1;
}

static int parse_double(const char *s, const char **end, double *out) {
  if (!*s || *s == ' ' || *s == '\t' || *s == '\n') return 0;
  char *e;
  errno = 0;
  const double v = strtod(s, &e);
  if (e == s || errno == ERANGE || !isfinite(v)) return 0;
  *out = v;
  *end = e;
  return 1;
}

pv_status pv_option_set_text(const pv_option_info *o, void *opts, const char *text, char *err,
                             size_t cap) {
  if (!o || !opts || !text) return PV_ERR_INVALID_ARG;
  switch (o->kind) {
    case PV_OPTION_BOOL: {
      static const char *const yes[] = {"1", "true", "yes", "on", NULL};
      static const char *const no[] = {"0", "false", "no", "off", NULL};
      for (int i = 0; yes[i]; i++)
        if (!strcmp(text, yes[i])) return pv_option_set_int(o, opts, 1, err, cap);
      for (int i = 0; no[i]; i++)
        if (!strcmp(text, no[i])) return pv_option_set_int(o, opts, 0, err, cap);
      return bad(err, cap, "%s takes 1 or 0", o->name);
    }
    case PV_OPTION_INT:
    case PV_OPTION_BYTES: {
      const int neg = text[0] == '-' && o->min < 0;
      uint64_t u;
      if (!parse_u64(text + neg, &u))
        return bad(err, cap, "%s takes %s", o->name,
                   o->kind == PV_OPTION_BYTES ? "a byte count (digits, optional K/M/G)"
                                              : "an integer (digits, optional K/M/G)");
      if (neg) {
        if (u > (uint64_t)INT64_MAX) return bad(err, cap, "%s: out of range", o->name);
        return pv_option_set_int(o, opts, -(int64_t)u, err, cap);
      }
      return pv_option_set_uint(o, opts, u, err, cap);
    }
    case PV_OPTION_FLOAT:
    case PV_OPTION_FLOAT3: {
      const size_t n = o->kind == PV_OPTION_FLOAT3 ? 3 : 1;
      double v[3];
      const char *s = text;
      for (size_t c = 0; c < n; c++) {
        const char *e;
        if (!parse_double(s, &e, &v[c]) || (c + 1 < n ? *e != ',' : *e != 0))
          return bad(err, cap, "%s takes %s", o->name,
                     n == 1 ? "a number" : "three numbers separated by commas");
        s = e + 1;
      }
      return pv_option_set_float(o, opts, v, n, err, cap);
    }
    case PV_OPTION_CHOICE:
      for (const pv_option_choice *c = o->choices; c && c->name; c++)
        if (name_eq(text, c->name)) return pv_option_set_int(o, opts, c->value, err, cap);
      return bad_choice(o, text, err, cap);
  }
  return PV_ERR_INVALID_ARG;
}

int pv_option_default_text(const pv_option_info *o, char *buf, size_t cap) {
  if (!o) return -1;
  switch (o->kind) {
    case PV_OPTION_BOOL:
    case PV_OPTION_INT:
      return snprintf(buf, cap, "%lld", (long long)o->def);
    case PV_OPTION_BYTES: {
      static const char units[] = "GMK";
      for (int k = 0; k < 3; k++) {
        const long long m = 1ll << (10 * (3 - k));
        if (o->def >= m && o->def % m == 0)
          return snprintf(buf, cap, "%lld%c", (long long)(o->def / m), units[k]);
      }
      return snprintf(buf, cap, "%lld", (long long)o->def);
    }
    case PV_OPTION_FLOAT:
      return snprintf(buf, cap, "%g", o->fdef[0]);
    case PV_OPTION_FLOAT3:
      return snprintf(buf, cap, "%g,%g,%g", o->fdef[0], o->fdef[1], o->fdef[2]);
    case PV_OPTION_CHOICE: {
      const char *n = pv_option_choice_name(o, (int)o->def);
      return snprintf(buf, cap, "%s", n ? n : "?");
    }
  }
  return -1;
}

size_t pv_option_flag(const pv_option_info *o, char *buf, size_t cap) {
  if (!o || !buf || !cap) return 0;
  const char *n = o->group ? o->group : o->name;
  const char *pre = o->kind == PV_OPTION_BOOL && o->def ? "--no-" : "--";
  size_t k = 0;
  for (const char *p = pre; *p && k + 1 < cap; p++) buf[k++] = *p;
  for (; *n && k + 1 < cap; n++) buf[k++] = *n == '_' ? '-' : *n;
  buf[k] = 0;
  return k;
}

/* ---- whole tables (option_table.h) --------------------------------------------- */

void pv__options_init(const pv_option_info *t, size_t n, void *opts) {
  for (size_t i = 0; i < n; i++) {
    const pv_option_info *o = &t[i];
    if (is_integer_kind(o->kind)) {
      store_int(o, opts, o->def);
    } else {
      char *p = (char *)opts + o->offset;
      if (o->kind == PV_OPTION_FLOAT) {
        memcpy(p, &o->fdef[0], sizeof(double));
      } else {
        const float x[3] = {(float)o->fdef[0], (float)o->fdef[1], (float)o->fdef[2]};
        memcpy(p, x, sizeof x);
      }
    }
  }
}

pv_status pv__options_check(const pv_option_info *t, size_t n, const void *opts, char *err,
                            size_t cap) {
  for (size_t i = 0; i < n; i++) {
    pv_status st = pv_option_check(&t[i], opts, err, cap);
    if (st != PV_OK) return st;
  }
  return PV_OK;
}

const pv_option_info *pv__options_find(const pv_option_info *t, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return &t[i];
  return NULL;
}

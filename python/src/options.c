/* options.c - options dicts read through libpvpack's options tables
 * (pv_option.h), the tables themselves for the Python layer (options()),
 * and build() (pvpy.h). */
#include "pvpy.h"

typedef const pv_option_info *(*option_table)(size_t i);

/* Reads an optional integer entry of the dict (pvpy.h). */
int opt_u64(PyObject *d, const char *k, uint64_t *v) {
  PyObject *x = PyDict_GetItemString(d, k);
  if (!x) return 1;
  unsigned long long u = PyLong_AsUnsignedLongLong(x);
  if (PyErr_Occurred()) return 0;
  *v = u;
  return 1;
}
int opt_int(PyObject *d, const char *k, int *v) {
  PyObject *x = PyDict_GetItemString(d, k);
  if (!x) return 1;
  long u = PyLong_AsLong(x);
  if (PyErr_Occurred()) return 0;
  if (u < INT32_MIN || u > INT32_MAX) {
    PyErr_Format(PyExc_OverflowError, "option %s out of range", k);
    return 0;
  }
  *v = (int)u;
  return 1;
}
int opt_u32(PyObject *d, const char *k, uint32_t *v) {
  uint64_t u = *v;
  if (!opt_u64(d, k, &u)) return 0;
  if (u > UINT32_MAX) {
    PyErr_Format(PyExc_OverflowError, "option %s out of range", k);
    return 0;
  }
  *v = (uint32_t)u;
  return 1;
}
/* Stores Python value v into entry o of opts, checked against the table:
 * BOOL takes any object (its truth), INT an integer (anything with
 * __index__; TypeError for a float or a string), BYTES that or a string
 * "256M", FLOAT a number, FLOAT3 a sequence of 3 numbers, CHOICE a name
 * (str) or a value (int). Out of range: ValueError with the library's
 * message ("quality must be 1..100, not 0"). */
static int set_from_python(const pv_option_info *o, void *opts, PyObject *v) {
  char err[256] = "";
  pv_status st = PV_OK;
  switch (o->kind) {
    case PV_OPTION_BOOL: {
      int t = PyObject_IsTrue(v);
      if (t < 0) return 0;
      st = pv_option_set_int(o, opts, t, err, sizeof err);
      break;
    }
    case PV_OPTION_CHOICE:
    case PV_OPTION_INT:
    case PV_OPTION_BYTES: {
      if (PyUnicode_Check(v) && (o->kind == PV_OPTION_CHOICE || o->kind == PV_OPTION_BYTES)) {
        const char *s = PyUnicode_AsUTF8(v);
        if (!s) return 0;
        st = pv_option_set_text(o, opts, s, err, sizeof err);
        break;
      }
      PyObject *i = PyNumber_Index(v);
      if (!i) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
          PyErr_Clear();
          PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", o->name,
                       o->kind == PV_OPTION_CHOICE  ? "a name"
                       : o->kind == PV_OPTION_BYTES ? "an integer or a size such as '256M'"
                                                    : "an integer",
                       Py_TYPE(v)->tp_name);
        }
        return 0;
      }
      int overflow = 0;
      long long x = PyLong_AsLongLongAndOverflow(i, &overflow);
      if (!overflow) {
        st = pv_option_set_int(o, opts, x, err, sizeof err);
      } else if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(i);
        if (PyErr_Occurred()) {
          PyErr_Clear();
          snprintf(err, sizeof err, "%s: %s out of range", o->name, "value");
          st = PV_ERR_INVALID_ARG;
        } else {
          st = pv_option_set_uint(o, opts, u, err, sizeof err);
        }
      } else {
        snprintf(err, sizeof err, "%s: value out of range", o->name);
        st = PV_ERR_INVALID_ARG;
      }
      Py_DECREF(i);
      if (PyErr_Occurred()) return 0;
      break;
    }
    case PV_OPTION_FLOAT:
    case PV_OPTION_FLOAT3: {
      const Py_ssize_t n = o->kind == PV_OPTION_FLOAT3 ? 3 : 1;
      double f[3];
      if (n == 1) {
        f[0] = PyFloat_AsDouble(v);
        if (PyErr_Occurred()) return 0;
      } else {
        PyObject *seq = PySequence_Fast(v, "");
        if (!seq || PySequence_Fast_GET_SIZE(seq) != n) {
          Py_XDECREF(seq);
          PyErr_Clear();
          PyErr_Format(PyExc_ValueError, "%s must have 3 values", o->name);
          return 0;
        }
        for (Py_ssize_t c = 0; c < n; c++) {
          f[c] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, c));
          if (PyErr_Occurred()) {
            Py_DECREF(seq);
            return 0;
          }
        }
        Py_DECREF(seq);
      }
      st = pv_option_set_float(o, opts, f, (size_t)n, err, sizeof err);
      break;
    }
  }
  if (st != PV_OK) {
    PyErr_SetString(PyExc_ValueError, err);
    return 0;
  }
  return 1;
}

/* Every entry of table whose name is a key of d, except those in skip.
 * Other keys: TypeError "unknown <what> option" when strict, else ignored
 * (the caller reads and has checked them). */
static int options_from_dict(PyObject *d, option_table table, void *opts, const char *what,
                             int strict, const char *const *skip) {
  PyObject *key, *val;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &key, &val)) {
    const char *k = PyUnicode_AsUTF8(key);
    if (!k) return 0;
    int skipped = 0;
    for (int i = 0; skip && skip[i]; i++) skipped |= !strcmp(k, skip[i]);
    if (skipped) continue;
    const pv_option_info *o = NULL;
    for (size_t i = 0; table(i) && !o; i++)
      if (!strcmp(table(i)->name, k)) o = table(i);
    if (!o) {
      if (!strict) continue;
      PyErr_Format(PyExc_TypeError, "unknown %s option %R", what, key);
      return 0;
    }
    if (!set_from_python(o, opts, val)) return 0;
  }
  return 1;
}

int loader_check_keys(PyObject *d, const char *const *extra) {
  PyObject *key;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &key, NULL)) {
    const char *k = PyUnicode_AsUTF8(key);
    if (!k) return 0;
    int known = !strcmp(k, "hold_limit") || !strcmp(k, "indices");
    for (int i = 0; extra && extra[i]; i++) known |= !strcmp(k, extra[i]);
    for (size_t i = 0; pv_loader_option_info(i) && !known; i++)
      known = !strcmp(pv_loader_option_info(i)->name, k);
    if (!known) {
      PyErr_Format(PyExc_TypeError, "unknown loader option %R", key);
      return 0;
    }
  }
  return 1;
}

int loader_options_from_dict(PyObject *d, pv_loader_options *op, int *holdp,
                             const char *const *skip) {
  pv_loader_options o;
  pv_loader_options_init(&o);
  int hold = -1;
  if (!options_from_dict(d, pv_loader_option_info, &o, "loader", 0, skip) ||
      !opt_int(d, "hold_limit", &hold))
    return 0;
  if (hold < -1) { /* -1: the default */
    PyErr_Format(PyExc_ValueError, "hold_limit must be >= 0 (or None), not %d", hold);
    return 0;
  }
  /* indices: bytes of native uint64 record numbers; o.indices points into
   * the bytes object, which d keeps alive while the loader is created (it
   * copies them). */
  PyObject *ix = PyDict_GetItemString(d, "indices");
  if (ix && ix != Py_None) {
    if (!PyBytes_Check(ix) || PyBytes_GET_SIZE(ix) % (Py_ssize_t)sizeof(uint64_t)) {
      PyErr_SetString(PyExc_TypeError, "indices must be bytes of native uint64 values");
      return 0;
    }
    o.indices = (const uint64_t *)(const void *)PyBytes_AS_STRING(ix);
    o.indices_count = (uint64_t)PyBytes_GET_SIZE(ix) / sizeof(uint64_t);
  }
  *op = o;
  *holdp = hold;
  return 1;
}

/* ---- options(which) ---------------------------------------------------------- */

static PyObject *choice_or_int(const pv_option_info *o, int64_t v) {
  const char *n = pv_option_choice_name(o, (int)v);
  return n ? PyUnicode_FromString(n) : PyLong_FromLongLong(v);
}

/* One entry as a dict; default, min and max as Python values of the kind
 * (bool, int, float, a tuple of 3 floats, the choice's name). */
static PyObject *option_dict(const pv_option_info *o) {
  static const char *const kinds[] = {"bool", "int", "bytes", "float", "float3", "choice"};
  PyObject *def = NULL, *lo = NULL, *hi = NULL, *choices = NULL;
  switch (o->kind) {
    case PV_OPTION_BOOL:
      def = PyBool_FromLong(o->def != 0);
      lo = Py_NewRef(Py_False);
      hi = Py_NewRef(Py_True);
      break;
    case PV_OPTION_INT:
    case PV_OPTION_BYTES:
      def = PyLong_FromLongLong(o->def);
      lo = PyLong_FromLongLong(o->min);
      hi = PyLong_FromUnsignedLongLong(o->max);
      break;
    case PV_OPTION_FLOAT:
      def = PyFloat_FromDouble(o->fdef[0]);
      lo = PyFloat_FromDouble(o->fmin);
      hi = PyFloat_FromDouble(o->fmax);
      break;
    case PV_OPTION_FLOAT3:
      def = Py_BuildValue("(ddd)", o->fdef[0], o->fdef[1], o->fdef[2]);
      lo = PyFloat_FromDouble(o->fmin);
      hi = PyFloat_FromDouble(o->fmax);
      break;
    case PV_OPTION_CHOICE: {
      def = choice_or_int(o, o->def);
      Py_ssize_t n = 0;
      while (o->choices[n].name) n++;
      choices = PyTuple_New(n);
      for (Py_ssize_t k = 0; choices && k < n; k++)
        PyTuple_SET_ITEM(choices, k, PyUnicode_FromString(o->choices[k].name));
      lo = Py_NewRef(Py_None);
      hi = Py_NewRef(Py_None);
      break;
    }
  }
  if (!choices) choices = Py_NewRef(Py_None);
  char flag[96];
  pv_option_flag(o, flag, sizeof flag);
  PyObject *r = NULL;
  if (def && lo && hi && choices)
    r = Py_BuildValue("{s:s,s:s,s:z,s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:z,s:s}", "name", o->name,
                      "field", o->field, "group", o->group, "kind", kinds[o->kind], "default",
                      def, "min", lo, "max", hi, "choices", choices, "cli",
                      (o->flags & PV_OPTION_CLI) ? Py_True : Py_False, "flag", flag, "arg",
                      o->arg, "help", o->help);
  Py_XDECREF(def);
  Py_XDECREF(lo);
  Py_XDECREF(hi);
  Py_XDECREF(choices);
  return r;
}

PyObject *py_options(PyObject *mod, PyObject *arg) {
  const char *which = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
  option_table t = NULL;
  if (which && !strcmp(which, "build")) t = pv_build_option_info;
  else if (which && !strcmp(which, "loader")) t = pv_loader_option_info;
  else if (which && !strcmp(which, "limits")) t = pv_limits_option_info;
  if (!t) {
    if (!PyErr_Occurred())
      PyErr_Format(PyExc_ValueError, "options(): 'build', 'loader' or 'limits', not %R", arg);
    return NULL;
  }
  size_t n = 0;
  while (t(n)) n++;
  PyObject *r = PyTuple_New((Py_ssize_t)n);
  for (size_t i = 0; r && i < n; i++) {
    PyObject *e = option_dict(t(i));
    if (!e) {
      Py_CLEAR(r);
      break;
    }
    PyTuple_SET_ITEM(r, (Py_ssize_t)i, e);
  }
  return r;
}

/* ---- build ------------------------------------------------------------------- */

typedef struct build_job {
  char *src, *out;
  pv_build_options o;
  pv_build_summary summary;
  pv_status status;
  char err[1024];
  volatile sig_atomic_t cancel;
  PyObject *log;      /* callable or NULL */
  PyObject *progress; /* callable or NULL */
  int parted;    /* pv_build_part(part_k, part_n) instead of pv_build */
  int planned;   /* pv_build_plan(part_n) instead of either */
  uint32_t part_k, part_n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
} build_job;

static void build_log(void *ctx, pv_log_level level, const char *line) {
  build_job *j = ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  static const char *const names[] = {"info", "warn", "skip"};
  PyObject *r = PyObject_CallFunction(j->log, "ss", level <= PV_LOG_SKIP ? names[level] : "info",
                                      line);
  if (!r) PyErr_WriteUnraisable(j->log);
  Py_XDECREF(r);
  PyGILState_Release(g);
}

static void build_progress(void *ctx, uint64_t done, uint64_t total) {
  build_job *j = ctx;
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject *r = PyObject_CallFunction(j->progress, "KK", (unsigned long long)done,
                                      (unsigned long long)total);
  if (!r) PyErr_WriteUnraisable(j->progress);
  Py_XDECREF(r);
  PyGILState_Release(g);
}

static void *build_thread(void *arg) {
  build_job *j = arg;
  j->status = j->planned ? pv_build_plan(j->src, j->out, &j->o, j->part_n, &j->summary, j->err,
                                         sizeof j->err)
              : j->parted ? pv_build_part(j->src, j->out, &j->o, j->part_k, j->part_n,
                                        &j->summary, j->err, sizeof j->err)
              : pv_build(j->src, j->out, &j->o, &j->summary, j->err, sizeof j->err);
  pthread_mutex_lock(&j->mu);
  j->done = 1;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

PyObject *py_build(PyObject *mod, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"src", "out", "options", "log", "part", "progress", "plan", NULL};
  PyObject *src_b, *out_b = NULL, *d, *log = Py_None, *part = Py_None, *prog = Py_None,
           *plan = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&O!|OOOO", kwlist, PyUnicode_FSConverter, &src_b,
                                   PyUnicode_FSConverter, &out_b, &PyDict_Type, &d, &log, &part,
                                   &prog, &plan))
    return NULL;
  if (prog != Py_None && !PyCallable_Check(prog)) {
    PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
    Py_DECREF(src_b);
    Py_DECREF(out_b);
    return NULL;
  }
  unsigned long long pk = 0, pn = 0;
  if (plan != Py_None) { /* plan=n: pv_build_plan */
    if (!PyLong_Check(plan) || PyBool_Check(plan) || part != Py_None) {
      PyErr_SetString(PyExc_TypeError, "plan must be an int n (and part None)");
      Py_DECREF(src_b);
      Py_DECREF(out_b);
      return NULL;
    }
    pn = PyLong_AsUnsignedLongLong(plan);
    if (PyErr_Occurred() || pn == 0 || pn > PV_MAX_PARTS) {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError, "parts must be 1 <= n <= %u", PV_MAX_PARTS);
      Py_DECREF(src_b);
      Py_DECREF(out_b);
      return NULL;
    }
  }
  if (part != Py_None) {
    PyObject *ko = NULL, *no = NULL;
    if (!PyTuple_Check(part) || PyTuple_GET_SIZE(part) != 2 ||
        !PyLong_Check(ko = PyTuple_GET_ITEM(part, 0)) || !PyLong_Check(no = PyTuple_GET_ITEM(part, 1)) ||
        PyBool_Check(ko) || PyBool_Check(no)) {
      PyErr_SetString(PyExc_TypeError, "part must be a tuple (k, n) of ints");
      Py_DECREF(src_b);
      Py_DECREF(out_b);
      return NULL;
    }
    pk = PyLong_AsUnsignedLongLong(ko);
    pn = PyLong_AsUnsignedLongLong(no);
    if (PyErr_Occurred() || pn == 0 || pn > PV_MAX_PARTS || pk >= pn) {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError, "part must be (k, n) with 0 <= k < n <= %u", PV_MAX_PARTS);
      Py_DECREF(src_b);
      Py_DECREF(out_b);
      return NULL;
    }
  }
  build_job *j = PyMem_RawCalloc(1, sizeof *j);
  PyObject *result = NULL;
  if (!j) {
    PyErr_NoMemory();
    goto out_args;
  }
  pv_build_options_init(&j->o);
  if (!options_from_dict(d, pv_build_option_info, &j->o, "build", 1, NULL)) goto out_job;
  j->src = strdup(PyBytes_AS_STRING(src_b));
  j->out = strdup(PyBytes_AS_STRING(out_b));
  if (!j->src || !j->out) {
    PyErr_NoMemory();
    goto out_job;
  }
  if (log != Py_None) {
    j->log = log;
    j->o.log = build_log;
    j->o.log_ctx = j;
  }
  if (prog != Py_None) {
    j->progress = prog;
    j->o.on_progress = build_progress;
    j->o.progress_ctx = j;
  }
  j->o.cancel = &j->cancel;
  if (part != Py_None || plan != Py_None) {
    j->parted = part != Py_None;
    j->planned = plan != Py_None;
    j->part_k = (uint32_t)pk;
    j->part_n = (uint32_t)pn;
  }
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  pthread_t t;
  if (pthread_create(&t, NULL, build_thread, j) != 0) {
    PyErr_SetString(PyExc_RuntimeError, "could not start the build thread");
    goto out_sync;
  }
  /* Wait in slices so that Ctrl-C (or any signal handler's exception)
   * cancels the build: it removes its temporary directory and returns. */
  PyObject *ptype = NULL, *pvalue = NULL, *ptb = NULL;
  for (;;) {
    int done;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&j->mu);
    if (!j->done) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 100000000L;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    done = j->done;
    pthread_mutex_unlock(&j->mu);
    Py_END_ALLOW_THREADS
    if (done) break;
    if (!ptype && PyErr_CheckSignals() < 0) {
      j->cancel = 1;
      PyErr_Fetch(&ptype, &pvalue, &ptb);
    }
  }
  Py_BEGIN_ALLOW_THREADS
  pthread_join(t, NULL);
  Py_END_ALLOW_THREADS
  if (ptype) {
    PyErr_Restore(ptype, pvalue, ptb);
    goto out_sync;
  }
  if (j->status != PV_OK) {
    raise_status(j->status, j->err);
    goto out_sync;
  }
  pv_build_summary *s = &j->summary;
  /* Records per codec, by the format's codec names (every codec, so a new
   * one appears here without a change). */
  PyObject *codecs = PyDict_New();
  for (int c = 0; codecs && c < PV_CODEC_COUNT; c++) {
    PyObject *n = PyLong_FromUnsignedLongLong((unsigned long long)s->codec_records[c]);
    if (!n || PyDict_SetItemString(codecs, pv_codec_name(c), n) != 0) Py_CLEAR(codecs);
    Py_XDECREF(n);
  }
  if (codecs)
    result = Py_BuildValue(
        "{s:K,s:K,s:K,s:I,s:I,s:K,s:K,s:N,s:K,s:d,s:O&}", "files", (unsigned long long)s->files,
        "images", (unsigned long long)s->images, "skipped", (unsigned long long)s->skipped,
        "classes", s->classes, "shards", s->shards, "bytes_in", (unsigned long long)s->bytes_in,
        "bytes_out", (unsigned long long)s->bytes_out, "codecs", codecs, "original",
        (unsigned long long)s->original_records, "seconds", s->seconds, "out",
        PyUnicode_DecodeFSDefault, j->out);
out_sync:
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
out_job:
  free(j->src);
  free(j->out);
  PyMem_RawFree(j);
out_args:
  Py_DECREF(src_b);
  Py_DECREF(out_b);
  return result;
}


/* merge(out) -> dict: pv_merge without the GIL. */
PyObject *py_merge(PyObject *mod, PyObject *args) {
  (void)mod;
  PyObject *out_b;
  if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &out_b)) return NULL;
  pv_build_summary s;
  char err[1024] = "";
  pv_status st;
  const char *out = PyBytes_AS_STRING(out_b);
  Py_BEGIN_ALLOW_THREADS
  st = pv_merge(out, &s, err, sizeof err);
  Py_END_ALLOW_THREADS
  PyObject *result = NULL;
  if (st != PV_OK)
    raise_status(st, err);
  else
    result = Py_BuildValue("{s:K,s:K,s:I,s:I,s:K}", "images", (unsigned long long)s.images,
                           "skipped", (unsigned long long)s.skipped, "classes", s.classes,
                           "shards", s.shards, "bytes_out", (unsigned long long)s.bytes_out);
  Py_DECREF(out_b);
  return result;
}

/* dataset.c - pvpack._pvpack.Dataset: a mapped dataset (pvpy.h). */
#include "pvpy.h"

/* ---- Dataset ----------------------------------------------------------------- */


static void Dataset_dealloc(DatasetObject *self) {
  pv_decoder_destroy(self->dec);
  pv_dataset_close(self->ds);
  if (self->dec_lock) PyThread_free_lock(self->dec_lock);
  Py_XDECREF(self->path);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A non-negative integer argument: an int or anything with __index__
 * (NumPy integers), never a float (TypeError), at most hi (ValueError). */
int uint_arg(PyObject *o, const char *name, unsigned long long hi,
                    unsigned long long *out) {
  PyObject *i = PyNumber_Index(o);
  if (!i) {
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "%s must be an integer, not %.100s", name,
                   Py_TYPE(o)->tp_name);
    }
    return 0;
  }
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
  unsigned long long u = 0;
  int bad = overflow < 0 || (!overflow && v < 0);
  if (!bad) {
    u = PyLong_AsUnsignedLongLong(i);
    if (PyErr_Occurred()) {
      PyErr_Clear();
      bad = 1;
    }
  }
  if (bad || u > hi) {
    PyErr_Format(PyExc_ValueError, "%s must be an integer in 0..%llu, not %R", name, hi, i);
    Py_DECREF(i);
    return 0;
  }
  Py_DECREF(i);
  *out = u;
  return 1;
}

/* Dataset(path, verify_on_read=False, *, <limits>): the limit keywords are
 * pv_limits' table (pv_limits_option_info); None keeps a default, else an
 * integer >= 0 within the field's range (0 = no limit). */
static int Dataset_init(DatasetObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path", "verify_on_read", NULL};
  PyObject *path_obj;
  int verify = 0;
  PyObject *rest = NULL;
  /* Split the keywords: the table's limits here, the rest to the parser. */
  pv_open_options oo;
  pv_open_options_init(&oo);
  if (kw) {
    rest = PyDict_Copy(kw);
    if (!rest) return -1;
    for (size_t i = 0; pv_limits_option_info(i); i++) {
      const pv_option_info *o = pv_limits_option_info(i);
      PyObject *v = PyDict_GetItemString(rest, o->name);
      if (!v) continue;
      Py_INCREF(v);
      PyDict_DelItemString(rest, o->name);
      int ok = 1;
      if (v != Py_None) {
        unsigned long long u;
        ok = uint_arg(v, o->name, o->max, &u) &&
             pv_option_set_uint(o, &oo.limits, u, NULL, 0) == PV_OK;
      }
      Py_DECREF(v);
      if (!ok) {
        Py_DECREF(rest);
        return -1;
      }
    }
  }
  int parsed = PyArg_ParseTupleAndKeywords(args, rest, "O&|p", kwlist, PyUnicode_FSConverter,
                                           &path_obj, &verify);
  Py_XDECREF(rest);
  if (!parsed) return -1;
  if (self->ds) {
    Py_DECREF(path_obj);
    PyErr_SetString(PyExc_RuntimeError, "Dataset is already open");
    return -1;
  }
  oo.verify_on_read = verify;
  if (PyBytes_GET_SIZE(path_obj) == 0) {
    Py_DECREF(path_obj);
    PyErr_SetString(PyExc_ValueError, "the dataset path is empty");
    return -1;
  }
  char err[512] = "";
  pv_status st;
  const char *path = PyBytes_AS_STRING(path_obj);
  Py_BEGIN_ALLOW_THREADS
  st = pv_dataset_open(path, &oo, &self->ds, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) {
    Py_DECREF(path_obj);
    raise_status(st, err);
    return -1;
  }
  self->path = PyUnicode_DecodeFSDefault(path);
  Py_DECREF(path_obj);
  if (!self->path) return -1;
  if ((st = pv_decoder_create(&self->dec)) != PV_OK ||
      (st = pv_decoder_set_limits(self->dec, pv_dataset_limits(self->ds))) != PV_OK) {
    raise_status(st, "creating the record decoder");
    return -1;
  }
  if (!(self->dec_lock = PyThread_allocate_lock())) {
    PyErr_NoMemory();
    return -1;
  }
  return 0;
}

int dataset_check(DatasetObject *self) {
  if (!self->ds) {
    PyErr_SetString(PyExc_ValueError, "Dataset is not open");
    return 0;
  }
  return 1;
}

static Py_ssize_t Dataset_len(DatasetObject *self) {
  if (!dataset_check(self)) return -1;
  return (Py_ssize_t)pv_dataset_record_count(self->ds);
}

/* Parses and range-checks a record number: an integer (int, NumPy integer:
 * anything with __index__; a float is a TypeError), 0 <= i < len. */
static int record_index(DatasetObject *self, PyObject *arg, uint64_t *out) {
  if (!dataset_check(self)) return 0;
  PyObject *idx = PyNumber_Index(arg);
  if (!idx) {
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "record index must be an integer, not %.100s",
                   Py_TYPE(arg)->tp_name);
    }
    return 0;
  }
  unsigned long long i = PyLong_AsUnsignedLongLong(idx);
  if (PyErr_Occurred() || i >= pv_dataset_record_count(self->ds)) {
    PyErr_Clear();
    PyErr_Format(PyExc_IndexError, "record %R out of range (dataset has %llu)", idx,
                 (unsigned long long)pv_dataset_record_count(self->ds));
    Py_DECREF(idx);
    return 0;
  }
  Py_DECREF(idx);
  *out = i;
  return 1;
}

static PyObject *Dataset_record(DatasetObject *self, PyObject *arg) {
  uint64_t i;
  if (!record_index(self, arg, &i)) return NULL;
  pv_record r;
  char err[512];
  pv_status st = pv_dataset_record_ex(self->ds, i, &r, err, sizeof err);
  if (st != PV_OK && st != PV_ERR_CHECKSUM) return raise_status(st, err);
  return Py_BuildValue("{s:I,s:I,s:I,s:i,s:I,s:I,s:I,s:K,s:O}", "label", r.label, "width",
                       r.width, "height", r.height, "codec", (int)r.codec, "length", r.length,
                       "shard", r.shard, "shard_record", r.shard_record, "checksum",
                       (unsigned long long)r.checksum, "checksum_ok",
                       st == PV_OK ? Py_True : Py_False);
}

static PyObject *Dataset_label(DatasetObject *self, PyObject *arg) {
  uint64_t i;
  if (!record_index(self, arg, &i)) return NULL;
  pv_record r;
  char err[512];
  pv_status st = pv_dataset_record_ex(self->ds, i, &r, err, sizeof err);
  if (st != PV_OK && st != PV_ERR_CHECKSUM) return raise_status(st, err);
  return PyLong_FromUnsignedLong(r.label);
}

static PyObject *Dataset_source_path(DatasetObject *self, PyObject *arg) {
  uint64_t i;
  if (!record_index(self, arg, &i)) return NULL;
  char p[PV_MAX_PATH_BYTES + 1];
  if (!pv_dataset_source_path(self->ds, i, NULL))
    return raise_status(PV_ERR_CORRUPT, "no source path (the index changed after open?)");
  size_t len = pv_dataset_source_path_copy(self->ds, i, p, sizeof p);
  return PyUnicode_DecodeFSDefaultAndSize(p, (Py_ssize_t)len);
}

/* pv_dataset_record_ex's reason without the "shard-N.pvs record R (entry
 * E): " it starts with, for messages that name the record themselves. */
static const char *record_reason(const char *err, const pv_record *r) {
  char who[96];
  int n = snprintf(who, sizeof who, "shard-%05u.pvs record %llu (entry %u): ", r->shard,
                   (unsigned long long)r->index, r->shard_record);
  return n > 0 && strncmp(err, who, (size_t)n) == 0 ? err + n : err;
}

/* decode(i) -> (bytearray of h*w*3 RGB bytes, height, width, label). */
static PyObject *Dataset_decode(DatasetObject *self, PyObject *arg) {
  uint64_t i;
  if (!record_index(self, arg, &i)) return NULL;
  pv_record r;
  char err[512];
  pv_status st = pv_dataset_record_ex(self->ds, i, &r, err, sizeof err);
  if (st != PV_OK) {
    char msg[800], src[201];
    if (!pv_dataset_source_path_copy(self->ds, i, src, sizeof src)) snprintf(src, sizeof src, "?");
    snprintf(msg, sizeof msg, "shard-%05u.pvs record %llu (entry %u, source %s): %s", r.shard,
             (unsigned long long)i, r.shard_record, src, record_reason(err, &r));
    return raise_status(st, msg);
  }
  size_t stride = (size_t)r.width * 3, size = stride * r.height;
  char detail[512] = "";
  /* The dataset's limits before the pixels are allocated (a record may
   * declare 65500x65500). */
  Py_BEGIN_ALLOW_THREADS
  PyThread_acquire_lock(self->dec_lock, WAIT_LOCK);
  st = pv_decoder_check(self->dec, &r);
  if (st != PV_OK) snprintf(detail, sizeof detail, "%s", pv_decoder_last_error(self->dec));
  PyThread_release_lock(self->dec_lock);
  Py_END_ALLOW_THREADS
  PyObject *buf = NULL;
  if (st == PV_OK) {
    if (!(buf = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)size))) return NULL;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(self->dec_lock, WAIT_LOCK);
    st = pv_decoder_decode(self->dec, &r, (uint8_t *)PyByteArray_AS_STRING(buf), stride, size);
    if (st != PV_OK) snprintf(detail, sizeof detail, "%s", pv_decoder_last_error(self->dec));
    PyThread_release_lock(self->dec_lock);
    Py_END_ALLOW_THREADS
  }
  if (st != PV_OK) {
    Py_XDECREF(buf);
    char msg[900], src[201];
    /* A fault on the payload: say how the shard file changed. */
    if (st == PV_ERR_CHANGED) st = pv_dataset_explain_fault(self->ds, r.shard, detail, sizeof detail);
    if (!pv_dataset_source_path_copy(self->ds, i, src, sizeof src)) snprintf(src, sizeof src, "?");
    snprintf(msg, sizeof msg, "shard-%05u.pvs record %llu (entry %u, source %s): %s", r.shard,
             (unsigned long long)i, r.shard_record, src, detail);
    return raise_status(st, msg);
  }
  return Py_BuildValue("(NIII)", buf, r.height, r.width, r.label);
}

static PyObject *Dataset_classes(DatasetObject *self, void *closure) {
  if (!dataset_check(self)) return NULL;
  uint32_t n = pv_dataset_class_count(self->ds);
  PyObject *list = PyList_New(n);
  if (!list) return NULL;
  for (uint32_t c = 0; c < n; c++) {
    const char *name = pv_dataset_class_name(self->ds, c);
    PyObject *s = PyUnicode_DecodeFSDefault(name ? name : "");
    if (!s) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, c, s);
  }
  return list;
}

static PyObject *Dataset_class_records(DatasetObject *self, void *closure) {
  if (!dataset_check(self)) return NULL;
  uint32_t n = pv_dataset_class_count(self->ds);
  PyObject *list = PyList_New(n);
  if (!list) return NULL;
  for (uint32_t c = 0; c < n; c++)
    PyList_SET_ITEM(list, c,
                    PyLong_FromUnsignedLongLong(pv_dataset_class_records(self->ds, c)));
  return list;
}

static PyObject *Dataset_text(DatasetObject *self, void *closure) {
  if (!dataset_check(self)) return NULL;
  size_t len = 0;
  const char *t = closure ? pv_dataset_skipped_text(self->ds, &len)
                          : pv_dataset_options_text(self->ds, &len);
  return PyUnicode_DecodeUTF8(t ? t : "", t ? (Py_ssize_t)len : 0, "surrogateescape");
}

static PyObject *Dataset_get_path(DatasetObject *self, void *closure) {
  return Py_NewRef(self->path ? self->path : Py_None);
}

static PyObject *Dataset_shard_count(DatasetObject *self, void *closure) {
  if (!dataset_check(self)) return NULL;
  return PyLong_FromUnsignedLong(pv_dataset_shard_count(self->ds));
}

static PyMethodDef Dataset_methods[] = {
    {"record", (PyCFunction)Dataset_record, METH_O, "record(i) -> dict of record i's table entry"},
    {"label", (PyCFunction)Dataset_label, METH_O, "label(i) -> int"},
    {"source_path", (PyCFunction)Dataset_source_path, METH_O,
     "source_path(i) -> path of record i relative to the build's source root"},
    {"decode", (PyCFunction)Dataset_decode, METH_O,
     "decode(i) -> (bytearray RGB, height, width, label)"},
    {NULL}};

static PyGetSetDef Dataset_getset[] = {
    {"classes", (getter)Dataset_classes, NULL, "class names in label order", NULL},
    {"class_records", (getter)Dataset_class_records, NULL, "records per class", NULL},
    {"options_text", (getter)Dataset_text, NULL, "build options, key=value lines", NULL},
    {"skipped_text", (getter)Dataset_text, NULL, "skipped files, path<TAB>reason lines",
     (void *)1},
    {"path", (getter)Dataset_get_path, NULL, "the dataset directory", NULL},
    {"shard_count", (getter)Dataset_shard_count, NULL, "number of shard files", NULL},
    {NULL}};

static PySequenceMethods Dataset_as_sequence = {.sq_length = (lenfunc)Dataset_len};

PyTypeObject DatasetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.Dataset",
    .tp_basicsize = sizeof(DatasetObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Dataset(path, verify_on_read=False): a mapped pvpack dataset (low level)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Dataset_init,
    .tp_dealloc = (destructor)Dataset_dealloc,
    .tp_methods = Dataset_methods,
    .tp_getset = Dataset_getset,
    .tp_as_sequence = &Dataset_as_sequence,
};


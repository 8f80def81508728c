/* _pvpack.c - the CPython extension under the `pvpack` package.
 *
 * Three types and two functions over libpvpack; the Python layer
 * (pvpack/_dataset.py, _loader.py, _build.py) adds argument checking, the
 * torch/NumPy conversion, state_dict and docstrings for users.
 *
 *   Dataset(path)          a mapped dataset: records, labels, classes,
 *                          source paths, decoding into a bytearray.
 *   Loader(dataset, opts)  a pv_loader; next() hands out Batch objects.
 *   Batch                  one batch's image buffer, exported zero-copy
 *                          through the buffer protocol and DLPack.
 *   build(src, out, opts)  pv_build on a helper thread, Ctrl-C cancels.
 *   Error                  the exception type: .status, .status_name.
 *
 * Lifetime. A Batch holds a reference to its Loader (which holds its
 * Dataset), and every export of a Batch (a memoryview/NumPy array through
 * the buffer protocol, a DLPack capsule or the tensor a consumer made
 * from it) holds a reference to the Batch. When the last one goes, the
 * Batch hands its ring slot back (pv_loader_release) or, if it had been
 * detached, frees its buffer (pv_loader_free_detached). A ring slot is
 * therefore never refilled while anything can still read it. So that user
 * code which keeps batches cannot starve the ring, Loader.next() detaches
 * the oldest batches still alive once more than `hold_limit` are held
 * (pv_loader_detach: the buffer becomes the Batch's own, the slot gets a
 * fresh one). The Batch's pointer and contents never change; memory beyond
 * the ring is exactly what the user keeps alive.
 *
 * GIL. Released while C works or waits (pv_loader_wait in 50 ms slices,
 * with PyErr_CheckSignals between them so Ctrl-C raises KeyboardInterrupt
 * promptly; decoding; pv_build). All Loader bookkeeping (the held list)
 * happens with the GIL held; the C loader's own state is under its mutex.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pv_pack.h"
#include "pvpack.h"
#include "pvpack_cuda.h"

/* 1 in the test build linked against tests/cuda_mock.c (a CPU stand-in for
 * the CUDA Runtime, whose "device" memory is host memory). */
#ifndef PV_PY_CUDA_MOCK
#define PV_PY_CUDA_MOCK 0
#endif

/* ---- DLPack (the ABI of dlpack.h v1.0, declared here: no header dependency) */

typedef struct {
  int32_t device_type; /* kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3 */
  int32_t device_id;
} pv_DLDevice;
typedef struct {
  uint8_t code; /* kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4 */
  uint8_t bits;
  uint16_t lanes;
} pv_DLDataType;
typedef struct {
  void *data;
  pv_DLDevice device;
  int32_t ndim;
  pv_DLDataType dtype;
  int64_t *shape;
  int64_t *strides; /* NULL: compact row-major */
  uint64_t byte_offset;
} pv_DLTensor;
typedef struct pv_DLManagedTensor {
  pv_DLTensor dl_tensor;
  void *manager_ctx;
  void (*deleter)(struct pv_DLManagedTensor *self);
} pv_DLManagedTensor;
typedef struct {
  uint32_t major, minor;
} pv_DLPackVersion;
typedef struct pv_DLManagedTensorVersioned {
  pv_DLPackVersion version;
  void *manager_ctx;
  void (*deleter)(struct pv_DLManagedTensorVersioned *self);
  uint64_t flags;
  pv_DLTensor dl_tensor;
} pv_DLManagedTensorVersioned;
#define PV_DL_CPU 1

/* ---- errors ------------------------------------------------------------------ */

static PyObject *PvError; /* pvpack.Error */

/* Raises pvpack.Error("PV_ERR_X: message: detail") with .status,
 * .status_name and .detail set. Returns NULL. */
static PyObject *raise_status(pv_status st, const char *detail) {
  PyObject *msg = PyUnicode_FromFormat("%s: %s%s%s", pv_status_name(st), pv_strerror(st),
                                       detail && *detail ? ": " : "", detail ? detail : "");
  if (!msg) return NULL;
  PyObject *exc = PyObject_CallOneArg(PvError, msg);
  Py_DECREF(msg);
  if (!exc) return NULL;
  PyObject *code = PyLong_FromLong(st);
  PyObject *name = PyUnicode_FromString(pv_status_name(st));
  PyObject *det = PyUnicode_DecodeUTF8(detail ? detail : "", detail ? (Py_ssize_t)strlen(detail) : 0,
                                       "replace");
  if (code && name && det) {
    PyObject_SetAttrString(exc, "status", code);
    PyObject_SetAttrString(exc, "status_name", name);
    PyObject_SetAttrString(exc, "detail", det);
  }
  Py_XDECREF(code);
  Py_XDECREF(name);
  Py_XDECREF(det);
  PyErr_SetObject(PvError, exc);
  Py_DECREF(exc);
  return NULL;
}

/* ---- Dataset ----------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD pv_dataset *ds;
  pv_decoder *dec;          /* one, serialized by dec_lock */
  PyThread_type_lock dec_lock;
  PyObject *path;
} DatasetObject;

static void Dataset_dealloc(DatasetObject *self) {
  pv_decoder_destroy(self->dec);
  pv_dataset_close(self->ds);
  if (self->dec_lock) PyThread_free_lock(self->dec_lock);
  Py_XDECREF(self->path);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A non-negative integer argument: an int or anything with __index__
 * (NumPy integers), never a float (TypeError), at most hi (ValueError). */
static int uint_arg(PyObject *o, const char *name, unsigned long long hi,
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

/* A limit keyword of Dataset: None keeps the default, else an integer >= 0
 * (0 = no limit). */
static int limit_kw(PyObject *o, const char *name, unsigned long long hi, uint64_t *field) {
  if (!o || o == Py_None) return 1;
  unsigned long long v;
  if (!uint_arg(o, name, hi, &v)) return 0;
  *field = v;
  return 1;
}

static int Dataset_init(DatasetObject *self, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"path",           "verify_on_read",     "max_record_pixels",
                           "max_record_bytes", "max_decoder_memory", "max_scans",
                           NULL};
  PyObject *path_obj;
  PyObject *mpx = NULL, *mrb = NULL, *mdm = NULL, *msc = NULL;
  int verify = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|p$OOOO", kwlist, PyUnicode_FSConverter,
                                   &path_obj, &verify, &mpx, &mrb, &mdm, &msc))
    return -1;
  if (self->ds) {
    Py_DECREF(path_obj);
    PyErr_SetString(PyExc_RuntimeError, "Dataset is already open");
    return -1;
  }
  pv_open_options oo;
  pv_open_options_init(&oo);
  oo.verify_on_read = verify;
  uint64_t scans = oo.limits.max_scans;
  if (!limit_kw(mpx, "max_record_pixels", UINT64_MAX, &oo.limits.max_record_pixels) ||
      !limit_kw(mrb, "max_record_bytes", UINT64_MAX, &oo.limits.max_record_bytes) ||
      !limit_kw(mdm, "max_decoder_memory", UINT64_MAX, &oo.limits.max_decoder_memory) ||
      !limit_kw(msc, "max_scans", UINT32_MAX, &scans)) {
    Py_DECREF(path_obj);
    return -1;
  }
  oo.limits.max_scans = (uint32_t)scans;
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

static int dataset_check(DatasetObject *self) {
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

static PyTypeObject DatasetType = {
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

/* ---- What Loader and CudaLoader share ------------------------------------------
 *
 * Both wrap a C loader with a ring of slots and hand out one Python batch
 * object per slot. The bookkeeping of the batches user code still holds, the
 * one-iterator check, waiting with Ctrl-C, set_epoch and close are the same
 * logic over calls that differ only in name (loader_ops). What differs for a
 * reason stays in each type: detaching (the CUDA detach releases the GIL and
 * must keep the batch alive), handing a slot back (the CUDA release is
 * ordered on streams), pv_loader_next (called with the GIL held) and the
 * batch objects themselves. All of this runs with the GIL held. */

/* The held-batch bookkeeping embedded in both loader objects. */
typedef struct {
  PyObject **held;       /* per ring slot: the live batch attached to it
                            (borrowed: the batch holds the loader, and its
                            dealloc clears the entry, core_forget) */
  uint64_t *held_seq;    /* when it was handed out (oldest detached first) */
  uint32_t nslots, hold_limit, nheld;
  uint64_t seq;
  uint64_t detached;     /* batches detached so far */
  int busy;              /* next() running (GIL released) */
  int closed;
} loader_core;

/* The C calls the shared code makes; `l` is the pv_loader or pv_cuda_loader.
 * type_name names the Python type in "X is not initialised". */
typedef struct {
  const char *type_name;
  int (*wait)(void *l, unsigned timeout_ms);
  pv_status (*set_epoch)(void *l, uint64_t epoch, uint64_t start_batch);
  uint64_t (*batches_per_epoch)(const void *l);
  const char *(*last_error)(const void *l);
} loader_ops;

static uint32_t default_hold_limit(int hold, uint32_t ring);

/* Allocates the held arrays for a ring of nslots; hold is the hold_limit
 * option (-1: default). Returns 0 with MemoryError set on failure (the
 * arrays are freed by core_free from the type's dealloc). */
static int core_init(loader_core *c, uint32_t nslots, int hold) {
  c->nslots = nslots;
  c->hold_limit = default_hold_limit(hold, nslots);
  c->held = PyMem_Calloc(nslots, sizeof *c->held);
  c->held_seq = PyMem_Calloc(nslots, sizeof *c->held_seq);
  if (!c->held || !c->held_seq) {
    PyErr_NoMemory();
    return 0;
  }
  return 1;
}

static void core_free(loader_core *c) {
  PyMem_Free(c->held);
  PyMem_Free(c->held_seq);
}

/* Whether the loader may be used now (initialised, open, not iterated by
 * another thread); 0 with ValueError / RuntimeError set if not. */
static int core_check(const loader_core *c, const void *l, const loader_ops *ops) {
  if (!l) {
    PyErr_Format(PyExc_ValueError, "%s is not initialised", ops->type_name);
    return 0;
  }
  if (c->closed) {
    PyErr_SetString(PyExc_ValueError, "Loader is closed");
    return 0;
  }
  if (c->busy) {
    PyErr_SetString(PyExc_RuntimeError,
                    "Loader is being iterated by another thread (one iterator at a time)");
    return 0;
  }
  return 1;
}

/* The slot of the oldest held batch; call only with nheld > 0. next() detaches
 * it while more than hold_limit are held, so that kept batches cannot starve
 * the ring. */
static uint32_t core_oldest(const loader_core *c) {
  uint32_t oldest = UINT32_MAX;
  for (uint32_t i = 0; i < c->nslots; i++)
    if (c->held[i] && (oldest == UINT32_MAX || c->held_seq[i] < c->held_seq[oldest])) oldest = i;
  return oldest;
}

/* The batch in slot i has been detached: it no longer holds the slot. */
static void core_detached(loader_core *c, uint32_t i) {
  c->held[i] = NULL;
  c->nheld--;
  c->detached++;
}

/* Records the new batch object o as holding `slot` and returns it. With ok
 * == 0 (its host arrays could not be made; an exception is set) it drops o
 * instead, whose dealloc unregisters it and hands the slot back, and returns
 * NULL. */
static PyObject *core_hand_out(loader_core *c, uint32_t slot, PyObject *o, int ok) {
  c->held[slot] = o;
  c->held_seq[slot] = c->seq++;
  c->nheld++;
  if (!ok) {
    Py_DECREF(o);
    return NULL;
  }
  return o;
}

/* A batch's dealloc, while it is still attached to `slot`: unregisters it. */
static void core_forget(loader_core *c, uint32_t slot, PyObject *o) {
  if (slot < c->nslots && c->held[slot] == o) {
    c->held[slot] = NULL;
    c->nheld--;
  }
}

/* Waits until the next batch (or the epoch's end) is ready: 50 ms slices with
 * the GIL released and signal handlers run between them, so Ctrl-C raises
 * KeyboardInterrupt promptly. Sets busy. Returns 1 when ready (busy still
 * set: the caller clears it after its next call), 0 with the handler's
 * exception set and busy cleared (the loader stays usable). */
static int core_wait(loader_core *c, void *l, const loader_ops *ops) {
  c->busy = 1;
  for (;;) {
    int ready;
    Py_BEGIN_ALLOW_THREADS
    ready = ops->wait(l, 50);
    Py_END_ALLOW_THREADS
    if (ready) return 1;
    if (PyErr_CheckSignals() < 0) {
      c->busy = 0;
      return 0;
    }
  }
}

/* set_epoch(epoch, start_batch=0). */
static PyObject *core_set_epoch(loader_core *c, void *l, const loader_ops *ops, PyObject *args) {
  unsigned long long epoch, start = 0;
  if (!PyArg_ParseTuple(args, "K|K", &epoch, &start)) return NULL;
  if (!core_check(c, l, ops)) return NULL;
  pv_status st;
  Py_BEGIN_ALLOW_THREADS
  st = ops->set_epoch(l, epoch, start);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) return raise_status(st, ops->last_error(l));
  Py_RETURN_NONE;
}

/* close(): stops producing by moving to the end of epoch 0, so the workers go
 * idle; held batches stay valid. The C loader is destroyed when the last
 * batch and the loader object are gone. */
static PyObject *core_close(loader_core *c, void *l, const loader_ops *ops) {
  if (l && !c->closed) {
    if (c->busy) {
      PyErr_SetString(PyExc_RuntimeError, "close() while another thread iterates");
      return NULL;
    }
    uint64_t nb = ops->batches_per_epoch(l);
    Py_BEGIN_ALLOW_THREADS
    ops->set_epoch(l, 0, nb);
    Py_END_ALLOW_THREADS
    c->closed = 1;
  }
  Py_RETURN_NONE;
}

static int check_keys(PyObject *d, const char *const *extra);

/* The common start of Loader/CudaLoader.__init__(dataset, options): parses
 * the arguments and refuses a second __init__ (l already set), a Dataset that
 * is not open and option keys outside LOADER_KEYS and `extra`. */
static int loader_init_args(PyObject *args, PyObject *kw, const void *l, const loader_ops *ops,
                            const char *const *extra, PyObject **ds, PyObject **d) {
  static char *kwlist[] = {"dataset", "options", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!", kwlist, &DatasetType, ds, &PyDict_Type, d))
    return 0;
  if (l) {
    PyErr_Format(PyExc_RuntimeError, "%s is already initialised", ops->type_name);
    return 0;
  }
  return dataset_check((DatasetObject *)*ds) && check_keys(*d, extra);
}

/* What a Batch and a CudaBatch both carry besides their image buffers: the
 * host copies of the labels and record numbers, and provenance. */
typedef struct {
  PyObject *labels;      /* bytearray of count int64 */
  PyObject *records;     /* bytearray of count uint64 */
  uint64_t epoch, index;
  uint32_t count, replaced;
  int owned;             /* detached: the buffers are the batch's to free */
} batch_meta;

/* Fills m for a batch just handed out (attached: owned = 0). Returns 0 with
 * an exception set if a host array could not be made; both pointers are set
 * either way, and batch_meta_clear (from the dealloc) drops what was made. */
static int batch_meta_init(batch_meta *m, uint64_t epoch, uint64_t index, uint32_t count,
                           uint32_t replaced, const int64_t *labels, const uint64_t *records) {
  m->epoch = epoch;
  m->index = index;
  m->count = count;
  m->replaced = replaced;
  m->owned = 0;
  m->labels =
      PyByteArray_FromStringAndSize((const char *)labels, (Py_ssize_t)(count * sizeof *labels));
  m->records =
      PyByteArray_FromStringAndSize((const char *)records, (Py_ssize_t)(count * sizeof *records));
  return m->labels && m->records;
}

static void batch_meta_clear(batch_meta *m) {
  Py_XDECREF(m->labels);
  Py_XDECREF(m->records);
}

/* The getters both batch types share, by closure number: 0 labels, 1 records,
 * 2 epoch, 3 index, 4 count, 5 replaced, 6 detached. */
static PyObject *batch_meta_get(const batch_meta *m, intptr_t which) {
  switch (which) {
    case 0: return Py_NewRef(m->labels);
    case 1: return Py_NewRef(m->records);
    case 2: return PyLong_FromUnsignedLongLong(m->epoch);
    case 3: return PyLong_FromUnsignedLongLong(m->index);
    case 4: return PyLong_FromUnsignedLong(m->count);
    case 5: return PyLong_FromUnsignedLong(m->replaced);
    case 6: return PyBool_FromLong(m->owned);
    default: Py_RETURN_NONE;
  }
}

/* The image array shape of a batch: (count, 3, h, w) NCHW or (count, h, w, 3). */
static void image_shape(pv_layout layout, uint32_t count, uint32_t height, uint32_t width,
                        int64_t shape[4]) {
  shape[0] = count;
  if (layout == PV_LAYOUT_NCHW) {
    shape[1] = 3;
    shape[2] = height;
    shape[3] = width;
  } else {
    shape[1] = height;
    shape[2] = width;
    shape[3] = 3;
  }
}

/* ---- Loader and Batch -------------------------------------------------------- */

typedef struct BatchObject BatchObject;

typedef struct {
  PyObject_HEAD pv_loader *l;
  PyObject *dataset;     /* DatasetObject, kept alive */
  loader_core core;      /* held: the live Batch objects */
  pv_loader_options o;
} LoaderObject;

/* loader_ops over pv_loader. */
static int cpu_wait(void *l, unsigned ms) { return pv_loader_wait(l, ms); }
static pv_status cpu_set_epoch(void *l, uint64_t e, uint64_t s) {
  return pv_loader_set_epoch(l, e, s);
}
static uint64_t cpu_batches(const void *l) { return pv_loader_batches_per_epoch(l); }
static const char *cpu_last_error(const void *l) { return pv_loader_last_error(l); }
static const loader_ops cpu_ops = {"Loader", cpu_wait, cpu_set_epoch, cpu_batches,
                                   cpu_last_error};

struct BatchObject {
  PyObject_HEAD LoaderObject *loader; /* strong reference */
  pv_batch *batch;        /* while attached to a ring slot; NULL once detached */
  void *data;             /* the image buffer (the slot's, or our own) */
  batch_meta meta;        /* meta.owned: data is ours to free */
  Py_ssize_t nbytes;      /* bytes of the `count` samples */
  Py_ssize_t shape[4], strides[4];
  int itemsize;
  char format[2];
  Py_ssize_t exports;     /* live buffer-protocol views */
};

static PyTypeObject BatchType;

static void Loader_dealloc(LoaderObject *self) {
  /* Every Batch holds a reference, so none is alive here. */
  pv_loader_destroy(self->l);
  core_free(&self->core);
  Py_XDECREF(self->dataset);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Reads an optional numeric option from the dict. */
static int opt_u64(PyObject *d, const char *k, uint64_t *v) {
  PyObject *x = PyDict_GetItemString(d, k);
  if (!x) return 1;
  unsigned long long u = PyLong_AsUnsignedLongLong(x);
  if (PyErr_Occurred()) return 0;
  *v = u;
  return 1;
}
static int opt_int(PyObject *d, const char *k, int *v) {
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
static int opt_u32(PyObject *d, const char *k, uint32_t *v) {
  uint64_t u = *v;
  if (!opt_u64(d, k, &u)) return 0;
  if (u > UINT32_MAX) {
    PyErr_Format(PyExc_OverflowError, "option %s out of range", k);
    return 0;
  }
  *v = (uint32_t)u;
  return 1;
}
static int opt_double(PyObject *d, const char *k, double *v) {
  PyObject *x = PyDict_GetItemString(d, k);
  if (!x) return 1;
  double u = PyFloat_AsDouble(x);
  if (PyErr_Occurred()) return 0;
  *v = u;
  return 1;
}
static int opt_float3(PyObject *d, const char *k, float v[3]) {
  PyObject *x = PyDict_GetItemString(d, k);
  if (!x) return 1;
  PyObject *seq = PySequence_Fast(x, "mean and std must be sequences of 3 numbers");
  if (!seq) return 0;
  if (PySequence_Fast_GET_SIZE(seq) != 3) {
    Py_DECREF(seq);
    PyErr_Format(PyExc_ValueError, "%s must have 3 values", k);
    return 0;
  }
  for (int c = 0; c < 3; c++) {
    double u = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, c));
    if (PyErr_Occurred()) {
      Py_DECREF(seq);
      return 0;
    }
    v[c] = (float)u;
  }
  Py_DECREF(seq);
  return 1;
}

static const char *const LOADER_KEYS[] = {
    "batch_size", "height", "width", "pipeline", "eval_resize", "scale_min", "scale_max",
    "ratio_min", "ratio_max", "flip_prob", "filter", "threads", "prefetch", "seed", "epoch",
    "start_batch", "drop_last", "order", "block_records", "block_group", "rank", "world_size",
    "rank_drop", "layout", "dtype", "mean", "std", "on_error", "verify_checksums", "hold_limit",
    NULL};

static int parse_loader_options(PyObject *d, pv_loader_options *op, int *holdp, int *layoutp,
                                int *dtypep);

static int Loader_init(LoaderObject *self, PyObject *args, PyObject *kw) {
  PyObject *ds, *d;
  if (!loader_init_args(args, kw, self->l, &cpu_ops, NULL, &ds, &d)) return -1;
  pv_loader_options o;
  int hold = -1, layout = 0, dtype = 0;
  if (!parse_loader_options(d, &o, &hold, &layout, &dtype)) return -1;
  o.layout = (pv_layout)layout;
  o.dtype = (pv_dtype)dtype;
  char err[512] = "";
  pv_status st;
  pv_dataset *pds = ((DatasetObject *)ds)->ds;
  pv_loader *l = NULL;
  Py_BEGIN_ALLOW_THREADS
  st = pv_loader_create(pds, &o, &l, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) {
    raise_status(st, err);
    return -1;
  }
  self->l = l;
  self->o = o;
  self->dataset = Py_NewRef(ds);
  return core_init(&self->core, o.prefetch, hold) ? 0 : -1;
}

/* Default: keep half the ring for the producer (at least one slot). */
static uint32_t default_hold_limit(int hold, uint32_t ring) {
  uint32_t def = ring / 2, lim;
  if (def > ring - 1) def = ring - 1;
  lim = hold < 0 ? def : (uint32_t)hold;
  return lim > ring - 1 ? ring - 1 : lim;
}

/* Refuses keys outside LOADER_KEYS and `extra` (programming errors in the
 * Python layer). */
static int check_keys(PyObject *d, const char *const *extra) {
  PyObject *key;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &key, NULL)) {
    const char *k = PyUnicode_AsUTF8(key);
    if (!k) return 0;
    int known = 0;
    for (int i = 0; LOADER_KEYS[i]; i++) known |= !strcmp(k, LOADER_KEYS[i]);
    for (int i = 0; extra && extra[i]; i++) known |= !strcmp(k, extra[i]);
    if (!known) {
      PyErr_Format(PyExc_TypeError, "unknown loader option %R", key);
      return 0;
    }
  }
  return 1;
}

/* The pv_loader_options of the dict (LOADER_KEYS); layout and dtype are
 * returned as ints (the CPU and the CUDA loader number them alike). */
static int parse_loader_options(PyObject *d, pv_loader_options *op, int *holdp, int *layoutp,
                                int *dtypep) {
  pv_loader_options o;
  pv_loader_options_init(&o);
  int pipeline = (int)o.pipeline, order = (int)o.order, layout = (int)o.layout,
      dtype = (int)o.dtype, on_error = (int)o.on_error, hold = -1;
  if (!opt_u32(d, "batch_size", &o.batch_size) || !opt_u32(d, "height", &o.height) ||
      !opt_u32(d, "width", &o.width) || !opt_int(d, "pipeline", &pipeline) ||
      !opt_u32(d, "eval_resize", &o.eval_resize) || !opt_double(d, "scale_min", &o.scale_min) ||
      !opt_double(d, "scale_max", &o.scale_max) || !opt_double(d, "ratio_min", &o.ratio_min) ||
      !opt_double(d, "ratio_max", &o.ratio_max) || !opt_double(d, "flip_prob", &o.flip_prob) ||
      !opt_int(d, "filter", &o.filter) || !opt_int(d, "threads", &o.threads) ||
      !opt_u32(d, "prefetch", &o.prefetch) || !opt_u64(d, "seed", &o.seed) ||
      !opt_u64(d, "epoch", &o.epoch) || !opt_u64(d, "start_batch", &o.start_batch) ||
      !opt_int(d, "drop_last", &o.drop_last) || !opt_int(d, "order", &order) ||
      !opt_u32(d, "block_records", &o.block_records) ||
      !opt_u32(d, "block_group", &o.block_group) || !opt_int(d, "rank", &o.rank) ||
      !opt_int(d, "world_size", &o.world_size) || !opt_int(d, "rank_drop", &o.rank_drop) ||
      !opt_int(d, "layout", &layout) || !opt_int(d, "dtype", &dtype) ||
      !opt_float3(d, "mean", o.mean) || !opt_float3(d, "std", o.std) ||
      !opt_int(d, "on_error", &on_error) || !opt_int(d, "verify_checksums", &o.verify_checksums) ||
      !opt_int(d, "hold_limit", &hold))
    return 0;
  if (pipeline < 0 || order < 0 || layout < 0 || dtype < 0 || on_error < 0) {
    PyErr_SetString(PyExc_ValueError, "negative enum option");
    return 0;
  }
  if (hold < -1) { /* -1: the default */
    PyErr_Format(PyExc_ValueError, "hold_limit must be >= 0 (or None), not %d", hold);
    return 0;
  }
  o.pipeline = (pv_pipeline)pipeline;
  o.order = (pv_order)order;
  o.on_error = (pv_on_error)on_error;
  *op = o;
  *holdp = hold;
  *layoutp = layout;
  *dtypep = dtype;
  return 1;
}

static int loader_check(LoaderObject *self) { return core_check(&self->core, self->l, &cpu_ops); }

/* Detaches the Batch attached to ring slot i: it keeps its pointer and its
 * bytes, which now belong to it. Returns 0 with an exception set on failure. */
static int detach_slot(LoaderObject *self, uint32_t i) {
  BatchObject *b = (BatchObject *)self->core.held[i];
  void *images = NULL;
  pv_status st = pv_loader_detach(self->l, b->batch, &images);
  if (st != PV_OK) {
    raise_status(st, pv_loader_last_error(self->l));
    return 0;
  }
  b->meta.owned = 1;
  b->batch = NULL;
  core_detached(&self->core, i);
  return 1;
}

/* Fills the array geometry of a Batch from the pv_batch. */
static void batch_geometry(BatchObject *o, const pv_batch *b) {
  o->itemsize = b->dtype == PV_DTYPE_FLOAT32 ? 4 : 1;
  o->format[0] = b->dtype == PV_DTYPE_FLOAT32 ? 'f' : 'B';
  o->format[1] = 0;
  int64_t shape[4];
  image_shape(b->layout, b->count, b->height, b->width, shape);
  for (int k = 0; k < 4; k++) o->shape[k] = (Py_ssize_t)shape[k];
  o->strides[3] = o->itemsize;
  for (int k = 2; k >= 0; k--) o->strides[k] = o->strides[k + 1] * o->shape[k + 1];
  o->nbytes = o->strides[0] * o->shape[0];
}

/* next() -> Batch, or None at the end of the epoch. */
static PyObject *Loader_next(LoaderObject *self, PyObject *unused) {
  if (!loader_check(self)) return NULL;
  /* Keep the ring fed: detach the oldest live batches beyond hold_limit. */
  while (self->core.nheld > self->core.hold_limit)
    if (!detach_slot(self, core_oldest(&self->core))) return NULL;
  if (!core_wait(&self->core, self->l, &cpu_ops)) return NULL;
  pv_batch *b = NULL;
  pv_status st = pv_loader_next(self->l, &b);
  self->core.busy = 0;
  if (st != PV_OK) return raise_status(st, pv_loader_last_error(self->l));
  if (!b) Py_RETURN_NONE;
  BatchObject *o = PyObject_New(BatchObject, &BatchType);
  if (!o) {
    pv_loader_release(self->l, b);
    return NULL;
  }
  o->loader = (LoaderObject *)Py_NewRef(self);
  o->batch = b;
  o->data = b->images;
  o->exports = 0;
  batch_geometry(o, b);
  int ok = batch_meta_init(&o->meta, b->epoch, b->index, b->count, b->replaced, b->labels,
                           b->records);
  return core_hand_out(&self->core, b->slot, (PyObject *)o, ok);
}

static PyObject *Loader_set_epoch(LoaderObject *self, PyObject *args) {
  return core_set_epoch(&self->core, self->l, &cpu_ops, args);
}

static PyObject *Loader_close(LoaderObject *self, PyObject *unused) {
  return core_close(&self->core, self->l, &cpu_ops);
}

static PyObject *Loader_sample_record(LoaderObject *self, PyObject *args) {
  unsigned long long epoch, k;
  if (!PyArg_ParseTuple(args, "KK", &epoch, &k)) return NULL;
  if (!self->l) return loader_check(self), NULL;
  uint64_t r = pv_loader_sample_record(self->l, epoch, k);
  if (r == UINT64_MAX) {
    PyErr_Format(PyExc_IndexError, "sample %llu out of range", k);
    return NULL;
  }
  return PyLong_FromUnsignedLongLong(r);
}

static PyObject *Loader_stats(LoaderObject *self, PyObject *unused) {
  if (!self->l) return loader_check(self), NULL;
  pv_loader_stats s;
  pv_loader_get_stats(self->l, &s);
  return Py_BuildValue("{s:K,s:K,s:d,s:d,s:d,s:K,s:I}", "samples", (unsigned long long)s.samples,
                       "replaced", (unsigned long long)s.replaced, "decode_resize_s",
                       s.decode_resize_s, "convert_s", s.convert_s, "wait_s", s.wait_s,
                       "detached", (unsigned long long)self->core.detached, "held",
                       self->core.nheld);
}

static PyObject *Loader_get_u64(LoaderObject *self, void *closure) {
  if (!self->l) return loader_check(self), NULL;
  uint64_t v = closure ? pv_loader_samples_per_epoch(self->l) : pv_loader_batches_per_epoch(self->l);
  return PyLong_FromUnsignedLongLong(v);
}

static PyObject *Loader_get_hold_limit(LoaderObject *self, void *closure) {
  return PyLong_FromUnsignedLong(self->core.hold_limit);
}

static PyMethodDef Loader_methods[] = {
    {"next", (PyCFunction)Loader_next, METH_NOARGS, "next() -> Batch, or None at epoch end"},
    {"set_epoch", (PyCFunction)Loader_set_epoch, METH_VARARGS,
     "set_epoch(epoch, start_batch=0): restart at batch start_batch of epoch"},
    {"close", (PyCFunction)Loader_close, METH_NOARGS, "stop the workers' work"},
    {"sample_record", (PyCFunction)Loader_sample_record, METH_VARARGS,
     "sample_record(epoch, k) -> record of this rank's k-th sample"},
    {"stats", (PyCFunction)Loader_stats, METH_NOARGS, "stats() -> dict"},
    {NULL}};

static PyGetSetDef Loader_getset[] = {
    {"batches_per_epoch", (getter)Loader_get_u64, NULL, "batches per epoch, this rank", NULL},
    {"samples_per_epoch", (getter)Loader_get_u64, NULL, "samples per epoch, this rank",
     (void *)1},
    {"hold_limit", (getter)Loader_get_hold_limit, NULL,
     "batches user code may keep attached to the ring before next() detaches", NULL},
    {NULL}};

static PyTypeObject LoaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.Loader",
    .tp_basicsize = sizeof(LoaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Loader(dataset, options: dict): a pv_loader (low level; use pvpack.Loader)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Loader_init,
    .tp_dealloc = (destructor)Loader_dealloc,
    .tp_methods = Loader_methods,
    .tp_getset = Loader_getset,
};

/* ---- Batch: buffer protocol and DLPack ----------------------------------------- */

static void Batch_dealloc(BatchObject *self) {
  LoaderObject *l = self->loader;
  if (l) {
    if (self->batch) {
      core_forget(&l->core, self->batch->slot, (PyObject *)self);
      pv_loader_release(l->l, self->batch);
    } else if (self->meta.owned) {
      pv_loader_free_detached(l->l, self->data);
    }
  }
  batch_meta_clear(&self->meta);
  Py_XDECREF(l);
  PyObject_Free(self);
}

static int Batch_getbuffer(BatchObject *self, Py_buffer *view, int flags) {
  if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && self->meta.count > 1) {
    PyErr_SetString(PyExc_BufferError, "batch images are C-contiguous");
    return -1;
  }
  view->obj = Py_NewRef(self);
  view->buf = self->data;
  view->len = self->nbytes;
  view->readonly = 0;
  view->itemsize = self->itemsize;
  view->format = (flags & PyBUF_FORMAT) ? self->format : NULL;
  view->ndim = 4;
  view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) == PyBUF_STRIDES ? self->strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  if (!(flags & PyBUF_ND)) { /* plain bytes */
    view->ndim = 1;
    view->itemsize = 1;
    view->format = NULL;
  }
  self->exports++;
  return 0;
}

static void Batch_releasebuffer(BatchObject *self, Py_buffer *view) { self->exports--; }

static PyBufferProcs Batch_as_buffer = {(getbufferproc)Batch_getbuffer,
                                        (releasebufferproc)Batch_releasebuffer};

/* The DLPack manager context: shape storage and the Batch reference. */
typedef struct dl_ctx {
  int64_t shape[4];
  PyObject *owner; /* the Batch / CudaBatch whose memory the tensor views */
} dl_ctx;

static void dl_release_owner(dl_ctx *c) {
  /* Consumers may call the deleter from any thread, without the GIL. */
  PyGILState_STATE g = PyGILState_Ensure();
  Py_XDECREF(c->owner);
  PyGILState_Release(g);
  PyMem_RawFree(c);
}

static void dl_deleter(pv_DLManagedTensor *t) {
  dl_release_owner(t->manager_ctx);
  PyMem_RawFree(t);
}

static void dl_deleter_versioned(pv_DLManagedTensorVersioned *t) {
  dl_release_owner(t->manager_ctx);
  PyMem_RawFree(t);
}

static void dl_capsule_destructor(PyObject *cap) {
  /* Never consumed: the producer's deleter runs. A consumed capsule is
   * renamed "used_dltensor[_versioned]" and left alone. */
  if (PyCapsule_IsValid(cap, "dltensor")) {
    pv_DLManagedTensor *t = PyCapsule_GetPointer(cap, "dltensor");
    t->deleter(t);
  } else if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
    pv_DLManagedTensorVersioned *t = PyCapsule_GetPointer(cap, "dltensor_versioned");
    t->deleter(t);
  } else {
    PyErr_Clear();
  }
}

/* The keyword arguments of __dlpack__ (Batch and DeviceArray alike); each
 * type checks them in its own order. */
typedef struct {
  PyObject *stream, *max_version, *dl_device, *copy;
} dl_args;

static int dl_parse_args(PyObject *args, PyObject *kw, dl_args *a) {
  static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
  a->stream = a->max_version = a->dl_device = a->copy = Py_None;
  return PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO", kwlist, &a->stream, &a->max_version,
                                     &a->dl_device, &a->copy);
}

/* Whether the consumer's max_version allows the versioned capsule (major >=
 * 1); 0 with an exception set on a bad value. */
static int dl_versioned(PyObject *max_version, int *versioned) {
  *versioned = 0;
  if (max_version != Py_None) {
    long major = -1;
    if (PyTuple_Check(max_version) && PyTuple_GET_SIZE(max_version) >= 1)
      major = PyLong_AsLong(PyTuple_GET_ITEM(max_version, 0));
    if (PyErr_Occurred()) return 0;
    *versioned = major >= 1;
  }
  return 1;
}

/* Allocates a managed tensor, versioned or not (*mt), whose manager context
 * (*ctxp: shape storage) holds a new reference to owner. Returns its
 * DLTensor for the caller to fill (zeroed), or NULL with MemoryError set and
 * nothing held. Hand *mt to dl_capsule next. */
static pv_DLTensor *dl_alloc(PyObject *owner, int versioned, void **mt, dl_ctx **ctxp) {
  dl_ctx *c = PyMem_RawMalloc(sizeof *c);
  if (!c) {
    PyErr_NoMemory();
    return NULL;
  }
  c->owner = Py_NewRef(owner);
  pv_DLTensor *t = NULL;
  if (versioned) {
    pv_DLManagedTensorVersioned *v = PyMem_RawCalloc(1, sizeof *v);
    if (v) {
      v->version.major = 1;
      v->version.minor = 0;
      v->manager_ctx = c;
      v->deleter = dl_deleter_versioned;
      v->flags = 0;
      t = &v->dl_tensor;
    }
    *mt = v;
  } else {
    pv_DLManagedTensor *v = PyMem_RawCalloc(1, sizeof *v);
    if (v) {
      v->manager_ctx = c;
      v->deleter = dl_deleter;
      t = &v->dl_tensor;
    }
    *mt = v;
  }
  if (!t) {
    Py_DECREF(owner);
    PyMem_RawFree(c);
    PyErr_NoMemory();
    return NULL;
  }
  *ctxp = c;
  return t;
}

/* Wraps the managed tensor of dl_alloc in a "dltensor[_versioned]" capsule;
 * if that fails, runs its deleter (dropping the owner) and returns NULL. */
static PyObject *dl_capsule(void *mt, int versioned) {
  PyObject *cap =
      PyCapsule_New(mt, versioned ? "dltensor_versioned" : "dltensor", dl_capsule_destructor);
  if (!cap) {
    if (versioned)
      dl_deleter_versioned(mt);
    else
      dl_deleter(mt);
  }
  return cap;
}

static void fill_dltensor(BatchObject *self, dl_ctx *c, pv_DLTensor *t) {
  for (int k = 0; k < 4; k++) c->shape[k] = self->shape[k];
  t->data = self->data;
  t->device.device_type = PV_DL_CPU;
  t->device.device_id = 0;
  t->ndim = 4;
  t->dtype.code = self->itemsize == 4 ? 2 : 1; /* kDLFloat : kDLUInt */
  t->dtype.bits = (uint8_t)(self->itemsize * 8);
  t->dtype.lanes = 1;
  t->shape = c->shape;
  t->strides = NULL; /* compact row-major */
  t->byte_offset = 0;
}

static PyObject *Batch_dlpack(BatchObject *self, PyObject *args, PyObject *kw) {
  dl_args a;
  if (!dl_parse_args(args, kw, &a)) return NULL;
  if (a.stream != Py_None) {
    PyErr_SetString(PyExc_BufferError, "a CPU batch takes no stream (stream must be None)");
    return NULL;
  }
  if (a.copy == Py_True) {
    PyErr_SetString(PyExc_BufferError, "pvpack batches are exported without copies (copy=True)");
    return NULL;
  }
  int versioned;
  if (!dl_versioned(a.max_version, &versioned)) return NULL;
  void *mt;
  dl_ctx *c;
  pv_DLTensor *t = dl_alloc((PyObject *)self, versioned, &mt, &c);
  if (!t) return NULL;
  fill_dltensor(self, c, t);
  return dl_capsule(mt, versioned);
}

static PyObject *Batch_dlpack_device(BatchObject *self, PyObject *unused) {
  return Py_BuildValue("(ii)", PV_DL_CPU, 0);
}

static PyObject *Batch_get(BatchObject *self, void *closure) {
  switch ((intptr_t)closure) {
    case 7:
      return Py_BuildValue("(nnnn)", self->shape[0], self->shape[1], self->shape[2],
                           self->shape[3]);
    case 8: return PyUnicode_FromString(self->itemsize == 4 ? "float32" : "uint8");
    default: return batch_meta_get(&self->meta, (intptr_t)closure);
  }
}

static PyObject *Batch_address(BatchObject *self, void *closure) {
  return PyLong_FromVoidPtr(self->data);
}

static PyMethodDef Batch_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))Batch_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None) -> PyCapsule"},
    {"__dlpack_device__", (PyCFunction)Batch_dlpack_device, METH_NOARGS,
     "__dlpack_device__() -> (device_type, device_id): (1, 0), the CPU"},
    {NULL}};

static PyGetSetDef Batch_getset[] = {
    {"labels", (getter)Batch_get, NULL, "bytearray of count int64 labels", (void *)0},
    {"records", (getter)Batch_get, NULL, "bytearray of count uint64 record numbers", (void *)1},
    {"epoch", (getter)Batch_get, NULL, "epoch of this batch", (void *)2},
    {"index", (getter)Batch_get, NULL, "batch number within the epoch", (void *)3},
    {"count", (getter)Batch_get, NULL, "samples in this batch", (void *)4},
    {"replaced", (getter)Batch_get, NULL, "samples replaced after errors", (void *)5},
    {"detached", (getter)Batch_get, NULL, "buffer owned by this batch (left the ring)", (void *)6},
    {"shape", (getter)Batch_get, NULL, "image array shape", (void *)7},
    {"dtype", (getter)Batch_get, NULL, "'uint8' or 'float32'", (void *)8},
    {"address", (getter)Batch_address, NULL, "address of the image buffer (for tests)", NULL},
    {NULL}};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One batch's images (buffer protocol and DLPack), labels and provenance",
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_as_buffer = &Batch_as_buffer,
    .tp_methods = Batch_methods,
    .tp_getset = Batch_getset,
};

/* ---- CudaLoader, CudaBatch, DeviceArray: the GPU path (pvpack_cuda.h) ----------
 *
 * CudaLoader(dataset, options) wraps a pv_cuda_loader. next(stream) waits
 * for the next batch in 50 ms slices (pv_cuda_loader_wait, GIL released,
 * signals checked between) and calls pv_cuda_loader_next(l, stream): the
 * batch is ready on `stream` (an int, a cudaStream_t; 0 = legacy default).
 *
 * A CudaBatch owns one device batch. It exports two DeviceArray objects
 * (images, labels) that implement __dlpack__ / __dlpack_device__ with
 * device type kDLCUDA; every capsule and every tensor a consumer makes from
 * one holds a reference to the CudaBatch.
 *
 * Streams. The batch is ready on the stream given to next() (its "batch
 * stream"). __dlpack__(stream=s) with another s makes s wait for the batch
 * stream (pv_cuda_stream_wait) and remembers s. When the last view dies,
 * the CudaBatch makes the batch stream wait for every remembered consumer
 * stream, then hands the slot back with pv_cuda_loader_release(batch
 * stream): the buffers are refilled only after the reads enqueued so far on
 * the batch stream and on every stream that imported the batch. Reads
 * enqueued on an unrelated stream, which never went through __dlpack__,
 * are the caller's to order (as with torch's caching allocator and
 * Tensor.record_stream); the deleter does not look up "the current stream"
 * because it may run on any thread, in any stream context.
 *
 * Kept batches. The device ring has `depth` slots. Before next() the
 * oldest batches still alive beyond hold_limit are detached
 * (pv_cuda_loader_detach): their buffers become theirs (same addresses, so
 * existing tensors stay valid) and the slot gets new ones. A detached
 * batch's buffers are freed (pv_cuda_loader_free_detached, after waiting
 * for the batch and consumer streams) when its last view dies.
 */

#define PV_DL_CUDA 2
#define PV_MAX_CONSUMER_STREAMS 8

typedef struct CudaBatchObject CudaBatchObject;

typedef struct {
  PyObject_HEAD pv_cuda_loader *l;
  PyObject *dataset;
  loader_core core; /* held: the live CudaBatch objects, per device slot */
  int device;
  pv_cuda_dtype dtype;
} CudaLoaderObject;

/* loader_ops over pv_cuda_loader. */
static int cuda_wait(void *l, unsigned ms) { return pv_cuda_loader_wait(l, ms); }
static pv_status cuda_set_epoch(void *l, uint64_t e, uint64_t s) {
  return pv_cuda_loader_set_epoch(l, e, s);
}
static uint64_t cuda_batches(const void *l) { return pv_cuda_loader_batches_per_epoch(l); }
static const char *cuda_last_error(const void *l) { return pv_cuda_loader_last_error(l); }
static const loader_ops cuda_ops = {"CudaLoader", cuda_wait, cuda_set_epoch, cuda_batches,
                                    cuda_last_error};

struct CudaBatchObject {
  PyObject_HEAD CudaLoaderObject *loader; /* strong reference */
  pv_cuda_batch *batch;   /* while attached to a slot; NULL once detached */
  void *images;
  int64_t *dlabels;
  batch_meta meta;        /* meta.owned: images/dlabels are ours to free */
  void *stream;           /* the stream passed to next() */
  void *consumers[PV_MAX_CONSUMER_STREAMS];
  int nconsumers;
  int64_t shape[4];
  pv_DLDataType dtype;
  size_t itemsize;
};

typedef struct {
  PyObject_HEAD CudaBatchObject *owner;
  int part; /* 0 images, 1 labels */
} DeviceArrayObject;

static PyTypeObject CudaLoaderType, CudaBatchType, DeviceArrayType;

static void CudaLoader_dealloc(CudaLoaderObject *self) {
  /* Every CudaBatch holds a reference: none is alive here. */
  if (self->l) {
    Py_BEGIN_ALLOW_THREADS
    pv_cuda_loader_destroy(self->l);
    Py_END_ALLOW_THREADS
  }
  core_free(&self->core);
  Py_XDECREF(self->dataset);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static const char *const CUDA_KEYS[] = {"device", "depth", "host_memory", "max_pinned_bytes",
                                        "max_device_bytes", NULL};

static int CudaLoader_init(CudaLoaderObject *self, PyObject *args, PyObject *kw) {
  PyObject *ds, *d;
  if (!loader_init_args(args, kw, self->l, &cuda_ops, CUDA_KEYS, &ds, &d)) return -1;
  pv_cuda_loader_options o;
  pv_cuda_loader_options_init(&o);
  int hold = -1, layout = (int)o.layout, dtype = (int)o.dtype, host_memory = (int)o.host_memory;
  uint64_t maxp = 0, maxd = 0;
  /* mean/std: parse_loader_options fills the CPU loader's (ImageNet default
   * when absent), which are copied to the CUDA options below. */
  if (!parse_loader_options(d, &o.loader, &hold, &layout, &dtype) ||
      !opt_int(d, "device", &o.device) || !opt_u32(d, "depth", &o.depth) ||
      !opt_int(d, "host_memory", &host_memory) || !opt_u64(d, "max_pinned_bytes", &maxp) ||
      !opt_u64(d, "max_device_bytes", &maxd))
    return -1;
  if (PyDict_GetItemString(d, "layout") == NULL) layout = (int)PV_LAYOUT_NCHW;
  if (PyDict_GetItemString(d, "dtype") == NULL) dtype = (int)PV_CUDA_FLOAT32;
  if (layout < 0 || layout > 1 || dtype < 0 || dtype > 3 || host_memory < 0 || host_memory > 2) {
    PyErr_SetString(PyExc_ValueError, "bad layout, dtype or host_memory value");
    return -1;
  }
  o.layout = (pv_layout)layout;
  o.dtype = (pv_cuda_dtype)dtype;
  o.host_memory = (pv_cuda_host_memory)host_memory;
  o.max_pinned_bytes = (size_t)maxp;
  o.max_device_bytes = (size_t)maxd;
  memcpy(o.mean, o.loader.mean, sizeof o.mean);
  memcpy(o.std, o.loader.std, sizeof o.std);
  char err[512] = "";
  pv_status st;
  pv_cuda_loader *l = NULL;
  pv_dataset *pds = ((DatasetObject *)ds)->ds;
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_loader_create(pds, &o, &l, err, sizeof err);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) {
    raise_status(st, err);
    return -1;
  }
  self->l = l;
  self->dataset = Py_NewRef(ds);
  self->device = pv_cuda_loader_device(l);
  self->dtype = o.dtype;
  return core_init(&self->core, o.depth, hold) ? 0 : -1;
}

static int cuda_loader_check(CudaLoaderObject *self) {
  return core_check(&self->core, self->l, &cuda_ops);
}

/* Detaches the CudaBatch attached to slot i (its buffers become its own). */
static int cuda_detach_slot(CudaLoaderObject *self, uint32_t i) {
  CudaBatchObject *b = (CudaBatchObject *)self->core.held[i];
  void *images = NULL;
  int64_t *labels = NULL;
  pv_status st;
  /* held[] is a borrowed reference: keep b alive while the GIL is released,
   * so that another thread dropping its last view cannot release the slot
   * in the middle of the detach. */
  Py_INCREF(b);
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_loader_detach(self->l, b->batch, &images, &labels);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) {
    Py_DECREF(b);
    raise_status(st, pv_cuda_loader_last_error(self->l));
    return 0;
  }
  assert(images == b->images && labels == b->dlabels);
  b->meta.owned = 1;
  b->batch = NULL;
  core_detached(&self->core, i);
  Py_DECREF(b); /* may free the detached buffers now */
  return 1;
}

/* Parses a stream argument: an int (a cudaStream_t) or None (0). */
static int parse_stream(PyObject *o, void **out) {
  if (o == Py_None) {
    *out = NULL;
    return 1;
  }
  void *p = PyLong_AsVoidPtr(o);
  if (!p && PyErr_Occurred()) return 0;
  *out = p;
  return 1;
}

/* next(stream=0) -> CudaBatch, or None at the end of the epoch. */
static PyObject *CudaLoader_next(CudaLoaderObject *self, PyObject *args) {
  PyObject *stream_obj = Py_None;
  if (!PyArg_ParseTuple(args, "|O", &stream_obj)) return NULL;
  void *stream;
  if (!parse_stream(stream_obj, &stream) || !cuda_loader_check(self)) return NULL;
  while (self->core.nheld > self->core.hold_limit)
    if (!cuda_detach_slot(self, core_oldest(&self->core))) return NULL;
  if (!core_wait(&self->core, self->l, &cuda_ops)) return NULL;
  pv_cuda_batch *b = NULL;
  pv_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_loader_next(self->l, stream, &b);
  Py_END_ALLOW_THREADS
  self->core.busy = 0;
  if (st != PV_OK) return raise_status(st, pv_cuda_loader_last_error(self->l));
  if (!b) Py_RETURN_NONE;
  CudaBatchObject *o = PyObject_New(CudaBatchObject, &CudaBatchType);
  if (!o) {
    pv_cuda_loader_release(self->l, b, stream);
    return NULL;
  }
  o->loader = (CudaLoaderObject *)Py_NewRef(self);
  o->batch = b;
  o->images = b->images;
  o->dlabels = b->labels;
  o->stream = stream;
  o->nconsumers = 0;
  o->itemsize = pv_cuda_dtype_size(b->dtype);
  static const pv_DLDataType dts[4] = {{1, 8, 1}, {2, 32, 1}, {2, 16, 1}, {4, 16, 1}};
  o->dtype = dts[b->dtype <= 3 ? b->dtype : 0];
  image_shape(b->layout, b->count, b->height, b->width, o->shape);
  int ok = batch_meta_init(&o->meta, b->epoch, b->index, b->count, b->replaced, b->host_labels,
                           b->host_records);
  return core_hand_out(&self->core, b->slot, (PyObject *)o, ok);
}

static PyObject *CudaLoader_set_epoch(CudaLoaderObject *self, PyObject *args) {
  return core_set_epoch(&self->core, self->l, &cuda_ops, args);
}

static PyObject *CudaLoader_close(CudaLoaderObject *self, PyObject *unused) {
  return core_close(&self->core, self->l, &cuda_ops);
}

static PyObject *CudaLoader_stats(CudaLoaderObject *self, PyObject *unused) {
  if (!self->l) return cuda_loader_check(self), NULL;
  pv_cuda_loader_stats s;
  pv_cuda_loader_get_stats(self->l, &s);
  return Py_BuildValue(
      "{s:K,s:K,s:d,s:d,s:d,s:K,s:I,s:K,s:K,s:d,s:d,s:d,s:n,s:n}", "samples",
      (unsigned long long)s.cpu.samples, "replaced", (unsigned long long)s.cpu.replaced,
      "decode_resize_s", s.cpu.decode_resize_s, "convert_s", s.cpu.convert_s, "wait_s", s.wait_s,
      "detached", (unsigned long long)self->core.detached, "held", self->core.nheld, "batches",
      (unsigned long long)s.batches, "h2d_bytes", (unsigned long long)s.h2d_bytes, "h2d_s",
      s.h2d_s, "kernel_s", s.kernel_s, "feeder_wait_s", s.feeder_wait_s, "device_bytes",
      (Py_ssize_t)s.device_bytes, "pinned_bytes", (Py_ssize_t)s.pinned_bytes);
}

static PyObject *CudaLoader_get(CudaLoaderObject *self, void *closure) {
  if (!self->l) return cuda_loader_check(self), NULL;
  switch ((intptr_t)closure) {
    case 0: return PyLong_FromUnsignedLongLong(pv_cuda_loader_batches_per_epoch(self->l));
    case 1: return PyLong_FromUnsignedLongLong(pv_cuda_loader_samples_per_epoch(self->l));
    case 2: return PyLong_FromUnsignedLong(self->core.hold_limit);
    case 3: return PyLong_FromLong(self->device);
    default: return PyLong_FromUnsignedLong(self->core.nslots);
  }
}

static PyMethodDef CudaLoader_methods[] = {
    {"next", (PyCFunction)CudaLoader_next, METH_VARARGS,
     "next(stream=0) -> CudaBatch ready on `stream` (a cudaStream_t as int), or None"},
    {"set_epoch", (PyCFunction)CudaLoader_set_epoch, METH_VARARGS,
     "set_epoch(epoch, start_batch=0)"},
    {"close", (PyCFunction)CudaLoader_close, METH_NOARGS, "stop producing"},
    {"stats", (PyCFunction)CudaLoader_stats, METH_NOARGS, "stats() -> dict"},
    {NULL}};

static PyGetSetDef CudaLoader_getset[] = {
    {"batches_per_epoch", (getter)CudaLoader_get, NULL, "batches per epoch, this rank", NULL},
    {"samples_per_epoch", (getter)CudaLoader_get, NULL, "samples per epoch, this rank",
     (void *)1},
    {"hold_limit", (getter)CudaLoader_get, NULL,
     "batches user code may keep attached to the device ring before next() detaches",
     (void *)2},
    {"device", (getter)CudaLoader_get, NULL, "the CUDA device ordinal", (void *)3},
    {"depth", (getter)CudaLoader_get, NULL, "device ring slots", (void *)4},
    {NULL}};

static PyTypeObject CudaLoaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.CudaLoader",
    .tp_basicsize = sizeof(CudaLoaderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "CudaLoader(dataset, options: dict): a pv_cuda_loader (low level; use "
              "pvpack.Loader(device='cuda'))",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CudaLoader_init,
    .tp_dealloc = (destructor)CudaLoader_dealloc,
    .tp_methods = CudaLoader_methods,
    .tp_getset = CudaLoader_getset,
};

/* The last view is gone: order the hand-back after every stream that read
 * the batch, then release the slot or free the detached buffers. */
static void CudaBatch_dealloc(CudaBatchObject *self) {
  CudaLoaderObject *l = self->loader;
  if (l && l->l) {
    if (self->batch) core_forget(&l->core, self->batch->slot, (PyObject *)self);
    pv_cuda_loader *cl = l->l;
    pv_cuda_batch *b = self->batch;
    Py_BEGIN_ALLOW_THREADS
    for (int i = 0; i < self->nconsumers; i++)
      pv_cuda_stream_wait(cl, self->stream, self->consumers[i]);
    if (b)
      pv_cuda_loader_release(cl, b, self->stream);
    else if (self->meta.owned)
      pv_cuda_loader_free_detached(cl, self->images, self->dlabels, self->stream);
    Py_END_ALLOW_THREADS
  }
  batch_meta_clear(&self->meta);
  Py_XDECREF(l);
  PyObject_Free(self);
}

static PyObject *CudaBatch_get(CudaBatchObject *self, void *closure) {
  static const char *const names[4] = {"uint8", "float32", "float16", "bfloat16"};
  switch ((intptr_t)closure) {
    case 7:
      return Py_BuildValue("(LLLL)", (long long)self->shape[0], (long long)self->shape[1],
                           (long long)self->shape[2], (long long)self->shape[3]);
    case 8: return PyUnicode_FromString(names[self->loader->dtype <= 3 ? self->loader->dtype : 0]);
    case 9: return PyLong_FromLong(self->loader->device);
    case 10: return PyLong_FromVoidPtr(self->stream);
    case 11: return PyLong_FromVoidPtr(self->images);
    case 12: return PyLong_FromVoidPtr(self->dlabels);
    default: return batch_meta_get(&self->meta, (intptr_t)closure);
  }
}

static PyObject *CudaBatch_view(CudaBatchObject *self, void *closure) {
  DeviceArrayObject *v = PyObject_New(DeviceArrayObject, &DeviceArrayType);
  if (!v) return NULL;
  v->owner = (CudaBatchObject *)Py_NewRef(self);
  v->part = (int)(intptr_t)closure;
  return (PyObject *)v;
}

static PyGetSetDef CudaBatch_getset[] = {
    {"images", (getter)CudaBatch_view, NULL,
     "DeviceArray over the image buffer (__dlpack__, kDLCUDA)", (void *)0},
    {"device_labels", (getter)CudaBatch_view, NULL,
     "DeviceArray over the int64 labels in device memory", (void *)1},
    {"labels", (getter)CudaBatch_get, NULL, "bytearray of count int64 labels (host copy)",
     (void *)0},
    {"records", (getter)CudaBatch_get, NULL, "bytearray of count uint64 record numbers",
     (void *)1},
    {"epoch", (getter)CudaBatch_get, NULL, "epoch of this batch", (void *)2},
    {"index", (getter)CudaBatch_get, NULL, "batch number within the epoch", (void *)3},
    {"count", (getter)CudaBatch_get, NULL, "samples in this batch", (void *)4},
    {"replaced", (getter)CudaBatch_get, NULL, "samples replaced after errors", (void *)5},
    {"detached", (getter)CudaBatch_get, NULL, "buffers owned by this batch (left the ring)",
     (void *)6},
    {"shape", (getter)CudaBatch_get, NULL, "image array shape", (void *)7},
    {"dtype", (getter)CudaBatch_get, NULL, "'uint8', 'float32', 'float16' or 'bfloat16'",
     (void *)8},
    {"device", (getter)CudaBatch_get, NULL, "CUDA device ordinal", (void *)9},
    {"stream", (getter)CudaBatch_get, NULL, "the stream the batch was made ready on", (void *)10},
    {"address", (getter)CudaBatch_get, NULL, "device address of the images", (void *)11},
    {"labels_address", (getter)CudaBatch_get, NULL, "device address of the labels", (void *)12},
    {NULL}};

static PyObject *CudaBatch_synchronize(CudaBatchObject *self, PyObject *unused) {
  pv_status st;
  pv_cuda_loader *cl = self->loader->l;
  void *s = self->stream;
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_stream_synchronize(cl, s);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) return raise_status(st, pv_cuda_loader_last_error(cl));
  Py_RETURN_NONE;
}

static PyMethodDef CudaBatch_methods[] = {
    {"synchronize", (PyCFunction)CudaBatch_synchronize, METH_NOARGS,
     "synchronize(): the host waits until the batch's stream has done everything enqueued "
     "so far (the batch is then complete; for reads outside stream order)"},
    {NULL}};

static PyTypeObject CudaBatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.CudaBatch",
    .tp_basicsize = sizeof(CudaBatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One device batch: .images / .device_labels (DLPack), host labels, provenance",
    .tp_dealloc = (destructor)CudaBatch_dealloc,
    .tp_methods = CudaBatch_methods,
    .tp_getset = CudaBatch_getset,
};

static void DeviceArray_dealloc(DeviceArrayObject *self) {
  Py_XDECREF(self->owner);
  PyObject_Free(self);
}

/* Orders consumer stream s after the batch (DLPack's producer duty). */
static int cuda_batch_consumer(CudaBatchObject *b, void *s) {
  if (s == b->stream) return 1;
  for (int i = 0; i < b->nconsumers; i++)
    if (b->consumers[i] == s) return 1;
  if (b->nconsumers == PV_MAX_CONSUMER_STREAMS) {
    PyErr_Format(PyExc_BufferError, "a batch can be imported on at most %d other streams",
                 PV_MAX_CONSUMER_STREAMS);
    return 0;
  }
  pv_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_stream_wait(b->loader->l, s, b->stream);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) {
    raise_status(st, pv_cuda_loader_last_error(b->loader->l));
    return 0;
  }
  b->consumers[b->nconsumers++] = s;
  return 1;
}

static PyObject *DeviceArray_dlpack(DeviceArrayObject *self, PyObject *args, PyObject *kw) {
  dl_args a;
  if (!dl_parse_args(args, kw, &a)) return NULL;
  PyObject *stream = a.stream, *dl_device = a.dl_device;
  CudaBatchObject *b = self->owner;
  if (a.copy == Py_True) {
    PyErr_SetString(PyExc_BufferError, "pvpack batches are exported without copies (copy=True)");
    return NULL;
  }
  if (dl_device != Py_None) {
    int dt = -1, di = -1;
    if (!PyArg_ParseTuple(dl_device, "ii", &dt, &di)) return NULL;
    if (dt != PV_DL_CUDA || di != b->loader->device) {
      PyErr_Format(PyExc_BufferError, "batch is on CUDA device %d; cannot export to (%d, %d)",
                   b->loader->device, dt, di);
      return NULL;
    }
  }
  /* The array API's stream rule for CUDA: None = the legacy default stream,
   * 1 = legacy default, 2 = per-thread default, -1 = no synchronization,
   * 0 = disallowed (ambiguous), else a cudaStream_t. */
  if (stream == Py_None) {
    if (!cuda_batch_consumer(b, NULL)) return NULL;
  } else {
    long long v = PyLong_AsLongLong(stream);
    if (v == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      void *p = PyLong_AsVoidPtr(stream); /* a pointer above LLONG_MAX */
      if (!p && PyErr_Occurred()) return NULL;
      if (!cuda_batch_consumer(b, p)) return NULL;
    } else if (v == 0) {
      PyErr_SetString(PyExc_ValueError,
                      "stream=0 is ambiguous for CUDA (DLPack): pass 1 for the legacy default "
                      "stream, 2 for the per-thread default, or the stream's handle");
      return NULL;
    } else if (v < -1) {
      PyErr_Format(PyExc_ValueError, "bad stream %lld", v);
      return NULL;
    } else if (v != -1) {
      if (!cuda_batch_consumer(b, v == 1 ? NULL : PyLong_AsVoidPtr(stream))) return NULL;
    }
  }
  int versioned;
  if (!dl_versioned(a.max_version, &versioned)) return NULL;
  void *mt;
  dl_ctx *c;
  pv_DLTensor *t = dl_alloc((PyObject *)b, versioned, &mt, &c);
  if (!t) return NULL;
  t->device.device_type = PV_DL_CUDA;
  t->device.device_id = b->loader->device;
  t->strides = NULL;
  t->byte_offset = 0;
  t->shape = c->shape;
  if (self->part == 0) {
    for (int k = 0; k < 4; k++) c->shape[k] = b->shape[k];
    t->data = b->images;
    t->ndim = 4;
    t->dtype = b->dtype;
  } else {
    c->shape[0] = b->meta.count;
    t->data = b->dlabels;
    t->ndim = 1;
    t->dtype = (pv_DLDataType){0, 64, 1}; /* kDLInt 64 */
  }
  return dl_capsule(mt, versioned);
}

static PyObject *DeviceArray_dlpack_device(DeviceArrayObject *self, PyObject *unused) {
  return Py_BuildValue("(ii)", PV_DL_CUDA, self->owner->loader->device);
}

static PyObject *DeviceArray_get(DeviceArrayObject *self, void *closure) {
  CudaBatchObject *b = self->owner;
  switch ((intptr_t)closure) {
    case 0:
      if (self->part)
        return Py_BuildValue("(L)", (long long)b->meta.count);
      return CudaBatch_get(b, (void *)7);
    case 1:
      return self->part ? PyUnicode_FromString("int64") : CudaBatch_get(b, (void *)8);
    case 2: return Py_NewRef(b);
    default: return PyLong_FromVoidPtr(self->part ? (void *)b->dlabels : b->images);
  }
}

static PyMethodDef DeviceArray_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))DeviceArray_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None) -> PyCapsule "
     "(kDLCUDA); a stream other than the batch's is made to wait for it"},
    {"__dlpack_device__", (PyCFunction)DeviceArray_dlpack_device, METH_NOARGS,
     "__dlpack_device__() -> (2, device): kDLCUDA"},
    {NULL}};

static PyGetSetDef DeviceArray_getset[] = {
    {"shape", (getter)DeviceArray_get, NULL, "shape", (void *)0},
    {"dtype", (getter)DeviceArray_get, NULL, "element type name", (void *)1},
    {"batch", (getter)DeviceArray_get, NULL, "the CudaBatch", (void *)2},
    {"address", (getter)DeviceArray_get, NULL, "device address", (void *)3},
    {NULL}};

static PyTypeObject DeviceArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.DeviceArray",
    .tp_basicsize = sizeof(DeviceArrayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A device array of a CudaBatch, exported through DLPack (kDLCUDA)",
    .tp_dealloc = (destructor)DeviceArray_dealloc,
    .tp_methods = DeviceArray_methods,
    .tp_getset = DeviceArray_getset,
};

/* ---- build ------------------------------------------------------------------- */

typedef struct build_job {
  char *src, *out;
  pv_build_options o;
  pv_build_summary summary;
  pv_status status;
  char err[1024];
  volatile sig_atomic_t cancel;
  PyObject *log; /* callable or NULL */
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

static void *build_thread(void *arg) {
  build_job *j = arg;
  j->status = pv_build(j->src, j->out, &j->o, &j->summary, j->err, sizeof j->err);
  pthread_mutex_lock(&j->mu);
  j->done = 1;
  pthread_cond_broadcast(&j->cv);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

static PyObject *py_build(PyObject *mod, PyObject *args, PyObject *kw) {
  static char *kwlist[] = {"src", "out", "options", "log", NULL};
  PyObject *src_b, *out_b = NULL, *d, *log = Py_None;
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O&O&O!|O", kwlist, PyUnicode_FSConverter, &src_b,
                                   PyUnicode_FSConverter, &out_b, &PyDict_Type, &d, &log))
    return NULL;
  build_job *j = PyMem_RawCalloc(1, sizeof *j);
  PyObject *result = NULL;
  if (!j) {
    PyErr_NoMemory();
    goto out_args;
  }
  pv_build_options_init(&j->o);
  int resize = (int)j->o.resize;
  uint32_t resize_to = j->o.resize_to;
  if (!opt_int(d, "resize", &resize) || !opt_u32(d, "size", &resize_to) ||
      !opt_int(d, "filter", &j->o.filter) || !opt_int(d, "codec", &j->o.codec) ||
      !opt_u32(d, "auto_threshold", &j->o.auto_threshold) ||
      !opt_int(d, "quality", &j->o.jpeg_quality) || !opt_int(d, "zstd_level", &j->o.zstd_level) ||
      !opt_int(d, "keep_original", &j->o.keep_original) ||
      !opt_u64(d, "shard_size", &j->o.shard_bytes) || !opt_int(d, "shuffle", &j->o.shuffle) ||
      !opt_u64(d, "seed", &j->o.seed) || !opt_int(d, "threads", &j->o.threads) ||
      !opt_u64(d, "max_pixels", &j->o.max_pixels) ||
      !opt_u64(d, "max_file_size", &j->o.max_file_bytes) ||
      !opt_int(d, "exif_orientation", &j->o.apply_exif_orientation) ||
      !opt_int(d, "strict", &j->o.strict) || !opt_int(d, "force", &j->o.force) ||
      !opt_int(d, "progress", &j->o.progress))
    goto out_job;
  j->o.resize = (pv_resize_policy)resize;
  j->o.resize_to = resize_to;
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
  j->o.cancel = &j->cancel;
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
  result = Py_BuildValue(
      "{s:K,s:K,s:K,s:I,s:I,s:K,s:K,s:{s:K,s:K,s:K},s:K,s:d,s:O&}", "files",
      (unsigned long long)s->files, "images", (unsigned long long)s->images, "skipped",
      (unsigned long long)s->skipped, "classes", s->classes, "shards", s->shards, "bytes_in",
      (unsigned long long)s->bytes_in, "bytes_out", (unsigned long long)s->bytes_out, "codecs",
      "raw", (unsigned long long)s->codec_records[PV_CODEC_RAW], "jpeg",
      (unsigned long long)s->codec_records[PV_CODEC_JPEG], "zstd",
      (unsigned long long)s->codec_records[PV_CODEC_ZSTD], "original",
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

static PyObject *py_default_output_dir(PyObject *mod, PyObject *arg) {
  PyObject *b;
  if (!PyUnicode_FSConverter(arg, &b)) return NULL;
  char *p = pv_default_output_dir(PyBytes_AS_STRING(b));
  Py_DECREF(b);
  if (!p) return PyErr_NoMemory();
  PyObject *r = PyUnicode_DecodeFSDefault(p);
  free(p);
  return r;
}

static PyObject *py_strerror(PyObject *mod, PyObject *arg) {
  long st = PyLong_AsLong(arg);
  if (PyErr_Occurred()) return NULL;
  return Py_BuildValue("(ss)", pv_status_name((int)st), pv_strerror((int)st));
}

/* cuda_probe() -> (device count, '') or (0, reason). */
static PyObject *py_cuda_probe(PyObject *mod, PyObject *unused) {
  char err[512] = "";
  int n = 0;
  pv_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pv_cuda_probe(&n, err, sizeof err);
  Py_END_ALLOW_THREADS
  return Py_BuildValue("(is)", st == PV_OK ? n : 0, st == PV_OK ? "" : err);
}

static PyObject *py_cuda_resolve_device(PyObject *mod, PyObject *arg) {
  long d = PyLong_AsLong(arg);
  if (d == -1 && PyErr_Occurred()) return NULL;
  return PyLong_FromLong(pv_cuda_resolve_device((int)d));
}

/* eval_resize_max(height, width): the bound pv_loader_create puts on
 * eval_resize (PV_EVAL_RESIZE_MAX), so Python can raise ValueError with it. */
static PyObject *py_eval_resize_max(PyObject *mod, PyObject *args) {
  unsigned int h, w;
  if (!PyArg_ParseTuple(args, "II", &h, &w)) return NULL;
  return PyLong_FromUnsignedLongLong((unsigned long long)PV_EVAL_RESIZE_MAX(h, w));
}

static PyMethodDef module_methods[] = {
    {"eval_resize_max", (PyCFunction)py_eval_resize_max, METH_VARARGS,
     "eval_resize_max(height, width) -> the largest eval_resize the loader accepts"},
    {"cuda_probe", (PyCFunction)py_cuda_probe, METH_NOARGS,
     "cuda_probe() -> (device_count, reason): (n, '') with a usable GPU, else (0, why)"},
    {"cuda_resolve_device", (PyCFunction)py_cuda_resolve_device, METH_O,
     "cuda_resolve_device(d) -> d if d >= 0, else LOCAL_RANK (0 when unset; -1 when invalid)"},
    {"build", (PyCFunction)(void (*)(void))py_build, METH_VARARGS | METH_KEYWORDS,
     "build(src, out, options: dict, log=None) -> summary dict (low level; use pvpack.build)"},
    {"default_output_dir", (PyCFunction)py_default_output_dir, METH_O,
     "default_output_dir(src) -> SRC.pvpack"},
    {"strerror", (PyCFunction)py_strerror, METH_O, "strerror(status) -> (name, message)"},
    {NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "pvpack._pvpack",
                                        "libpvpack bindings (low level; import pvpack)", -1,
                                        module_methods};

PyMODINIT_FUNC PyInit__pvpack(void);
PyMODINIT_FUNC PyInit__pvpack(void) {
  if (PyType_Ready(&DatasetType) < 0 || PyType_Ready(&LoaderType) < 0 ||
      PyType_Ready(&BatchType) < 0 || PyType_Ready(&CudaLoaderType) < 0 ||
      PyType_Ready(&CudaBatchType) < 0 || PyType_Ready(&DeviceArrayType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  PyObject *doc = PyDict_New();
  if (!doc) goto fail;
  PyDict_SetItemString(doc, "__doc__",
                       PyUnicode_FromString("An error from libpvpack. Attributes: status (int, "
                                            "negative), status_name ('PV_ERR_DECODE'), detail "
                                            "(shard, record, source, reason)."));
  PvError = PyErr_NewException("pvpack.Error", PyExc_RuntimeError, doc);
  Py_DECREF(doc);
  if (!PvError) goto fail;
  if (PyModule_AddObjectRef(m, "Error", PvError) < 0 ||
      PyModule_AddObjectRef(m, "Dataset", (PyObject *)&DatasetType) < 0 ||
      PyModule_AddObjectRef(m, "Loader", (PyObject *)&LoaderType) < 0 ||
      PyModule_AddObjectRef(m, "Batch", (PyObject *)&BatchType) < 0 ||
      PyModule_AddObjectRef(m, "CudaLoader", (PyObject *)&CudaLoaderType) < 0 ||
      PyModule_AddObjectRef(m, "CudaBatch", (PyObject *)&CudaBatchType) < 0 ||
      PyModule_AddObjectRef(m, "DeviceArray", (PyObject *)&DeviceArrayType) < 0 ||
      PyModule_AddStringConstant(m, "version", pv_version_string()) < 0 ||
      PyModule_AddIntConstant(m, "HAVE_CUDA", pv_cuda_built()) < 0 ||
      PyModule_AddIntConstant(m, "CUDA_MOCK", PV_PY_CUDA_MOCK) < 0)
    goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}

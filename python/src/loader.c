/* loader.c - what Loader and CudaLoader share; pvpack._pvpack.Loader and
 * Batch (pvpy.h; the lifetime rules are in module.c). */
#include "pvpy.h"

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



/* Allocates the held arrays for a ring of nslots; hold is the hold_limit
 * option (-1: default). Returns 0 with MemoryError set on failure (the
 * arrays are freed by core_free from the type's dealloc). */
int core_init(loader_core *c, uint32_t nslots, int hold) {
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

void core_free(loader_core *c) {
  PyMem_Free(c->held);
  PyMem_Free(c->held_seq);
}

/* Whether the loader may be used now (initialised, open, not iterated by
 * another thread); 0 with ValueError / RuntimeError set if not. */
int core_check(const loader_core *c, const void *l, const loader_ops *ops) {
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
uint32_t core_oldest(const loader_core *c) {
  uint32_t oldest = UINT32_MAX;
  for (uint32_t i = 0; i < c->nslots; i++)
    if (c->held[i] && (oldest == UINT32_MAX || c->held_seq[i] < c->held_seq[oldest])) oldest = i;
  return oldest;
}

/* The batch in slot i has been detached: it no longer holds the slot. */
void core_detached(loader_core *c, uint32_t i) {
  c->held[i] = NULL;
  c->nheld--;
  c->detached++;
}

/* Records the new batch object o as holding `slot` and returns it. With ok
 * == 0 (its host arrays could not be made; an exception is set) it drops o
 * instead, whose dealloc unregisters it and hands the slot back, and returns
 * NULL. */
PyObject *core_hand_out(loader_core *c, uint32_t slot, PyObject *o, int ok) {
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
void core_forget(loader_core *c, uint32_t slot, PyObject *o) {
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
int core_wait(loader_core *c, void *l, const loader_ops *ops) {
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
PyObject *core_set_epoch(loader_core *c, void *l, const loader_ops *ops, PyObject *args) {
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
PyObject *core_close(loader_core *c, void *l, const loader_ops *ops) {
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


/* The common start of Loader/CudaLoader.__init__(dataset, options): parses
 * the arguments and refuses a second __init__ (l already set), a Dataset that
 * is not open and option keys outside LOADER_KEYS and `extra`. */
int loader_init_args(PyObject *args, PyObject *kw, const void *l, const loader_ops *ops,
                            const char *const *extra, PyObject **ds, PyObject **d) {
  static char *kwlist[] = {"dataset", "options", NULL};
  if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!", kwlist, &DatasetType, ds, &PyDict_Type, d))
    return 0;
  if (l) {
    PyErr_Format(PyExc_RuntimeError, "%s is already initialised", ops->type_name);
    return 0;
  }
  return dataset_check((DatasetObject *)*ds) && loader_check_keys(*d, extra);
}


/* Fills m for a batch just handed out (attached: owned = 0). Returns 0 with
 * an exception set if a host array could not be made; both pointers are set
 * either way, and batch_meta_clear (from the dealloc) drops what was made. */
int batch_meta_init(batch_meta *m, uint64_t epoch, uint64_t index, uint32_t count,
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

void batch_meta_clear(batch_meta *m) {
  Py_XDECREF(m->labels);
  Py_XDECREF(m->records);
}

/* The getters both batch types share, by closure number: 0 labels, 1 records,
 * 2 epoch, 3 index, 4 count, 5 replaced, 6 detached. */
PyObject *batch_meta_get(const batch_meta *m, intptr_t which) {
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
void image_shape(pv_layout layout, uint32_t count, uint32_t height, uint32_t width,
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


static void Loader_dealloc(LoaderObject *self) {
  /* Every Batch holds a reference, so none is alive here. */
  pv_loader_destroy(self->l);
  core_free(&self->core);
  Py_XDECREF(self->dataset);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Loader_init(LoaderObject *self, PyObject *args, PyObject *kw) {
  PyObject *ds, *d;
  static const char *const extra[] = {"pin_memory", NULL};
  if (!loader_init_args(args, kw, self->l, &cpu_ops, extra, &ds, &d)) return -1;
  pv_loader_options o;
  int hold = -1;
  if (!loader_options_from_dict(d, &o, &hold, NULL)) return -1;
  char err[512] = "";
  pv_status st;
  int pin = 0;
  if (!opt_int(d, "pin_memory", &pin)) return -1;
  /* pin_memory: the ring (and the buffers detached batches get) in
   * page-locked memory; needs a CUDA device (PV_ERR_CUDA says why not). */
  if (pin && (st = pv_cuda_pinned_allocator(&o.allocator, err, sizeof err)) != PV_OK) {
    raise_status(st, err);
    return -1;
  }
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
  self->o.indices = NULL; /* pointed into the options dict; the loader has its copy */
  self->dataset = Py_NewRef(ds);
  return core_init(&self->core, o.prefetch, hold) ? 0 : -1;
}

/* Default: keep half the ring for the producer (at least one slot). */
uint32_t default_hold_limit(int hold, uint32_t ring) {
  uint32_t def = ring / 2, lim;
  if (def > ring - 1) def = ring - 1;
  lim = hold < 0 ? def : (uint32_t)hold;
  return lim > ring - 1 ? ring - 1 : lim;
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

/* set_epoch_rest(epoch, first, start_batch=0): pv_loader_set_epoch_rest. */
static PyObject *Loader_set_epoch_rest(LoaderObject *self, PyObject *args) {
  unsigned long long epoch, first, start = 0;
  if (!PyArg_ParseTuple(args, "KK|K", &epoch, &first, &start)) return NULL;
  if (!core_check(&self->core, self->l, &cpu_ops)) return NULL;
  pv_status st;
  Py_BEGIN_ALLOW_THREADS
  st = pv_loader_set_epoch_rest(self->l, epoch, first, start);
  Py_END_ALLOW_THREADS
  if (st != PV_OK) return raise_status(st, pv_loader_last_error(self->l));
  Py_RETURN_NONE;
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
  uint64_t v = closure == (void *)2 ? pv_loader_epoch_batches(self->l)
               : closure            ? pv_loader_samples_per_epoch(self->l)
                                    : pv_loader_batches_per_epoch(self->l);
  return PyLong_FromUnsignedLongLong(v);
}

static PyObject *Loader_get_hold_limit(LoaderObject *self, void *closure) {
  return PyLong_FromUnsignedLong(self->core.hold_limit);
}

static PyMethodDef Loader_methods[] = {
    {"next", (PyCFunction)Loader_next, METH_NOARGS, "next() -> Batch, or None at epoch end"},
    {"set_epoch", (PyCFunction)Loader_set_epoch, METH_VARARGS,
     "set_epoch(epoch, start_batch=0): restart at batch start_batch of epoch"},
    {"set_epoch_rest", (PyCFunction)Loader_set_epoch_rest, METH_VARARGS,
     "set_epoch_rest(epoch, first, start_batch=0): the epoch's global positions first.. "
     "dealt over the ranks (elastic resume)"},
    {"close", (PyCFunction)Loader_close, METH_NOARGS, "stop the workers' work"},
    {"sample_record", (PyCFunction)Loader_sample_record, METH_VARARGS,
     "sample_record(epoch, k) -> record of this rank's k-th sample"},
    {"stats", (PyCFunction)Loader_stats, METH_NOARGS, "stats() -> dict"},
    {NULL}};

static PyGetSetDef Loader_getset[] = {
    {"batches_per_epoch", (getter)Loader_get_u64, NULL, "batches per epoch, this rank", NULL},
    {"samples_per_epoch", (getter)Loader_get_u64, NULL, "samples per epoch, this rank",
     (void *)1},
    {"epoch_batches", (getter)Loader_get_u64, NULL,
     "batches of the current epoch (fewer after set_epoch_rest)", (void *)2},
    {"hold_limit", (getter)Loader_get_hold_limit, NULL,
     "batches user code may keep attached to the ring before next() detaches", NULL},
    {NULL}};

PyTypeObject LoaderType = {
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

PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.Batch",
    .tp_basicsize = sizeof(BatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One batch's images (buffer protocol and DLPack), labels and provenance",
    .tp_dealloc = (destructor)Batch_dealloc,
    .tp_as_buffer = &Batch_as_buffer,
    .tp_methods = Batch_methods,
    .tp_getset = Batch_getset,
};


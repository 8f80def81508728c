/* cuda.c - the GPU path of the extension (pvpy.h). */
#include "pvpy.h"

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
  /* mean/std and layout: loader_options_from_dict fills the CPU loader's
   * (ImageNet's mean and std when absent), which are copied to the CUDA
   * options below; dtype is the CUDA loader's own (pv_cuda_dtype). */
  static const char *const skip[] = {"dtype", NULL};
  if (!loader_options_from_dict(d, &o.loader, &hold, skip) || !opt_int(d, "dtype", &dtype) ||
      !opt_int(d, "device", &o.device) || !opt_u32(d, "depth", &o.depth) ||
      !opt_int(d, "host_memory", &host_memory) || !opt_u64(d, "max_pinned_bytes", &maxp) ||
      !opt_u64(d, "max_device_bytes", &maxd))
    return -1;
  layout = PyDict_GetItemString(d, "layout") == NULL ? (int)PV_LAYOUT_NCHW : (int)o.loader.layout;
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

PyTypeObject CudaLoaderType = {
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

PyTypeObject CudaBatchType = {
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

PyTypeObject DeviceArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "pvpack._pvpack.DeviceArray",
    .tp_basicsize = sizeof(DeviceArrayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A device array of a CudaBatch, exported through DLPack (kDLCUDA)",
    .tp_dealloc = (destructor)DeviceArray_dealloc,
    .tp_methods = DeviceArray_methods,
    .tp_getset = DeviceArray_getset,
};


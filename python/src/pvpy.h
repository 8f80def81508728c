/* pvpy.h - what the files of the pvpack._pvpack extension share (internal).
 *
 * The extension is split by concern:
 *   module.c   module init, pvpack.Error (raise_status), small functions
 *   dataset.c  Dataset
 *   loader.c   what Loader and CudaLoader share (loader_core), Loader, Batch
 *   dlpack.c   DLPack export (the manager context, capsules), CPU and CUDA
 *   cuda.c     CudaLoader, CudaBatch, DeviceArray (pvpack_cuda.h)
 *   options.c  options dicts read through libpvpack's options tables
 *              (pv_option.h), options(), build()
 * It sees libpvpack's public headers only (cmake/modules.txt). The names
 * declared here are not exported: the extension is built with hidden
 * visibility and exports PyInit__pvpack only.
 */
#ifndef PVPY_H
#define PVPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pv_option.h"
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


/* ---- module.c ---------------------------------------------------------------- */

extern PyObject *PvError; /* pvpack.Error */
PyObject *raise_status(pv_status st, const char *detail);

/* ---- dataset.c --------------------------------------------------------------- */

typedef struct {
  PyObject_HEAD pv_dataset *ds;
  pv_decoder *dec;          /* one, serialized by dec_lock */
  PyThread_type_lock dec_lock;
  PyObject *path;
} DatasetObject;
extern PyTypeObject DatasetType;
int dataset_check(DatasetObject *self);
/* A non-negative integer argument: an int or anything with __index__
 * (NumPy integers), never a float (TypeError), at most hi (ValueError). */
int uint_arg(PyObject *o, const char *name, unsigned long long hi, unsigned long long *out);

/* ---- loader.c ---------------------------------------------------------------- */

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

/* What a Batch and a CudaBatch both carry besides their image buffers: the
 * host copies of the labels and record numbers, and provenance. */
typedef struct {
  PyObject *labels;      /* bytearray of count int64 */
  PyObject *records;     /* bytearray of count uint64 */
  uint64_t epoch, index;
  uint32_t count, replaced;
  int owned;             /* detached: the buffers are the batch's to free */
} batch_meta;

extern PyTypeObject LoaderType, BatchType;
int core_init(loader_core *c, uint32_t nslots, int hold);
void core_free(loader_core *c);
int core_check(const loader_core *c, const void *l, const loader_ops *ops);
uint32_t core_oldest(const loader_core *c);
void core_detached(loader_core *c, uint32_t i);
PyObject *core_hand_out(loader_core *c, uint32_t slot, PyObject *o, int ok);
void core_forget(loader_core *c, uint32_t slot, PyObject *o);
int core_wait(loader_core *c, void *l, const loader_ops *ops);
PyObject *core_set_epoch(loader_core *c, void *l, const loader_ops *ops, PyObject *args);
PyObject *core_close(loader_core *c, void *l, const loader_ops *ops);
int loader_init_args(PyObject *args, PyObject *kw, const void *l, const loader_ops *ops,
                     const char *const *extra, PyObject **ds, PyObject **d);
int batch_meta_init(batch_meta *m, uint64_t epoch, uint64_t index, uint32_t count,
                    uint32_t replaced, const int64_t *labels, const uint64_t *records);
void batch_meta_clear(batch_meta *m);
PyObject *batch_meta_get(const batch_meta *m, intptr_t which);
void image_shape(pv_layout layout, uint32_t count, uint32_t height, uint32_t width,
                 int64_t shape[4]);
uint32_t default_hold_limit(int hold, uint32_t ring);

/* ---- dlpack.c ---------------------------------------------------------------- */

/* The DLPack manager context: shape storage and the Batch reference. */
typedef struct dl_ctx {
  int64_t shape[4];
  PyObject *owner; /* the Batch / CudaBatch whose memory the tensor views */
} dl_ctx;

/* The keyword arguments of __dlpack__ (Batch and DeviceArray alike); each
 * type checks them in its own order. */
typedef struct {
  PyObject *stream, *max_version, *dl_device, *copy;
} dl_args;

int dl_parse_args(PyObject *args, PyObject *kw, dl_args *a);
int dl_versioned(PyObject *max_version, int *versioned);
pv_DLTensor *dl_alloc(PyObject *owner, int versioned, void **mt, dl_ctx **ctxp);
PyObject *dl_capsule(void *mt, int versioned);

/* ---- cuda.c ------------------------------------------------------------------ */

extern PyTypeObject CudaLoaderType, CudaBatchType, DeviceArrayType;

/* ---- options.c --------------------------------------------------------------- */

/* An optional integer entry of an options dict (keys outside the tables:
 * device, depth, hold_limit, ...). 1, or 0 with an exception set. */
int opt_int(PyObject *d, const char *k, int *v);
int opt_u32(PyObject *d, const char *k, uint32_t *v);
int opt_u64(PyObject *d, const char *k, uint64_t *v);
/* Refuses keys that are neither loader options (pv_loader_option_info),
 * hold_limit nor in `extra`: TypeError "unknown loader option". */
int loader_check_keys(PyObject *d, const char *const *extra);
/* The pv_loader_options of dict d (initialised, then every table entry whose
 * name is a key of d, except those in skip) and hold_limit (-1 when absent).
 * Values are checked against the table: ValueError / TypeError naming the
 * option. 1, or 0 with an exception set. */
int loader_options_from_dict(PyObject *d, pv_loader_options *o, int *hold,
                             const char *const *skip);
PyObject *py_options(PyObject *mod, PyObject *arg);
PyObject *py_build(PyObject *mod, PyObject *args, PyObject *kw);
PyObject *py_merge(PyObject *mod, PyObject *args);

#endif /* PVPY_H */

/* module.c - the CPython extension under the `pvpack` package: its module
 * init, pvpack.Error, and what the other files (pvpy.h) do not hold.
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
 *   options(which)         libpvpack's options tables ("build", "loader",
 *                          "limits"), from which the Python layer takes
 *                          its keywords, defaults, ranges and docs.
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
#include "pvpy.h"

/* ---- errors ------------------------------------------------------------------ */

PyObject *PvError; /* pvpack.Error */

/* Raises pvpack.Error("PV_ERR_X: message: detail") with .status,
 * .status_name and .detail set. Returns NULL. */
PyObject *raise_status(pv_status st, const char *detail) {
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

static PyObject *py_available_cpus(PyObject *mod, PyObject *unused) {
  (void)mod, (void)unused;
  int n;
  Py_BEGIN_ALLOW_THREADS
  n = pv_available_cpus();
  Py_END_ALLOW_THREADS
  return PyLong_FromLong(n);
}

#if PV_PY_CUDA_MOCK
long pv_mock_host_allocs(void); /* tests/cuda_mock.c */
static PyObject *py_mock_host_allocs(PyObject *mod, PyObject *unused) {
  (void)mod, (void)unused;
  return PyLong_FromLong(pv_mock_host_allocs());
}
#endif

static PyMethodDef module_methods[] = {
#if PV_PY_CUDA_MOCK
    {"mock_host_allocs", (PyCFunction)py_mock_host_allocs, METH_NOARGS,
     "mock_host_allocs() -> live cudaHostAlloc blocks of the CUDA stand-in"},
#endif
    {"available_cpus", (PyCFunction)py_available_cpus, METH_NOARGS,
     "available_cpus() -> the CPUs this process may use (affinity mask, cgroup quota)"},
    {"eval_resize_max", (PyCFunction)py_eval_resize_max, METH_VARARGS,
     "eval_resize_max(height, width) -> the largest eval_resize the loader accepts"},
    {"cuda_probe", (PyCFunction)py_cuda_probe, METH_NOARGS,
     "cuda_probe() -> (device_count, reason): (n, '') with a usable GPU, else (0, why)"},
    {"cuda_resolve_device", (PyCFunction)py_cuda_resolve_device, METH_O,
     "cuda_resolve_device(d) -> d if d >= 0, else LOCAL_RANK (0 when unset; -1 when invalid)"},
    {"build", (PyCFunction)(void (*)(void))py_build, METH_VARARGS | METH_KEYWORDS,
     "build(src, out, options: dict, log=None, part=None, progress=None, plan=None) -> summary dict "
     "(low level; use "
     "pvpack.build)"},
    {"merge", (PyCFunction)py_merge, METH_VARARGS,
     "merge(out) -> summary dict (low level; use pvpack.merge)"},
    {"options", (PyCFunction)py_options, METH_O,
     "options(which) -> tuple of dicts: the 'build', 'loader' or 'limits' options table "
     "(name, field, group, kind, default, min, max, choices, cli, flag, arg, help)"},
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

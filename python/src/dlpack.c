/* dlpack.c - DLPack export, shared by Batch and DeviceArray (pvpy.h). */
#include "pvpy.h"


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


int dl_parse_args(PyObject *args, PyObject *kw, dl_args *a) {
  static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
  a->stream = a->max_version = a->dl_device = a->copy = Py_None;
  return PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO", kwlist, &a->stream, &a->max_version,
                                     &a->dl_device, &a->copy);
}

/* Whether the consumer's max_version allows the versioned capsule (major >=
 * 1); 0 with an exception set on a bad value. */
int dl_versioned(PyObject *max_version, int *versioned) {
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
pv_DLTensor *dl_alloc(PyObject *owner, int versioned, void **mt, dl_ctx **ctxp) {
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
PyObject *dl_capsule(void *mt, int versioned) {
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


/* The per-key loops of a batch read of memory hits (`_mget`), in C.

   service/speedups.py holds the same two functions in Python (what they
   do and why they are here), used where this module was not built;
   tests/service/test_speedups.py holds the two to each other. Built by
   setup.py (optional: a machine without a compiler gets the Python ones). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *str_move_to_end;
static PyObject *str_tags;

/* lookup_many(entries, head, keys, now) -> (hits, missed, expired, size, tagged) */
static PyObject *
lookup_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyUnicode_Check(args[1])
            || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "lookup_many(entries: dict, head: str, keys: list, now: float)");
        return NULL;
    }
    PyObject *entries = args[0], *head = args[1], *keys = args[2];
    double now = PyFloat_AsDouble(args[3]);
    if (now == -1.0 && PyErr_Occurred())
        return NULL;
    PyObject *hits = PyDict_New(), *missed = PyList_New(0), *expired = PyList_New(0);
    PyObject *move = PyObject_GetAttr(entries, str_move_to_end);
    if (hits == NULL || missed == NULL || expired == NULL || move == NULL)
        goto error;
    Py_ssize_t size = 0;
    int tagged = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *name = PyUnicode_Concat(head, key);
        if (name == NULL)
            goto error;
        PyObject *entry = PyDict_GetItemWithError(entries, name);
        if (entry == NULL) {
            Py_DECREF(name);
            if (PyErr_Occurred() || PyList_Append(missed, key) < 0)
                goto error;
            continue;
        }
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < 6
                || !PyBytes_Check(PyTuple_GET_ITEM(entry, 0))) {
            Py_DECREF(name);
            PyErr_SetString(PyExc_TypeError, "an entry is a tuple of 6, its value bytes");
            goto error;
        }
        Py_INCREF(entry);
        double expires_at = PyFloat_AsDouble(PyTuple_GET_ITEM(entry, 2));
        int failed = expires_at == -1.0 && PyErr_Occurred();
        if (!failed && expires_at <= now) {
            failed = PyList_Append(missed, key) < 0 || PyList_Append(expired, name) < 0;
        } else if (!failed) {
            PyObject *moved = PyObject_CallOneArg(move, name);
            failed = moved == NULL || PyDict_SetItem(hits, key, entry) < 0;
            Py_XDECREF(moved);
            size += PyBytes_GET_SIZE(PyTuple_GET_ITEM(entry, 0));
            PyObject *stamp = PyTuple_GET_ITEM(entry, 5);
            if (!failed && !tagged) {
                if (stamp == Py_None) {
                    tagged = 1;
                } else {
                    PyObject *tags = PyObject_GetAttr(stamp, str_tags);
                    int truth = tags == NULL ? -1 : PyObject_IsTrue(tags);
                    Py_XDECREF(tags);
                    failed = truth < 0;
                    tagged = truth > 0;
                }
            }
        }
        Py_DECREF(entry);
        Py_DECREF(name);
        if (failed)
            goto error;
    }
    Py_DECREF(move);
    return Py_BuildValue("(NNNnO)", hits, missed, expired, size, tagged ? Py_True : Py_False);
error:
    Py_XDECREF(hits);
    Py_XDECREF(missed);
    Py_XDECREF(expired);
    Py_XDECREF(move);
    return NULL;
}

/* members(kept, found, make) -> list: for each (key, record) of `found`,
   the member kept for that very record (kept[key] == (record, member)),
   else make(key, record). */
static PyObject *
members(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "members(kept: dict, found: dict, make)");
        return NULL;
    }
    PyObject *kept = args[0], *found = args[1], *make = args[2];
    PyObject *parts = PyList_New(PyDict_GET_SIZE(found));
    if (parts == NULL)
        return NULL;
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *record;
    while (PyDict_Next(found, &pos, &key, &record)) {
        if (i >= PyList_GET_SIZE(parts)) {
            PyErr_SetString(PyExc_RuntimeError, "found changed size during members()");
            goto error;
        }
        PyObject *pair = PyDict_GetItemWithError(kept, key);
        PyObject *member;
        if (pair != NULL && PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2
                && PyTuple_GET_ITEM(pair, 0) == record) {
            member = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
        } else if (pair == NULL && PyErr_Occurred()) {
            goto error;
        } else {
            member = PyObject_CallFunctionObjArgs(make, key, record, NULL);
            if (member == NULL)
                goto error;
        }
        PyList_SET_ITEM(parts, i++, member);
    }
    if (i != PyList_GET_SIZE(parts)) {  /* `make` shrank `found`: slots left empty */
        PyErr_SetString(PyExc_RuntimeError, "found changed size during members()");
        goto error;
    }
    return parts;
error:
    Py_DECREF(parts);
    return NULL;
}

static PyMethodDef methods[] = {
    {"lookup_many", (PyCFunction)(void (*)(void))lookup_many, METH_FASTCALL, NULL},
    {"members", (PyCFunction)(void (*)(void))members, METH_FASTCALL, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_move_to_end = PyUnicode_InternFromString("move_to_end");
    str_tags = PyUnicode_InternFromString("tags");
    if (str_move_to_end == NULL || str_tags == NULL)
        return NULL;
    return PyModule_Create(&module);
}

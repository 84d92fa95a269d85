/*
 * _native_pyrow.c - a dict of numbers and categories to edgeml_row_predict without Python in
 * between.
 *
 * An optional CPython extension of the host runtime (not part of the device core: it is
 * built, like core.so, once per machine, and only where Python's headers are installed). The
 * ctypes path spends about 1 us of a 500x63 single row in Python: an itemgetter over the
 * columns, the foreign call's argument conversion and release of the GIL, a per-thread buffer
 * lookup and a list of the outputs; a row with text categories spends more, converting each in
 * Python. Here one builtin call reads the dict's values into the raw slots, runs prep, trees and
 * transform, and returns the outputs as a list, or the answer Predictor.predict_row gives
 * (`answer` below: its labels and columns are Predictor's own objects, its rules Predictor's,
 * so the dict is the one Python would build).
 *
 * It uses the stable ABI of CPython 3.11 (one build serves every later CPython) and knows
 * nothing of the model: edgeml.runtime passes each raw slot's column and how to read it, the
 * category codes, edgeml_row_predict's address and the plan and forest it built and keeps
 * alive. A slot reads a value the way edgeml.runtime's to_number / to_text / to_datetime would,
 * only for the values where that is short here: a float, an int, a bool or None for a number; a
 * str among the model's categories (as written after stripping, so stripping changes nothing) or
 * None for a category; None or ISO text in its plain shape ("2024-03-15", "2024-03-15 14:05",
 * "2024-03-15T14:05:07.25Z") for a date. A row with any other value (not exactly a dict, a
 * column missing, text for a number, an unseen or padded category, a date with an offset, a
 * NumPy scalar or datetime object) gives None, and the caller converts that row in Python, with
 * the same rules and errors as before.
 */
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "edgeml_row.h"

typedef int (*row_function)(const edgeml_row *);

/* How a raw slot reads its column's value: to_number's logical types, a category's code, or
 * to_datetime's as Unix seconds (a date at its midnight) */
enum kind { FLOAT, INT, BOOL, CODE, DATE, DATETIME };

typedef struct slot {
    PyObject *key;       /* the column */
    Py_ssize_t raw;      /* the raw slot it fills */
    enum kind kind;
    PyObject *codes;     /* CODE: a dict of category -> code (a float) */
} slot;

/* What a call returns: the outputs, or Predictor.predict_row's dict (edgeml/runtime) */
enum answer { OUTPUTS, VALUE, BINARY, CLASSES };

typedef struct bound {
    slot *slots;           /* what fills the raw slots, n_slots of them */
    Py_ssize_t n_slots;
    row_function predict;  /* edgeml_row_predict of the core that opened the forest */
    edgeml_row row;        /* plan and forest; raw, features, out and work in `buffer` */
    Py_ssize_t n_raw, n_out;
    size_t bytes;          /* of `buffer` */
    double *buffer;        /* one call's buffers; a call that finds it busy takes its own */
    unsigned char busy;    /* set while a call (with the GIL released) uses `buffer` */
    enum answer answer;
    double threshold;      /* BINARY: the label is labels[1] where p > threshold */
    PyObject *labels;      /* BINARY, CLASSES: a tuple of the class labels */
    PyObject *columns;     /* BINARY, CLASSES: a tuple of the "proba_<class>" names */
    PyObject *keep;        /* what holds the plan and the forest: alive as long as we are */
} bound;

static PyObject *PREDICTION; /* "prediction", interned */

static const char CAPSULE[] = "edgeml_pyrow.bound";

static void bound_free_struct(bound *b)
{
    Py_ssize_t i;
    for (i = 0; b->slots != NULL && i < b->n_slots; ++i) {
        Py_XDECREF(b->slots[i].key);
        Py_XDECREF(b->slots[i].codes);
    }
    free(b->slots);
    Py_XDECREF(b->labels);
    Py_XDECREF(b->columns);
    Py_XDECREF(b->keep);
    free(b->buffer);
    free(b);
}

static void bound_free(PyObject *capsule)
{
    bound *b = (bound *)PyCapsule_GetPointer(capsule, CAPSULE);
    if (b != NULL) {
        bound_free_struct(b);
    }
}

/* row, features, out and work of a call laid out in `buffer`, 8-byte aligned each */
static edgeml_row layout(const bound *b, double *buffer)
{
    edgeml_row row = b->row;
    row.raw = buffer;
    row.features = row.raw + b->n_raw;
    row.out = row.features + b->row.plan->n_features;
    row.work = (uint32_t *)(void *)(row.out + b->n_out);
    return row;
}

/* d[key] = value, stealing the reference to value; -1 on error (value released) */
static int put(PyObject *d, PyObject *key, PyObject *value)
{
    int status = value == NULL ? -1 : PyDict_SetItem(d, key, value);
    Py_XDECREF(value);
    return status;
}

static PyObject *outputs(const double *out, Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    Py_ssize_t i;
    for (i = 0; list != NULL && i < n; ++i) {
        PyObject *item = PyFloat_FromDouble(out[i]);
        if (item == NULL || PyList_SetItem(list, i, item) < 0) {
            Py_CLEAR(list);
        }
    }
    return list;
}

/* Predictor.predict_row's dict, by its rules: a value; a binary model's label (labels[1] if
 * p > threshold, else labels[0]) and [1 - p, p]; or the first most probable class and each
 * class's probability (the first index of the max, as list.index(max(list))) */
static PyObject *answer(const bound *b, const double *out)
{
    PyObject *d, *label;
    Py_ssize_t i, best = 0;
    if (b->answer == OUTPUTS) {
        return outputs(out, b->n_out);
    }
    d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    if (b->answer == VALUE) {
        if (put(d, PREDICTION, PyFloat_FromDouble(out[0])) < 0) {
            Py_CLEAR(d);
        }
        return d;
    }
    if (b->answer == BINARY) {
        label = PyTuple_GetItem(b->labels, out[0] > b->threshold ? 1 : 0);
        Py_XINCREF(label);
        if (put(d, PREDICTION, label) < 0 ||
            put(d, PyTuple_GetItem(b->columns, 0), PyFloat_FromDouble(1.0 - out[0])) < 0 ||
            put(d, PyTuple_GetItem(b->columns, 1), PyFloat_FromDouble(out[0])) < 0) {
            Py_CLEAR(d);
        }
        return d;
    }
    for (i = 1; i < b->n_out; ++i) {
        if (out[i] > out[best]) {
            best = i;
        }
    }
    label = PyTuple_GetItem(b->labels, best);
    Py_XINCREF(label);
    if (put(d, PREDICTION, label) < 0) {
        Py_CLEAR(d);
    }
    for (i = 0; d != NULL && i < b->n_out; ++i) {
        if (put(d, PyTuple_GetItem(b->columns, i), PyFloat_FromDouble(out[i])) < 0) {
            Py_CLEAR(d);
        }
    }
    return d;
}

/* The number written by the k ASCII digits at s, or -1 if one of them is not a digit */
static long digits(const char *s, int k)
{
    long number = 0;
    int i;
    for (i = 0; i < k; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        number = number * 10 + (s[i] - '0');
    }
    return number;
}

/* Unix seconds of ISO text in its plain shape: "YYYY-MM-DD", then optionally "T" or " " and
 * "HH:MM", then ":SS", ".digits" and "Z", "z", "UTC" or " UTC" (what parse_datetime reads as
 * UTC); the day alone where `day_only`. 1 where the text is such a real day and time (seconds
 * floored, as epoch_micros(stamp) // 10**6: a fraction never changes them), 0 for any other
 * text: padding, one-digit fields, an offset, a leap second, a missing word, a day that does
 * not exist. */
static int iso_seconds(PyObject *text, int day_only, double *x)
{
    static const int BEFORE[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    static const int LENGTH[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    Py_ssize_t n, i = 10;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    long year, month, day, hour = 0, minute = 0, second = 0, prior;
    int leap;
    if (s == NULL) {
        PyErr_Clear(); /* lone surrogates: Python's parser refuses them, naming the column */
        return 0;
    }
    if (n < 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }
    year = digits(s, 4), month = digits(s + 5, 2), day = digits(s + 8, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1) {
        return 0;
    }
    leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > LENGTH[month - 1] + (month == 2 && leap)) {
        return 0;
    }
    if (n > 10) {
        if ((s[10] != 'T' && s[10] != ' ') || n < 16 || s[13] != ':') {
            return 0;
        }
        hour = digits(s + 11, 2), minute = digits(s + 14, 2);
        i = 16;
        if (n > 16 && s[16] == ':') {
            second = n >= 19 ? digits(s + 17, 2) : -1;
            i = 19;
            if (i < n && s[i] == '.') {
                Py_ssize_t first = ++i;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    ++i;
                }
                if (i == first) {
                    return 0;
                }
            }
            if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
                ++i;
            } else if (n - i >= 3 && memcmp(s + n - 3, "UTC", 3) == 0 &&
                       (n - i == 3 || (n - i == 4 && s[i] == ' '))) {
                i = n;
            }
        }
        if (i != n || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
            second > 59) {
            return 0;
        }
    }
    prior = year - 1;
    *x = (double)(365 * prior + prior / 4 - prior / 100 + prior / 400 + BEFORE[month - 1] +
                  (month > 2 && leap) + day - 1 - 719162) * 86400.0; /* days since 1970-01-01 */
    if (!day_only) {
        *x += (double)(hour * 3600 + minute * 60 + second);
    }
    return 1;
}

/* `value` as to_number(value, logical), the category's code, or to_datetime's Unix seconds,
 * into *x: 1; 0 where that takes more than this (the caller's Python converts it, or raises
 * what it raises) */
static int read_value(const slot *s, PyObject *value, double *x)
{
    PyObject *code;
    if (value == Py_None) {
        *x = Py_NAN; /* missing: the plan imputes */
        return 1;
    }
    if (s->kind == CODE) {
        if (!PyUnicode_CheckExact(value)) {
            return 0;
        }
        code = PyDict_GetItemWithError(s->codes, value); /* borrowed */
        if (code == NULL) {
            return 0; /* unseen, or padded with whitespace: Python strips and looks again */
        }
        *x = PyFloat_AsDouble(code);
        return 1;
    }
    if (s->kind == DATE || s->kind == DATETIME) {
        return PyUnicode_CheckExact(value) && iso_seconds(value, s->kind == DATE, x);
    }
    if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AsDouble(value);
        if (s->kind == FLOAT || number != number) {
            *x = number;
            return 1;
        }
        if (s->kind == BOOL) {
            if (number != 0.0 && number != 1.0) {
                return 0;
            }
        } else if (!(number == floor(number) && fabs(number) < 9223372036854775808.0)) {
            return 0; /* not a whole number inside int64 (inf fails the first test) */
        }
        *x = number + 0.0; /* -0.0 -> 0.0, the whole number it stands for */
        return 1;
    }
    if (value == Py_True || value == Py_False) {
        *x = value == Py_True ? 1.0 : 0.0;
        return 1;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long whole = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow != 0 || (whole == -1 && PyErr_Occurred())) {
            return 0; /* beyond int64: Python's rules (float: float(int), else refused) */
        }
        if (s->kind == BOOL && whole != 0 && whole != 1) {
            return 0;
        }
        *x = PyLong_AsDouble(value); /* float(int): correctly rounded */
        return *x != -1.0 || !PyErr_Occurred();
    }
    return 0;
}

static PyObject *predict(PyObject *capsule, PyObject *values)
{
    bound *b = (bound *)PyCapsule_GetPointer(capsule, CAPSULE);
    double *buffer, *own = NULL;
    edgeml_row row;
    PyObject *list;
    Py_ssize_t i, n;
    int status;
    if (b == NULL) {
        return NULL;
    }
    if (!PyDict_CheckExact(values)) {
        Py_RETURN_NONE;
    }
    if (__atomic_test_and_set(&b->busy, __ATOMIC_ACQUIRE)) {
        own = (double *)malloc(b->bytes); /* another thread's call holds the shared one */
        if (own == NULL) {
            return PyErr_NoMemory();
        }
    }
    buffer = own != NULL ? own : b->buffer;
    n = b->n_slots;
    for (i = 0; i < n; ++i) {
        const slot *s = &b->slots[i];
        /* borrowed: the dict holds it while we hold the GIL */
        PyObject *value = PyDict_GetItemWithError(values, s->key);
        if (value == NULL || !read_value(s, value, &buffer[s->raw])) {
            break;
        }
    }
    if (i < n) { /* the caller's Python path converts it, and raises what it raises */
        PyErr_Clear();
        if (own != NULL) {
            free(own);
        } else {
            __atomic_clear(&b->busy, __ATOMIC_RELEASE);
        }
        Py_RETURN_NONE;
    }
    row = layout(b, buffer);
    Py_BEGIN_ALLOW_THREADS
    status = b->predict(&row);
    Py_END_ALLOW_THREADS
    list = status == 0 ? answer(b, row.out) : NULL;
    if (own != NULL) {
        free(own);
    } else {
        __atomic_clear(&b->busy, __ATOMIC_RELEASE);
    }
    if (status != 0) {
        PyErr_SetString(PyExc_ValueError, "edgeml_row_predict refused the row's plan and forest");
    }
    return list;
}

static PyMethodDef PREDICT = {"predict", predict, METH_O,
                              "predict(row: dict) -> the model's outputs or answer, or None"};

/* The answer's kind from its spec: None, ("value",), ("binary", threshold, labels, columns)
 * or ("classes", labels, columns), labels and columns tuples of 2 or n_out items. */
static int read_answer(bound *b, PyObject *spec)
{
    const char *kind;
    PyObject *name;
    Py_ssize_t n, want;
    if (spec == Py_None) {
        b->answer = OUTPUTS;
        return 0;
    }
    n = PyTuple_Check(spec) ? PyTuple_Size(spec) : 0;
    name = n > 0 ? PyTuple_GetItem(spec, 0) : NULL;
    kind = name != NULL && PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, NULL) : NULL;
    if (kind != NULL && strcmp(kind, "value") == 0 && n == 1) {
        b->answer = VALUE;
        return 0;
    }
    if (kind != NULL && strcmp(kind, "binary") == 0 && n == 4 && b->n_out == 1) {
        b->answer = BINARY;
        b->threshold = PyFloat_AsDouble(PyTuple_GetItem(spec, 1));
        if (b->threshold == -1.0 && PyErr_Occurred()) {
            return -1;
        }
        want = 2;
    } else if (kind != NULL && strcmp(kind, "classes") == 0 && n == 3) {
        b->answer = CLASSES;
        want = b->n_out;
    } else {
        PyErr_SetString(PyExc_ValueError, "bind: an answer spec this module does not know");
        return -1;
    }
    b->labels = PyTuple_GetItem(spec, n - 2);
    b->columns = PyTuple_GetItem(spec, n - 1);
    if (!PyTuple_Check(b->labels) || !PyTuple_Check(b->columns) ||
        PyTuple_Size(b->labels) != want || PyTuple_Size(b->columns) != want) {
        b->labels = b->columns = NULL;
        PyErr_SetString(PyExc_ValueError, "bind: the answer's labels and columns do not fit");
        return -1;
    }
    Py_INCREF(b->labels);
    Py_INCREF(b->columns);
    return 0;
}

/* The slots from `keys`: a str is a float column filling the raw slot of its position (what
 * the first version of this module took); else a tuple (column, raw slot, kind, codes), codes
 * a dict for CODE and None otherwise */
static int read_slots(bound *b, PyObject *keys, Py_ssize_t n_raw)
{
    Py_ssize_t i, n = PyTuple_Size(keys);
    b->slots = (slot *)calloc(n > 0 ? (size_t)n : 1, sizeof(slot));
    if (b->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->n_slots = n;
    for (i = 0; i < n; ++i) {
        PyObject *item = PyTuple_GetItem(keys, i), *key = item, *codes = Py_None;
        Py_ssize_t raw = i;
        long kind = FLOAT;
        if (PyTuple_Check(item)) {
            if (PyTuple_Size(item) != 4) {
                PyErr_SetString(PyExc_ValueError, "bind: a slot is (column, raw, kind, codes)");
                return -1;
            }
            key = PyTuple_GetItem(item, 0);
            raw = PyLong_AsSsize_t(PyTuple_GetItem(item, 1));
            kind = PyLong_AsLong(PyTuple_GetItem(item, 2));
            codes = PyTuple_GetItem(item, 3);
            if (PyErr_Occurred()) {
                return -1;
            }
        }
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "bind: the columns must be str");
            return -1;
        }
        if (raw < 0 || raw >= n_raw || kind < FLOAT || kind > DATETIME ||
            (kind == CODE) != PyDict_Check(codes)) {
            PyErr_SetString(PyExc_ValueError, "bind: a slot out of range, or its codes amiss");
            return -1;
        }
        Py_INCREF(key);
        b->slots[i].key = key;
        b->slots[i].raw = raw;
        b->slots[i].kind = (enum kind)kind;
        if (kind == CODE) {
            Py_INCREF(codes);
            b->slots[i].codes = codes;
        }
    }
    return 0;
}

/* bind(keys, predict_address, plan_address, forest_address, n_raw, n_out, work_words,
 *      answer=None, keep=None), keys as read_slots takes them; `keep` must not hold the
 * function bind returns (a capsule is no part of the garbage collector's cycles: such a cycle
 * would never be freed) */
static PyObject *bind(PyObject *module, PyObject *args)
{
    PyObject *keys, *capsule, *function, *spec = Py_None, *keep = Py_None;
    unsigned long long predict_address, plan_address, forest_address;
    Py_ssize_t n_raw, n_out, work_words;
    bound *b;
    size_t doubles;
    if (!PyArg_ParseTuple(args, "O!KKKnnn|OO", &PyTuple_Type, &keys, &predict_address,
                          &plan_address, &forest_address, &n_raw, &n_out, &work_words, &spec,
                          &keep)) {
        return NULL;
    }
    if (predict_address == 0 || plan_address == 0 || forest_address == 0 || n_raw < 0 ||
        n_out < 1 || work_words < 0 || PyTuple_Size(keys) > n_raw) {
        PyErr_SetString(PyExc_ValueError, "bind: a null address or an impossible size");
        return NULL;
    }
    b = (bound *)calloc(1, sizeof(bound));
    if (b == NULL) {
        return PyErr_NoMemory();
    }
    b->predict = (row_function)(size_t)predict_address;
    b->row.plan = (const edgeml_plan *)(size_t)plan_address;
    b->row.forest = (const edgeml_forest *)(size_t)forest_address;
    b->n_raw = n_raw;
    b->n_out = n_out;
    if (read_slots(b, keys, n_raw) < 0 || read_answer(b, spec) < 0) {
        bound_free_struct(b);
        return NULL;
    }
    doubles = (size_t)n_raw + b->row.plan->n_features + (size_t)n_out +
              ((size_t)work_words + 1) / 2;
    b->bytes = doubles * sizeof(double);
    b->buffer = (double *)calloc(doubles, sizeof(double));
    if (b->buffer == NULL) {
        bound_free_struct(b);
        return PyErr_NoMemory();
    }
    Py_INCREF(keep);
    b->keep = keep;
    capsule = PyCapsule_New(b, CAPSULE, bound_free);
    if (capsule == NULL) {
        bound_free_struct(b);
        return NULL;
    }
    function = PyCFunction_NewEx(&PREDICT, capsule, module);
    Py_DECREF(capsule); /* the function holds it */
    return function;
}

static PyMethodDef METHODS[] = {
    {"bind", bind, METH_VARARGS,
     "bind(keys, predict, plan, forest, n_raw, n_out, work_words, answer=None, keep=None) "
     "-> predict(row)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "edgeml_pyrow", "A dict of row values to edgeml_row_predict.", -1,
    METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_edgeml_pyrow(void)
{
    PyObject *module;
    if (PREDICTION == NULL) {
        PREDICTION = PyUnicode_InternFromString("prediction");
        if (PREDICTION == NULL) {
            return NULL;
        }
    }
    module = PyModule_Create(&MODULE);
    /* 3: date slots too; 2: (column, raw, kind, codes) slots; 1 (no VERSION): float columns */
    if (module != NULL && PyModule_AddIntConstant(module, "VERSION", 3) < 0) {
        Py_CLEAR(module);
    }
    return module;
}

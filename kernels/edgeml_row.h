/*
 * edgeml_row.h - one raw row through prep and trees in one call (edgeml's host runtime).
 *
 * edgeml.runtime's native backend turns a row (a dict) into raw doubles - numbers, category
 * codes, Unix seconds, as the C package takes them (edgeml_core.h) - and makes this one call:
 * the prep plan (tables passed as data, edgeml_apply_plan), the forest's codes and trees, and
 * LightGBM's output transform (edgeml_forest_one). Everything a call needs hangs off one
 * struct, so a foreign call passes a single pointer.
 */
#ifndef EDGEML_ROW_H
#define EDGEML_ROW_H

#include "edgeml_core.h"
#include "edgeml_forest.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Where CPython keeps what edgeml_row_predict_floats reads: a tuple's item pointers, an
 * object's type pointer and a float object's double (byte offsets). edgeml.runtime measures
 * them at start-up on live objects and checks them before use; without them (another Python,
 * a check that failed) it converts the values in Python and calls edgeml_row_predict.
 */
typedef struct edgeml_py_floats {
    size_t count;           /* raw[0 .. count - 1] are read from the tuple's first items */
    size_t items;           /* offset of a tuple's first item pointer */
    size_t type;            /* offset of an object's type pointer */
    size_t value;           /* offset of a float object's double */
    const void *float_type; /* the type `float` */
} edgeml_py_floats;

typedef struct edgeml_row {
    const edgeml_plan *plan;
    const edgeml_forest *forest;
    double *raw;      /* plan->n_inputs raw values (the caller's) */
    double *features; /* plan->n_features doubles (== forest->n_features), scratch */
    double *out;      /* forest->n_outputs values: LightGBM's Booster.predict */
    uint32_t *work;   /* edgeml_forest_one_size(forest) uint32s, 8-byte aligned */
    const edgeml_py_floats *floats; /* for edgeml_row_predict_floats; NULL otherwise */
} edgeml_row;

/*
 * Prep, trees and transform of row->raw into row->out. Returns 0, or -1 without touching
 * anything when row is NULL or its plan and forest disagree on the feature count (a call
 * with NULL is how edgeml measures the cost of the foreign call itself).
 */
int edgeml_row_predict(const edgeml_row *row);

/*
 * edgeml_row_predict after reading raw[0 .. floats->count - 1] from the items of `values`, a
 * Python tuple of at least that many items that the caller holds (tuples and floats are
 * immutable, so no lock is needed): one foreign call does the host's conversion, the prep,
 * the trees and the transform. Returns 1 and predicts nothing as soon as an item is not
 * exactly a float (an int, a bool, a str, a NumPy scalar: the caller converts those itself),
 * -1 as edgeml_row_predict or when row->floats is NULL, 0 once row->out holds the outputs.
 */
int edgeml_row_predict_floats(const edgeml_row *row, const void *values);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_ROW_H */

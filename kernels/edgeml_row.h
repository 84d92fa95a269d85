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

typedef struct edgeml_row {
    const edgeml_plan *plan;
    const edgeml_forest *forest;
    const double *raw; /* plan->n_inputs raw values */
    double *features;  /* plan->n_features doubles (== forest->n_features), scratch */
    double *out;       /* forest->n_outputs values: LightGBM's Booster.predict */
    uint32_t *work;    /* edgeml_forest_work_size(forest, 1) uint32s, 8-byte aligned */
} edgeml_row;

/*
 * Prep, trees and transform of row->raw into row->out. Returns 0, or -1 without touching
 * anything when row is NULL or its plan and forest disagree on the feature count (a call
 * with NULL is how edgeml measures the cost of the foreign call itself).
 */
int edgeml_row_predict(const edgeml_row *row);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_ROW_H */

/*
 * edgeml_row.c - prep plan, trees and transform of one raw row (see edgeml_row.h).
 */
#include "edgeml_row.h"

#include <string.h>

int edgeml_row_predict(const edgeml_row *row)
{
    size_t i;
    if (row == NULL || row->plan == NULL || row->forest == NULL ||
        row->plan->n_features != row->forest->n_features) {
        return -1;
    }
    for (i = 0; i < row->plan->n_features; ++i) {
        row->features[i] = 0.0; /* a feature no step writes reads 0, as edgeml's executors */
    }
    edgeml_apply_plan(row->plan, row->raw, row->features);
    edgeml_forest_one(row->forest, row->features, row->out, row->work);
    return 0;
}

int edgeml_row_predict_floats(const edgeml_row *row, const void *values)
{
    const edgeml_py_floats *py;
    const unsigned char *tuple = (const unsigned char *)values;
    size_t i;
    if (row == NULL || row->floats == NULL || values == NULL) {
        return -1;
    }
    py = row->floats;
    for (i = 0; i < py->count; ++i) {
        const unsigned char *item;
        const void *type;
        memcpy(&item, tuple + py->items + i * sizeof(item), sizeof(item));
        memcpy(&type, item + py->type, sizeof(type));
        if (type != py->float_type) {
            return 1;
        }
        memcpy(&row->raw[i], item + py->value, sizeof(double));
    }
    return edgeml_row_predict(row);
}

/*
 * edgeml_core.h - the portable native core of edgeml's C packages.
 *
 * A fitted prep plan is data: edgeml generates it as static const tables (edgeml_model.c) and
 * this core executes them, with the same arithmetic as edgeml's Polars and NumPy executors, so a
 * device computes exactly the model features LightGBM was trained on. It also converts those
 * features into the form the generated tree code expects (edgeml_tree_inputs), so the trees
 * decide every split as LightGBM does.
 *
 * C99, no allocation, no global state: every function works on caller-owned memory and is
 * thread-safe. Missing values are NaN throughout.
 */
#ifndef EDGEML_CORE_H
#define EDGEML_CORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "No such feature": an unused output slot (e.g. a step without a missing indicator). */
#define EDGEML_NONE ((size_t)-1)

/* LightGBM's kZeroThreshold (1e-35f): its predictor reads a value this close to 0 as 0. */
#define EDGEML_ZERO_THRESHOLD ((double)1e-35f)

/*
 * A numeric (or boolean 0/1) input: clip, flag missing, impute, scale, in that order.
 * The identity values stand for "not done": lo = -HUGE_VAL and hi = HUGE_VAL (no clipping),
 * impute = NaN (a missing value stays missing), center = 0 and inverse = 1 (no scaling) -
 * each leaves every value unchanged bit for bit, so the executor needs no flags.
 */
typedef struct edgeml_numeric_step {
    size_t input;     /* index of the raw input column */
    size_t output;    /* index of the feature written */
    size_t indicator; /* index of the 0/1 missing-indicator feature, or EDGEML_NONE */
    double lo, hi;    /* clip bounds (training fences) */
    double impute;    /* value used when the input is missing, before scaling */
    double center;    /* scaled value = (x - center) * inverse */
    double inverse;   /* 1 / scale: every executor multiplies by the inverse */
} edgeml_numeric_step;

/* How a categorical input becomes features. */
enum edgeml_encoding {
    EDGEML_NATIVE = 0,   /* one feature: the category code (a LightGBM categorical) */
    EDGEML_ONEHOT = 1,   /* one 0/1 feature per category, all 0 for unseen or missing */
    EDGEML_FREQUENCY = 2 /* one feature: the category's training share, 0 for unseen/missing */
};

/*
 * A categorical input given as a code: an integer in [0, n_categories) names a training
 * category; NaN is missing; anything else (negative, too large, fractional, infinite) is an
 * unseen category, treated like a missing one (never an error).
 */
typedef struct edgeml_categorical_step {
    size_t input;             /* index of the raw input column */
    int encoding;             /* enum edgeml_encoding */
    size_t output;            /* first feature written (one-hot: n_categories in a row) */
    size_t n_categories;      /* codes 0 .. n_categories - 1 */
    double impute_code;       /* code used for a missing input, or NaN */
    const double *frequencies; /* EDGEML_FREQUENCY: share of each code; NULL otherwise */
} edgeml_categorical_step;

/* Calendar parts of a date or datetime input (weekday: Monday = 1). */
enum edgeml_date_part {
    EDGEML_YEAR = 0,
    EDGEML_MONTH = 1,
    EDGEML_DAY = 2,
    EDGEML_WEEKDAY = 3,
    EDGEML_DAY_OF_YEAR = 4,
    EDGEML_HOUR = 5,
    EDGEML_MINUTE = 6
};

/*
 * A date or datetime input given as Unix seconds (UTC, fractions floored) expanded to calendar
 * parts. NaN, infinities and values beyond +-9.2e12 s (the range of a microsecond timestamp)
 * are missing: every part NaN.
 */
typedef struct edgeml_date_step {
    size_t input;                /* index of the raw input column */
    size_t n_parts;
    const unsigned char *parts;  /* enum edgeml_date_part, n_parts of them */
    const size_t *outputs;       /* feature written for each part */
} edgeml_date_step;

/* A whole prep plan: every step of each kind (a count of 0 allows a NULL pointer). */
typedef struct edgeml_plan {
    size_t n_inputs;
    size_t n_features;
    size_t n_numeric;
    const edgeml_numeric_step *numeric;
    size_t n_categorical;
    const edgeml_categorical_step *categorical;
    size_t n_dates;
    const edgeml_date_step *dates;
} edgeml_plan;

/* How the tree code reads one feature; see edgeml_tree_inputs. */
enum edgeml_tree_input {
    EDGEML_TREE_NUMERIC = 0,      /* numeric splits, NaN-missing or no missing type */
    EDGEML_TREE_ZERO_MISSING = 1, /* numeric splits with LightGBM's zero_as_missing */
    EDGEML_TREE_CATEGORICAL = 2   /* LightGBM native categorical splits */
};

/*
 * Run a prep plan on one row: raw[plan->n_inputs] in, features[plan->n_features] out.
 * Example: a plan with one numeric step {input 0, output 0, indicator NONE, lo -HUGE_VAL,
 * hi HUGE_VAL, impute 0.5, center 0, inverse 1} maps raw {NaN} to features {0.5}.
 */
void edgeml_apply_plan(const edgeml_plan *plan, const double *raw, double *features);

/*
 * Convert model features in place into the values the generated tree code must see to decide
 * each split as LightGBM's predictor does (kinds[i] is an enum edgeml_tree_input):
 *  - every feature: |x| <= EDGEML_ZERO_THRESHOLD becomes 0.0 (LightGBM drops such values from a
 *    dense row, so its trees see 0);
 *  - EDGEML_TREE_ZERO_MISSING: 0 and NaN become NaN, which the tree code sends the way
 *    LightGBM sends zeros (edgeml sets those default directions when generating the code);
 *  - EDGEML_TREE_CATEGORICAL: LightGBM truncates toward zero, so (-1, 0) is category 0; values
 *    <= -1, >= 2^24 or infinite go right in LightGBM and become NaN (also right in the tree
 *    code), which also keeps the tree code's unsigned conversion defined.
 */
void edgeml_tree_inputs(const unsigned char *kinds, size_t n, double *x);

/*
 * Civil date of a day count since 1970-01-01 (proleptic Gregorian), e.g. 0 -> 1970-01-01 and
 * -1 -> 1969-12-31. day_of_year is 1 for 1 January.
 */
void edgeml_civil_from_days(long long days, long long *year, int *month, int *day,
                            int *day_of_year);

#ifdef __cplusplus
}
#endif

#endif /* EDGEML_CORE_H */

/*
 * edgeml_core.c - prep plan executor and LightGBM input conversion (see edgeml_core.h).
 *
 * The arithmetic mirrors edgeml's Polars executor operation for operation (clip, then impute,
 * then (x - center) * inverse) so results are equal bit for bit, not just close. Build with
 * -ffp-contract=off (the package Makefile does): a fused multiply-add would round differently.
 */
#include "edgeml_core.h"

#include <math.h>

/* Beyond this many seconds a timestamp does not fit a microsecond int64: treated as missing. */
#define EDGEML_MAX_SECONDS 9.2e12
#define EDGEML_DAY_SECONDS 86400LL

static void apply_numeric(const edgeml_numeric_step *step, const double *raw, double *features)
{
    double x = raw[step->input];
    int missing = x != x;
    if (missing) {
        /* Polars fills nulls after clipping, so the imputed value is scaled but not clipped. */
        x = step->impute;
    } else if (x < step->lo) {
        x = step->lo;
    } else if (x > step->hi) {
        x = step->hi;
    }
    features[step->output] = (x - step->center) * step->inverse;
    if (step->indicator != EDGEML_NONE) {
        features[step->indicator] = missing ? 1.0 : 0.0;
    }
}

/* The code of a categorical input, or EDGEML_NONE for unseen or missing. */
static size_t category_code(const edgeml_categorical_step *step, double x)
{
    size_t code;
    if (x != x) {
        x = step->impute_code; /* NaN when the plan imputes nothing */
    }
    if (!(x >= 0.0 && x < (double)step->n_categories)) {
        return EDGEML_NONE; /* NaN, negative, too large or infinite */
    }
    code = (size_t)x; /* defined: x is in range */
    return (double)code == x ? code : EDGEML_NONE;
}

static void apply_categorical(const edgeml_categorical_step *step, const double *raw,
                              double *features)
{
    size_t code = category_code(step, raw[step->input]);
    size_t k;
    switch (step->encoding) {
    case EDGEML_ONEHOT:
        for (k = 0; k < step->n_categories; ++k) {
            features[step->output + k] = 0.0;
        }
        if (code != EDGEML_NONE) {
            features[step->output + code] = 1.0;
        }
        break;
    case EDGEML_FREQUENCY:
        features[step->output] = code != EDGEML_NONE ? step->frequencies[code] : 0.0;
        break;
    default: /* EDGEML_NATIVE */
        features[step->output] = code != EDGEML_NONE ? (double)code : NAN;
        break;
    }
}

/* Floor division and modulo, for negative timestamps (before 1970). */
static long long floor_div(long long a, long long b)
{
    long long q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void apply_date(const edgeml_date_step *step, const double *raw, double *features)
{
    double x = raw[step->input];
    long long seconds, days, within, year;
    int month, day, day_of_year;
    size_t k;
    if (!(x >= -EDGEML_MAX_SECONDS && x <= EDGEML_MAX_SECONDS)) { /* NaN, inf, out of range */
        for (k = 0; k < step->n_parts; ++k) {
            features[step->outputs[k]] = NAN;
        }
        return;
    }
    seconds = (long long)floor(x);
    days = floor_div(seconds, EDGEML_DAY_SECONDS);
    within = seconds - days * EDGEML_DAY_SECONDS;
    edgeml_civil_from_days(days, &year, &month, &day, &day_of_year);
    for (k = 0; k < step->n_parts; ++k) {
        double value;
        switch (step->parts[k]) {
        case EDGEML_YEAR: value = (double)year; break;
        case EDGEML_MONTH: value = (double)month; break;
        case EDGEML_DAY: value = (double)day; break;
        /* 1970-01-01 was a Thursday (4); Monday = 1 */
        case EDGEML_WEEKDAY: value = (double)(days - 7 * floor_div(days + 3, 7) + 4); break;
        case EDGEML_DAY_OF_YEAR: value = (double)day_of_year; break;
        case EDGEML_HOUR: value = (double)(within / 3600); break;
        case EDGEML_MINUTE: value = (double)(within / 60 % 60); break;
        default: value = NAN; break;
        }
        features[step->outputs[k]] = value;
    }
}

void edgeml_apply_plan(const edgeml_plan *plan, const double *raw, double *features)
{
    size_t i;
    for (i = 0; i < plan->n_numeric; ++i) {
        apply_numeric(&plan->numeric[i], raw, features);
    }
    for (i = 0; i < plan->n_categorical; ++i) {
        apply_categorical(&plan->categorical[i], raw, features);
    }
    for (i = 0; i < plan->n_dates; ++i) {
        apply_date(&plan->dates[i], raw, features);
    }
}

void edgeml_tree_inputs(const unsigned char *kinds, size_t n, double *x)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        double v = x[i];
        if (v >= -EDGEML_ZERO_THRESHOLD && v <= EDGEML_ZERO_THRESHOLD) {
            v = 0.0; /* NaN fails both tests and stays NaN */
        }
        switch (kinds[i]) {
        case EDGEML_TREE_ZERO_MISSING:
            if (v != v || v == 0.0) {
                v = NAN;
            }
            break;
        case EDGEML_TREE_CATEGORICAL:
            if (!(v > -1.0 && v < 16777216.0)) {
                v = NAN;
            } else if (v < 0.0) {
                v = 0.0;
            }
            break;
        default:
            break;
        }
        x[i] = v;
    }
}

/* Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms). */
static long long days_from_civil(long long y, int m, int d)
{
    long long era;
    long long yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void edgeml_civil_from_days(long long days, long long *year, int *month, int *day,
                            int *day_of_year)
{
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    long long y = yoe + era * 400 + (m <= 2);
    *year = y;
    *month = m;
    *day = d;
    *day_of_year = (int)(days - days_from_civil(y, 1, 1) + 1);
}

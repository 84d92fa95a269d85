"""TL2cgen's C code for a LightGBM model, adapted so that every decision is LightGBM's.

:func:`generate` writes TL2cgen's sources for a booster, rewrites them (see below) and adds
``edgeml_entry.c`` with the entry points every edgeml library exports::

    void edgeml_predict_row(const double* x, double* out);            one row
    int  edgeml_predict_batch(const double* x, long n, double* out,   n rows, row-major;
                              int nthread);                           0, or -1 on bad arguments
    int  edgeml_num_feature(void);  int edgeml_num_output(void);  int edgeml_abi_version(void);

``x`` holds the model's features as doubles, NaN for missing; ``out`` receives LightGBM's output
(``num_output`` values per row: a probability, a value, or K class probabilities). A batch runs
the tree units over blocks of rows (each unit's code stays in the instruction cache for the
block), on ``nthread`` threads each taking a contiguous share of the rows; the sums are the
single-row ones, in the same order.

Where TL2cgen/Treelite and LightGBM differ, and what is done about it:

- **Missing values.** TL2cgen reads ``union Entry {int missing; double fvalue; int qvalue;}`` and
  tests ``data[i].missing != -1``: a real double whose low 32 bits are 0xFFFFFFFF would read as
  missing. The sources are rewritten to read a plain ``const double*`` and test ``!isnan(x)``,
  so missing is exactly NaN (quantized thresholds go to a separate ``int`` array).
- **Tiny values.** LightGBM keeps only ``|x| > kZeroThreshold`` (1e-35f) of a dense row, so
  smaller values are 0 (a threshold of -1e-35 sends -1e-35 right); the entry point does the same.
- **zero_as_missing** (missing type Zero). LightGBM sends 0 and NaN the node's default way;
  Treelite's loader overwrites that default with "where 0.0 goes". Such nodes are marked as
  missing type NaN in the model text given to Treelite (keeping LightGBM's default direction),
  and the entry point turns 0 into NaN for those features. A feature whose nodes mix missing
  types Zero and NaN cannot be expressed this way and is refused.
- **Missing type None.** LightGBM reads NaN as 0.0; Treelite sends NaN where 0.0 goes: equal.
- **Categorical splits.** LightGBM takes ``(int)x``: NaN and negative go right, -0.5 truncates
  to category 0 (Treelite would send it right), values beyond int32 go right on x86 (a cast C
  leaves undefined). The entry point truncates values in (-1, 2^31) and makes the rest NaN, which
  goes right; categories above 2^24 (Treelite's limit) are refused.

The parity gate proves the result on thresholds, their neighbours, NaN, ±inf, 0 and categories.

>>> code = generate(booster.model_to_string(), "build/")      # doctest: +SKIP
>>> [p.name for p in code.sources]                            # doctest: +SKIP
['main.c', 'tu0.c', 'edgeml_entry.c']
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeml.compile._entry_c import ENTRY_TEMPLATE
from edgeml.compile._forest import K_ZERO, parse_model
from edgeml.errors import ExportError

__all__ = [
    "ABI_VERSION",
    "CATEGORICAL",
    "NUMERIC",
    "ZERO_AS_MISSING",
    "TreeCode",
    "feature_kinds",
    "fingerprint",
    "generate",
    "normalize",
    "parallel_units",
    "split_features",
    "treelite_text",
]

ABI_VERSION = 1
NUMERIC, ZERO_AS_MISSING, CATEGORICAL = 0, 1, 2
_MAX_CATEGORY = 1 << 24  # Treelite's generated test accepts categories up to 2^24 only
_NODES_PER_UNIT = 1000  # about 200 KB of C: gcc -O2 needs ~2 s and ~80 MB per unit
_FINGERPRINT = hashlib.sha256(Path(__file__).read_bytes() + ENTRY_TEMPLATE.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class TreeCode:
    """Generated sources (compile them all, with ``directory`` as include path) and facts."""

    directory: Path
    sources: list[Path]
    num_feature: int
    num_output: int
    kinds: tuple[int, ...]
    params: dict[str, Any]


def fingerprint() -> str:
    """sha256 of this code generator (this module, as imported, and the entry template): part of
    every cache key built on ``generate``, so a changed generator never serves an old library."""
    return _FINGERPRINT


def feature_kinds(model_text: str, num_feature: int) -> tuple[int, ...]:
    """Per feature: NUMERIC, ZERO_AS_MISSING or CATEGORICAL, from the LightGBM model text.

    Raises ExportError for what TL2cgen cannot reproduce (see the module docstring).
    """
    kinds = [NUMERIC] * num_feature
    missing: dict[int, set[int]] = {}
    for tree in parse_model(model_text).trees:
        decisions = tree.decision_type.tolist()
        for feature, decision in zip(tree.split_feature.tolist(), decisions, strict=True):
            if decision & 1:
                kinds[feature] = CATEGORICAL
            else:
                missing.setdefault(feature, set()).add((decision >> 2) & 3)
        widest = int(np.diff(tree.cat_boundaries).max(initial=0))
        if widest * 32 > _MAX_CATEGORY:
            raise ExportError(
                f"a categorical split names categories up to {widest * 32}; TL2cgen handles "
                f"categories below {_MAX_CATEGORY} only"
            )
    for feature, types in missing.items():
        if kinds[feature] == CATEGORICAL:
            raise ExportError(f"feature {feature} has both categorical and numeric splits")
        if {1, 2} <= types:
            raise ExportError(
                f"feature {feature} has splits of missing type Zero and NaN; TL2cgen cannot "
                "express both (train with zero_as_missing on or off, not mixed)"
            )
        if 1 in types:
            kinds[feature] = ZERO_AS_MISSING
    return tuple(kinds)


def split_features(model_text: str) -> set[int]:
    """The features the trees split on (cheaper than ``Booster.dump_model`` for big models)."""
    return parse_model(model_text).split_features()


def treelite_text(model_text: str) -> str:
    """The model text Treelite should read: missing type Zero marked NaN (default way kept)."""

    def fix(match: re.Match[str]) -> str:
        values = [
            (d & ~12) | 8 if (d >> 2) & 3 == 1 else d for d in map(int, match.group(1).split())
        ]
        return "decision_type=" + " ".join(map(str, values))

    text = re.sub(r"^decision_type=(.*)$", fix, model_text, flags=re.MULTILINE)
    # tree_sizes (bytes per tree, to parse trees in parallel) no longer fits: LightGBM parses
    # the trees one after another without it.
    return re.sub(r"^tree_sizes=.*\n", "", text, flags=re.MULTILINE)


def normalize(matrix: np.ndarray, kinds: tuple[int, ...]) -> np.ndarray:
    """What the entry point does to each row before the trees, in NumPy (for annotation).

    >>> normalize(np.array([[0.0, -0.5, 1e-40]]), (ZERO_AS_MISSING, CATEGORICAL, NUMERIC))
    array([[nan,  0.,  0.]])
    """
    x = np.array(matrix, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        x[np.abs(x) <= K_ZERO] = 0.0
        for j, kind in enumerate(kinds):
            if kind == ZERO_AS_MISSING:
                x[x[:, j] == 0.0, j] = np.nan
            elif kind == CATEGORICAL:
                inside = (x[:, j] > -1.0) & (x[:, j] < 2.0**31)
                x[:, j] = np.where(inside, np.trunc(x[:, j]), np.nan) + 0.0
    return x


def parallel_units(model_text: str) -> int:
    """How many translation units to split the trees into, so each compiles in bounded time."""
    nodes = sum(len(tree.split_feature) for tree in parse_model(model_text).trees)
    return max(1, math.ceil(nodes / _NODES_PER_UNIT))


def generate(
    model_text: str,
    directory: str | Path,
    *,
    quantize: bool = False,
    annotate_rows: np.ndarray | None = None,
    parallel_comp: int | None = None,
) -> TreeCode:
    """Write the adapted TL2cgen sources and ``edgeml_entry.c`` for a LightGBM model text.

    ``annotate_rows`` (feature rows, e.g. training data) make TL2cgen mark each branch likely or
    unlikely from how often those rows take it.
    """
    import lightgbm as lgb
    import tl2cgen
    import treelite

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    booster = lgb.Booster(model_str=treelite_text(model_text))
    num_feature = booster.num_feature()
    kinds = feature_kinds(model_text, num_feature)
    try:
        model = treelite.frontend.from_lightgbm(booster)
    except treelite.TreeliteError as exc:
        raise ExportError(f"Treelite cannot read this LightGBM model: {exc}") from None
    units = parallel_comp or parallel_units(model_text)
    params: dict[str, Any] = {"parallel_comp": units, "quantize": int(quantize)}
    with tempfile.TemporaryDirectory(prefix="edgeml-annotate-") as scratch:
        if annotate_rows is not None and len(annotate_rows):
            path = Path(scratch) / "annotation.json"
            rows = normalize(annotate_rows, kinds)
            # One thread: a few thousand reference rows take milliseconds, and OpenMP's limit is
            # process-wide: after LightGBM ran with num_threads=1 in this process, asking
            # tl2cgen for 2 fails ("nthread cannot exceed 1").
            tl2cgen.annotate_branch(model, tl2cgen.DMatrix(rows), path, nthread=1)
            params["annotate_in"] = str(path)
        tl2cgen.generate_c_code(model, directory, params=params)
    recipe = json.loads((directory / "recipe.json").read_text())
    sources = [directory / f"{s['name']}.c" for s in recipe["sources"]]
    for path in [directory / "header.h", *sources]:
        path.write_text(_rewrite(path.read_text(), num_feature, quantize), encoding="utf-8")
    num_output = booster.num_model_per_iteration()
    main = (directory / "main.c").read_text()
    # predict()'s own call order: the sums must be added in it to stay bit-for-bit the same
    unit_names = re.findall(r"\b(predict_unit\d+)\(data\b", main.partition("void predict(")[2])
    # Blocks call the units then postprocess() directly, skipping predict(): only right when
    # its base scores are all 0 (Treelite's LightGBM loader sets them so) and not quantized.
    blocked = not quantize and bool(unit_names) and _zero_base_scores(main)
    entry = directory / "edgeml_entry.c"
    entry.write_text(
        _entry(num_feature, num_output, kinds, unit_names if blocked else []), encoding="utf-8"
    )
    params.pop("annotate_in", None)
    return TreeCode(
        directory=directory,
        sources=[*sources, entry],
        num_feature=num_feature,
        num_output=num_output,
        kinds=kinds,
        params={**params, "annotate": annotate_rows is not None and len(annotate_rows) > 0},
    )


# -- rewriting TL2cgen's sources -----------------------------------------------------------------

_NOT_MISSING_AND_LE = re.compile(
    r"\(!isnan\(data\[(\d+)\]\)\) && \(data\[\1\] <= (\(double\)[^()\s]+)\)"
)
_MISSING_OR_LE = re.compile(
    r"!\(!isnan\(data\[(\d+)\]\)\) \|\| \(data\[\1\] <= (\(double\)[^()\s]+)\)"
)
_UNIT_CALL = re.compile(r"\b(predict_unit\d+)\(data, result\);")
_UNIT_SIGNATURE = re.compile(r"\b(predict_unit\d+)\(union Entry\* data, double\* result\)")


def _rewrite(text: str, num_feature: int, quantize: bool) -> str:
    """TL2cgen's union Entry as plain doubles (NaN = missing) and, if quantized, int bins."""
    text = re.sub(r"union Entry \{[^}]*\};\n", "", text)
    unit_args = "const double* data, const int* qdata" if quantize else "const double* data"
    text = _UNIT_SIGNATURE.sub(rf"\1({unit_args}, double* result)", text)
    text = _UNIT_CALL.sub(r"\1(data, qdata, result);" if quantize else r"\1(data, result);", text)
    opening = "void predict(union Entry* data, int pred_margin, double* result)"
    declared = "void predict(const double* data, int pred_margin, double* result)"
    body = f" {{\n  int qdata[{num_feature}] = {{0}};" if quantize else " {"
    text = text.replace(opening + " {", declared + body).replace(opening, declared)
    text = re.sub(r"data\[(\w+)\]\.missing != -1", r"!isnan(data[\1])", text)
    text = re.sub(r"data\[(\w+)\]\.qvalue = ", r"qdata[\1] = ", text)
    text = re.sub(r"data\[(\w+)\]\.qvalue", r"qdata[\1]", text)
    text = re.sub(r"data\[(\w+)\]\.fvalue", r"data[\1]", text)
    # NaN compares false, so "not missing and x <= t" is "x <= t" and "missing or x <= t" is
    # "!(x > t)": one comparison and one branch per node instead of two (IEEE semantics, no
    # -ffast-math). Smaller code matters: a large model's code outgrows the instruction cache.
    text = _NOT_MISSING_AND_LE.sub(r"(data[\1] <= \2)", text)
    text = _MISSING_OR_LE.sub(r"!(data[\1] > \2)", text)
    # ``tmp`` is unsigned: ``tmp >= 0`` is always true (and a -Wextra warning).
    text = text.replace("tmp >= 0 && ", "")
    if "tmp =" not in text:
        text = text.replace("  unsigned int tmp;\n", "")
    if re.search(r"union Entry|\.missing|\.fvalue|\.qvalue", text):
        raise ExportError(
            "TL2cgen generated code this edgeml cannot adapt (it still uses union Entry); "
            "TL2cgen 1.0.0 is supported"
        )
    return text


def _zero_base_scores(main: str) -> bool:
    section = main.partition("// Apply base_scores")[2].partition("// Apply postprocessor")[0]
    added = re.findall(r"result\[\d+\] \+= ([^;]+);", section)
    return bool(added) and all(float(v) == 0.0 for v in added)


def _entry(num_feature: int, num_output: int, kinds: tuple[int, ...], units: list[str]) -> str:
    block = max(1, min(64, 8192 // max(1, num_feature))) if units else 1
    table = (
        "static void (*const edgeml_units[])(const double*, double*) = {" + ", ".join(units) + "};"
    )
    return (
        ENTRY_TEMPLATE.replace("@BLOCK@", str(block))
        .replace("@UNITS@", table)
        .replace("@ABI_VERSION@", str(ABI_VERSION))
        .replace("@NUM_FEATURE@", str(num_feature))
        .replace("@NUM_OUTPUT@", str(num_output))
        .replace("@KINDS@", ", ".join(map(str, kinds)))
        .replace("@K_ZERO@", repr(K_ZERO))
    )

"""Peak memory of a streamed predict is set by the batch, not by the input file."""

import subprocess
import sys

import polars as pl
import pytest

from tests.conftest import churn_like

# Runs the command after it in a child and prints that child's peak RSS (KiB on Linux).
_PEAK = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_mb(code: str) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout.split()[-1]) / 1024


@pytest.mark.slow
def test_streamed_peak_rss_stays_under_a_fixed_bound(trained_bundle, tmp_path):
    n = 400_000
    data = tmp_path / "big.csv"
    sample = churn_like(n=2000, seed=1).drop("churn")
    big = sample.sample(n, with_replacement=True, seed=1).with_columns(
        pl.format("C{}", pl.int_range(n)).alias("customer_id"),
        # a free-text column the model does not read: a whole-file read holds it all
        pl.format("note {} " + "x" * 120, pl.int_range(n)).alias("note"),
    )
    big.write_csv(data)
    assert data.stat().st_size > 60e6
    out = tmp_path / "scores.parquet"
    base = peak_mb("import edgeml.cli, edgeml.batch._run, lightgbm, polars, pyarrow.parquet")
    argv = ["edgeml", "predict", str(trained_bundle), str(data), "-o", str(out),
            "--batch-rows", "20000"]  # fmt: skip
    streamed = peak_mb(f"import sys; sys.argv = {argv!r}; from edgeml.__main__ import main; main()")
    assert pl.scan_parquet(out).select(pl.len()).collect().item() == n
    whole = peak_mb(f"import edgeml; edgeml.load({str(trained_bundle)!r}).predict({str(data)!r})")
    bound = base + 150  # MB over what the imports alone take
    assert streamed < bound < whole, (base, streamed, whole)

"""Replacing a bundle survives kill -9 at every step (issue 10, items 7 and 8).

A subprocess writes a bundle with an audit hook that sends itself SIGKILL just before its k-th
filesystem change (a file opened for writing, mkdir, rename, unlink, rmdir): a real kill at each
step of the real code, no test hook in the library. The next open must find the old bundle or
the new one, complete; the next write must leave nothing else behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeml.bundle import open_bundle, write_bundle
from edgeml.compile import _cache_staging, _toolchain

ROOT = Path(__file__).resolve().parents[1]

KILL_AT = """
import os, signal, sys
from pathlib import Path

WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT
CHANGES = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree"}
step, count, events = int(sys.argv[2]), 0, []

def hook(event, args):
    global count
    if event in CHANGES or (event == "open" and isinstance(args[2], int) and args[2] & WRITES):
        count += 1
        events.append(event)
        if count == step:
            os.kill(os.getpid(), signal.SIGKILL)

def run():
    {call}

sys.addaudithook(hook)
run()
print(" ".join(events))
print(count)
"""

WRITE = KILL_AT.replace(
    "{call}",
    "from edgeml.bundle import write_bundle\n"
    "    write_bundle(Path(sys.argv[1]), {'v': 2}, "
    "{'model.txt': b'new' * 5000, 'treelite/model.so': b'library 2', 'c/x/y.h': b'2'})",
)
V1 = {"model.txt": b"old" * 4000, "treelite/model.so": b"library 1", "reference_rows.json": b"1"}


def run(script: str, *args: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, args)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


def steps(script: str, *args: object) -> int:
    """How many filesystem changes the script makes when nobody kills it."""
    result = run(script, *args, 0)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


def test_replacing_a_bundle_survives_kill_9_at_every_step(tmp_path):
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, V1)
    total = steps(WRITE, path)
    assert total >= 10  # mkdir, 3 dirs, 4 files, 2 renames, rmtree...
    seen = set()
    for k in range(1, total + 1):
        write_bundle(path, {"v": 1}, V1)  # start from the old bundle each time
        result = run(WRITE, path, k)
        assert result.returncode == -signal.SIGKILL, (k, result.stderr)
        bundle = open_bundle(path)  # recovers, then verifies every file
        version = bundle.manifest["v"]
        seen.add(version)
        expected = V1 if version == 1 else {"model.txt": b"new" * 5000}
        assert all(bundle.read(name) == data for name, data in expected.items())
        write_bundle(path, {"v": 3}, {"model.txt": b"3"})
        assert [p.name for p in tmp_path.iterdir()] == ["m.edgeml"], k
    assert seen == {1, 2}  # killed before the swap: old; after it: new


def test_a_kill_between_the_two_renames_is_recovered_by_the_next_open(tmp_path):
    """The crash of item 7: no bundle at the path, old and new in hidden directories."""
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, V1)
    total = steps(WRITE, path)
    write_bundle(path, {"v": 1}, V1)
    # The first rename moves the old bundle aside; kill just before the second one.
    events = run(WRITE, path, 0).stdout.splitlines()[0].split()
    assert len(events) == total
    renames = [k for k, event in enumerate(events, start=1) if event == "os.rename"]
    assert len(renames) == 2
    write_bundle(path, {"v": 1}, V1)
    assert run(WRITE, path, renames[1]).returncode == -signal.SIGKILL
    assert not path.exists()
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".old", ".tmp"]
    assert open_bundle(path).manifest["v"] == 2  # the new bundle was complete: rolled forward
    assert [p.name for p in tmp_path.iterdir()] == ["m.edgeml"]


def test_a_lone_old_directory_goes_back_in_place(tmp_path):
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, V1)
    dead = _dead_pid()
    os.rename(path, tmp_path / f".m.edgeml.{dead}-0123abcd.old")
    assert open_bundle(path).manifest["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.edgeml"]


def test_a_write_under_way_in_another_process_is_left_alone(tmp_path):
    path = tmp_path / "m.edgeml"
    write_bundle(path, {"v": 1}, V1)
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                          stdin=subprocess.PIPE) as other:  # fmt: skip
        busy = tmp_path / f".m.edgeml.{other.pid}-0123abcd.tmp"
        busy.mkdir()
        write_bundle(path, {"v": 2}, {"model.txt": b"2"})
        assert busy.is_dir()
        other.communicate(b"")
    write_bundle(path, {"v": 3}, {"model.txt": b"3"})
    assert not busy.exists()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# -- item 8: staging directories of the build cache ------------------------------------------

BUILD = KILL_AT.replace(
    "{call}",
    "from edgeml.compile._toolchain import cached_build\n"
    "    def build(directory):\n"
    "        (directory / 'model.so').write_bytes(b'x' * 100000)\n"
    "        os.kill(os.getpid(), signal.SIGKILL)  # killed mid-build\n"
    "    cached_build('ab' * 32, build)",
)


def test_a_killed_build_leaves_no_staging_directory_for_long(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEML_CACHE", str(tmp_path / "cache"))
    env_script = BUILD
    result = subprocess.run(
        [sys.executable, "-c", env_script, "unused", "0"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EDGEML_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr
    shard = tmp_path / "cache" / "ab"
    [left] = list(shard.iterdir())
    assert left.name.startswith(".abababababab.") and (left / "model.so").is_file()
    entry, hit = _toolchain.cached_build("cd" * 32, lambda d: (d / "model.so").write_bytes(b"y"))
    assert not hit and entry.is_dir()
    assert list(shard.iterdir()) == []  # the dead build's staging directory is gone


def test_staging_of_a_live_build_is_kept_unless_a_day_old(tmp_path):
    shard = tmp_path / "ab"
    live = shard / f".abababababab.{os.getppid()}-x1"
    legacy = shard / ".abababababab.k3j4l5m6"
    for directory in (live, legacy):
        directory.mkdir(parents=True)
    assert _cache_staging.remove_stale(tmp_path) == []
    for directory in (live, legacy):
        os.utime(directory, (0, 0))  # last changed in 1970: no build runs that long
    assert sorted(_cache_staging.remove_stale(tmp_path)) == sorted([live, legacy])


@pytest.mark.parametrize("kind", ["tmp", "old"])
def test_recovery_never_touches_other_bundles_leftovers(tmp_path, kind):
    write_bundle(tmp_path / "m.edgeml", {"v": 1}, V1)
    other = tmp_path / f".m.edgeml2.{_dead_pid()}-0123abcd.{kind}"
    other.mkdir()
    write_bundle(tmp_path / "m.edgeml", {"v": 2}, V1)
    assert other.is_dir()

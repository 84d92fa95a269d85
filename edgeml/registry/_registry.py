"""A local model registry: numbered, verified bundle versions and an atomically switched current.

Layout of a registry directory::

    ROOT/NAME/v1/ v2/ ...      complete bundles, never changed once renamed into place
    ROOT/NAME/current          symlink to one vN, replaced in one rename
    ROOT/NAME/history.json     adds, promotions and rollbacks, newest last (atomic rewrite)
    ROOT/NAME/.tmp-PID-*       work in progress; removed by the next add once PID is gone

A version appears only by renaming a fully copied, fsynced and re-verified directory, and
``current`` changes only by renaming a new symlink over the old one, so a process killed at any
moment leaves ``current`` on a complete bundle. The symlink, not the history, says what is
current: the history only remembers the order of promotions, for :meth:`Registry.rollback`.

>>> import tempfile, edgeml
>>> registry = Registry(tempfile.mkdtemp())
>>> info = registry.add("churn", "churn.edgeml", promote=True)   # doctest: +SKIP
>>> registry.current("churn").name                              # doctest: +SKIP
'v1'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeml.bundle import open_bundle, read_manifest
from edgeml.errors import RegistryError
from edgeml.util.files import fsync_dir, write_text_atomically
from edgeml.util.process import alive

__all__ = ["Registry", "VersionInfo"]

CURRENT = "current"
HISTORY = "history.json"
_LOCK = ".lock"
_TEMP = ".tmp-"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_VERSION = re.compile(r"v?([1-9][0-9]{0,8})")


@dataclass(frozen=True, kw_only=True)
class VersionInfo:
    """One version of a registered model, as listed by :meth:`Registry.versions`."""

    name: str
    version: int
    path: Path
    created_at: str | None
    task: str | None
    metric: str | None
    value: float | None
    is_current: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "path": str(self.path),
            "created_at": self.created_at,
            "task": self.task,
            "metric": self.metric,
            "value": self.value,
            "is_current": self.is_current,
        }


class Registry:
    """Versions of named models under one directory (see the module docstring for the layout).

    >>> Registry("models").root.name
    'models'
    """

    def __init__(self, root: str | Path) -> None:
        # Absolute once, so paths handed out stay valid if the caller changes directory.
        self.root = Path(root).absolute()

    def names(self) -> list[str]:
        """Names of the models with at least one version, sorted.

        >>> Registry("/nonexistent").names()
        []
        """
        if not self.root.is_dir():
            return []
        found = (p for p in self.root.iterdir() if _NAME.fullmatch(p.name) and p.is_dir())
        return sorted(p.name for p in found if _version_numbers(p))

    def versions(self, name: str) -> list[VersionInfo]:
        """Every version of ``name``, oldest first; half-written work is never listed.

        >>> [v.version for v in Registry("models").versions("churn")]   # doctest: +SKIP
        [1, 2]
        """
        folder = self._model_dir(name)
        current = self._current_version(name)
        return [self._info(name, n, current) for n in _version_numbers(folder)]

    def current(self, name: str) -> Path:
        """The directory of the current version of ``name``: one ``readlink``, no checksums.

        A server polls this and reloads when the path changes; versions never change in place.

        >>> Registry("models").current("churn")                         # doctest: +SKIP
        PosixPath('/srv/models/churn/v2')
        """
        version = self._current_version(name)
        if version is None:
            self._model_dir(name)  # a clear error when the model itself is unknown
            raise RegistryError(
                f"{self.root / name}: model {name!r} has no current version; "
                f"promote one with: edgeml registry promote {name} VERSION"
            )
        return self.root / name / f"v{version}"

    def name_of(self, bundle: str | Path) -> str:
        """The model name of ``bundle`` when it is one of this registry's versions (or a
        model's ``current`` link): ``models/churn/v3`` → ``churn``.

        >>> Registry("models").name_of("models/churn/current")         # doctest: +SKIP
        'churn'
        """
        version = Path(bundle).resolve()
        if version.parent.parent != self.root.resolve():
            raise RegistryError(
                f"{bundle} is not a version in the registry {self.root}; give the model NAME, "
                f"or a path such as {self.root}/NAME/current"
            )
        return version.parent.name

    def add(
        self,
        name: str,
        bundle: str | Path,
        *,
        promote: bool = False,
        note: Mapping[str, Any] | None = None,
    ) -> VersionInfo:
        """Copy a verified bundle in as the next version of ``name`` (and make it current).

        ``note`` is stored with the ``add`` entry of the history (retrain records its decision
        there, and a ``source`` that says where the bundle came from).

        >>> Registry("models").add("churn", "churn.edgeml", promote=True)  # doctest: +SKIP
        """
        _check_name(name)
        source = Path(bundle)
        opened = open_bundle(source, verify=True)
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with self.scratch(name) as staging:
            copy = staging / "bundle"
            # Only the manifest and the files it lists, each read without following a link
            # and checked against its sha256 as it is copied.
            opened.copy_to(copy)
            for directory in sorted({p.parent for p in copy.rglob("*")}, reverse=True):
                fsync_dir(directory)
            read_manifest(copy, verify=True)
            with self._locked(name):
                _remove_stale(folder)
                version = max(_version_numbers(folder), default=0) + 1
                os.rename(copy, folder / f"v{version}")
                fsync_dir(folder)
                events: list[dict[str, Any]] = [
                    {"source": str(source), **(note or {}), "action": "add", "version": version}
                ]
                if promote:
                    previous = self._current_version(name)
                    _switch(folder, version)
                    events.append(_promotion("promote", version, previous))
                self._record(name, events)
        return self._info(name, version, version if promote else self._current_version(name))

    def promote(self, name: str, version: int | str) -> VersionInfo:
        """Make ``version`` (``3`` or ``"v3"``) the current one, after verifying its checksums.

        >>> Registry("models").promote("churn", "v1").is_current           # doctest: +SKIP
        True
        """
        number = self._existing(name, version)
        read_manifest(self.root / name / f"v{number}", verify=True)
        with self._locked(name):
            previous = self._current_version(name)
            if previous != number:
                _switch(self.root / name, number)
                self._record(name, [_promotion("promote", number, previous)])
        return self._info(name, number, number)

    def rollback(self, name: str) -> VersionInfo:
        """Return ``current`` to the version promoted before it.

        >>> Registry("models").rollback("churn").version                   # doctest: +SKIP
        1
        """
        self._model_dir(name)
        with self._locked(name):
            current = self._current_version(name)
            stack = _promotion_stack(self.history(name), current)
            if len(stack) < 2:
                shown = f"v{current}" if current else "none"
                raise RegistryError(
                    f"{self.root / name}: no earlier promoted version to roll back to "
                    f"(current is {shown})"
                )
            target = stack[-2]
            path = self.root / name / f"v{target}"
            if not path.is_dir():
                raise RegistryError(f"{path}: version v{target} to roll back to is gone")
            read_manifest(path, verify=True)
            _switch(self.root / name, target)
            self._record(name, [_promotion("rollback", target, current)])
        return self._info(name, target, target)

    def history(self, name: str) -> list[dict[str, Any]]:
        """The recorded adds, promotions and rollbacks of ``name``, oldest first."""
        path = self._model_dir(name) / HISTORY
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(f"{path}: not valid JSON ({exc})") from None
        return list(payload.get("events", []))

    @contextlib.contextmanager
    def scratch(self, name: str) -> Iterator[Path]:
        """A private temporary directory inside ``ROOT/NAME`` (same filesystem: renames work).

        Removed on exit; if the process is killed, the next :meth:`add` removes it.
        """
        _check_name(name)
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f"{_TEMP}{os.getpid()}-", dir=folder))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def _model_dir(self, name: str) -> Path:
        _check_name(name)
        folder = self.root / name
        if not folder.is_dir():
            known = ", ".join(self.names()) or "none"
            raise RegistryError(
                f"{self.root}: no model named {name!r} in this registry; models: {known}"
            )
        return folder

    def _current_version(self, name: str) -> int | None:
        _check_name(name)
        try:
            target = os.readlink(self.root / name / CURRENT)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise RegistryError(f"{self.root / name / CURRENT}: not a symlink ({exc})") from None
        match = re.fullmatch(r"v([1-9][0-9]*)", target)
        if match is None:
            raise RegistryError(
                f"{self.root / name / CURRENT}: points to {target!r}; expected a version vN"
            )
        return int(match.group(1))

    def _existing(self, name: str, version: int | str) -> int:
        folder = self._model_dir(name)
        number = parse_version(version)
        if not (folder / f"v{number}").is_dir():
            known = ", ".join(f"v{n}" for n in _version_numbers(folder)) or "none"
            raise RegistryError(f"{folder}: no version v{number} of {name!r}; versions: {known}")
        return number

    def _info(self, name: str, version: int, current: int | None) -> VersionInfo:
        path = self.root / name / f"v{version}"
        manifest = open_bundle(path, verify=False).spec
        metric = manifest.metrics.primary
        value = manifest.metrics.holdout.get(metric) if metric else None
        return VersionInfo(
            name=name,
            version=version,
            path=path,
            created_at=manifest.created_at,
            task=manifest.task,
            metric=metric,
            value=value,
            is_current=version == current,
        )

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Serialise changes to one model (numbering, symlink, history) between processes."""
        with open(self.root / name / _LOCK, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _record(self, name: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` to the history, rewriting it atomically."""
        at = datetime.now(UTC).isoformat(timespec="seconds")
        history = [*self.history(name), *({"at": at, **e} for e in events)]
        _write_json_atomic(self.root / name / HISTORY, {"name": name, "events": history})


def parse_version(version: int | str) -> int:
    """A version number from ``3``, ``"3"`` or ``"v3"``.

    >>> parse_version("v3")
    3
    """
    match = _VERSION.fullmatch(str(version).strip())
    if match is None:
        raise RegistryError(f"version {version!r} is not valid; expected a number such as 3 or v3")
    return int(match.group(1))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RegistryError(
            f"model name {name!r} is not valid; expected letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (at most 100 characters)"
        )


def _version_numbers(folder: Path) -> list[int]:
    found = (re.fullmatch(r"v([1-9][0-9]*)", p.name) for p in folder.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def _promotion(action: str, version: int, previous: int | None) -> dict[str, Any]:
    return {"action": action, "version": version, "previous": previous}


def _promotion_stack(events: list[dict[str, Any]], current: int | None) -> list[int]:
    """Promoted versions in order, each rollback undoing the latest; ends with ``current``.

    The symlink wins over the history: a kill between switching it and recording the switch
    leaves a history one step behind, which this repairs by putting ``current`` on top.
    """
    stack: list[int] = []
    for event in events:
        if event.get("action") == "promote":
            stack.append(int(event["version"]))
        elif event.get("action") == "rollback":
            if stack:
                stack.pop()
            if not stack or stack[-1] != int(event["version"]):
                stack.append(int(event["version"]))
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)
    return stack


def _switch(folder: Path, version: int) -> None:
    """Point ``folder/current`` at ``v{version}`` with one rename over the old symlink."""
    temp = folder / f"{_TEMP}{os.getpid()}-{os.urandom(4).hex()}.link"
    os.symlink(f"v{version}", temp)  # relative: the registry can be moved or mounted elsewhere
    try:
        os.replace(temp, folder / CURRENT)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)


def _remove_stale(folder: Path) -> None:
    """Drop temporary entries left by processes that no longer run."""
    for entry in folder.iterdir():
        if not entry.name.startswith(_TEMP):
            continue
        pid_text = entry.name[len(_TEMP) :].split("-", 1)[0]
        if pid_text.isdigit() and not alive(int(pid_text)):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, indent=2, default=str) + "\n"
    write_text_atomically(path, text, prefix=f"{_TEMP}{os.getpid()}-", durable=True)

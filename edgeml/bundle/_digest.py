"""The manifest's own digest: sha256 over its canonical JSON, which lists every file's sha256.

So one value covers the whole bundle: editing ``target.classes``, a metric or any file changes
it. It is stored in the manifest (``"digest": "sha256:<hex>"``) and left out of what it covers,
together with the optional ``signature`` over it (:mod:`edgeml.bundle._sign`). The digest alone
catches accidental and careless edits; anyone can recompute it, so only a signature stops a
deliberate one.

Canonical JSON: keys sorted, no whitespace, UTF-8, numbers as Python writes them after reading
(a float read back prints the same). Parsing refuses duplicate keys and NaN/Infinity, so every
reader sees the one document the digest covers.

>>> manifest_digest({"a": 1, "b": [1.5]}) == manifest_digest({"b": [1.5], "a": 1, "digest": "x"})
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from edgeml.errors import BundleError

__all__ = ["DIGEST", "SIGNATURE", "canonical", "manifest_digest", "parse_manifest"]

DIGEST = "digest"
SIGNATURE = "signature"
_PREFIX = "sha256:"


def canonical(manifest: Mapping[str, Any]) -> bytes:
    """The bytes the digest covers: the manifest less ``digest`` and ``signature``."""
    body = {k: v for k, v in manifest.items() if k not in (DIGEST, SIGNATURE)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip
    return text.encode("utf-8")


def manifest_digest(manifest: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of :func:`canonical`."""
    return _PREFIX + hashlib.sha256(canonical(manifest)).hexdigest()


def parse_manifest(text: bytes, *, where: str) -> dict[str, Any]:
    """A manifest's JSON object; BundleError on bad JSON, duplicate keys, NaN or a non-object."""
    try:
        value = json.loads(
            text.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(f"{where}: not valid JSON ({_short(exc)})") from None
    except _Refused as exc:
        raise BundleError(f"{where}: {exc}") from None
    if not isinstance(value, dict):
        raise BundleError(f"{where}: not a JSON object")
    return value


class _Refused(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Refused(f"key {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _short(exc: BaseException) -> str:
    return str(exc)[:200] or type(exc).__name__

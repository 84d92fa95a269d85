"""Ed25519 signatures over a bundle's manifest digest, through the ``cryptography`` package.

``edgeml export BUNDLE --sign KEY`` stores ``{"algorithm": "ed25519", "key_id": ..., "value":
base64}`` under the manifest's ``signature``; a device given the public key
(``edgeml.runtime.load(path, public_key="team.pub")``) refuses a bundle that is unsigned, signed
by another key, or changed after signing. The digest covers every file's sha256, so the signature
covers the whole bundle. ``cryptography`` is imported only here, and only when a key is used: the
NumPy-only runtime never pays for it otherwise.

>>> private, public = generate_keypair("team.key")                # doctest: +SKIP
>>> signature = sign_digest("sha256:ab...", private)              # doctest: +SKIP
>>> verify_signature({"digest": "sha256:ab...", "signature": signature}, public, where="m")
... # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeml.errors import BundleError, ConfigError

__all__ = ["generate_keypair", "sign_digest", "verify_signature"]

ALGORITHM = "ed25519"
# Domain separation: this key's signature over a digest means "this edgeml manifest", nothing else.
_CONTEXT = b"edgeml bundle manifest v1\n"

PublicKey = str | Path | bytes | Any  # a PEM file, PEM or raw 32 bytes, or an Ed25519PublicKey


def sign_digest(digest: str, private_key: str | Path) -> dict[str, str]:
    """The ``signature`` entry for a manifest whose digest is ``digest``, signed with the
    unencrypted PEM private key in the file ``private_key``."""
    key = _private_key(Path(private_key))
    public = _raw(key.public_key())
    value = key.sign(_CONTEXT + digest.encode("ascii"))
    return {
        "algorithm": ALGORITHM,
        "key_id": _key_id(public),
        "value": base64.b64encode(value).decode("ascii"),
    }


def verify_signature(manifest: Mapping[str, Any], public_key: PublicKey, *, where: str) -> None:
    """Raise BundleError unless ``manifest`` carries a valid signature by ``public_key`` over its
    (already checked) digest."""
    from cryptography.exceptions import InvalidSignature

    key = _public_key(public_key)
    signature = manifest.get("signature")
    if not isinstance(signature, Mapping):
        raise BundleError(f"{where}: the bundle is not signed, and a public key was given")
    if signature.get("algorithm") != ALGORITHM:
        raise BundleError(
            f"{where}: signature algorithm {signature.get('algorithm')!r}; expected {ALGORITHM}"
        )
    expected = _key_id(_raw(key))
    try:
        value = base64.b64decode(str(signature.get("value")), validate=True)
        key.verify(value, _CONTEXT + str(manifest.get("digest")).encode("ascii"))
    except (InvalidSignature, binascii.Error, UnicodeEncodeError):
        raise BundleError(
            f"{where}: the signature does not verify with the public key {expected} (signed by "
            f"key {signature.get('key_id')!r}, or changed after signing)"
        ) from None


def generate_keypair(private_path: str | Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: ``private_path`` (PEM, mode 0600) and
    ``private_path.pub`` (PEM); refuses to overwrite either. Returns both paths.

    >>> generate_keypair("team.key")                              # doctest: +SKIP
    (PosixPath('team.key'), PosixPath('team.key.pub'))
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = Path(private_path)
    public_path = private_path.with_name(private_path.name + ".pub")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise ConfigError(f"{path}: exists; refusing to overwrite a key")
    _create(private_path, private_pem, 0o600)
    _create(public_path, public_pem, 0o644)
    return private_path, public_path


def _create(path: Path, content: bytes, mode: int) -> None:
    # O_EXCL: never through a link or over a file that appeared meanwhile; the mode is set
    # at creation, so the private key is never readable by others, even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the signing key ({exc.strerror})") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not an unencrypted PEM private key ({exc}); make one with edgeml keygen"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: an {type(key).__name__}; expected an Ed25519 key")
    return key


def _public_key(value: PublicKey) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(value, Ed25519PublicKey):
        return value
    data, where = value, "public key"
    if isinstance(value, str | Path):
        where = str(value)
        try:
            data = Path(value).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{value}: cannot read the public key ({exc.strerror})") from None
    if not isinstance(data, bytes):
        raise ConfigError(f"public key: expected a file path or bytes, got {type(value).__name__}")
    try:
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{where}: an {type(key).__name__}; expected an Ed25519 key")
    return key


def _raw(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw


def _key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]

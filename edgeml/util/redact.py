"""Secrets out of source names: the one place that decides what of a URI may be shown.

A database URI may carry a password (``postgresql://user:pw@host/db``) and an API URL a key
(``https://api.example.com/x?api_key=…``). Everything edgeml prints, logs or stores about a
source — error messages, the data card, ``--json`` output — goes through :func:`redact`, so the
secret never leaves the process. Passwords belong in ``PGPASSWORD``, ``~/.pgpass`` or a
service file, API tokens in an environment variable that ``[data] auth_env`` names.

>>> redact("postgresql://ann:s3cret@db.local:5432/shop")
'postgresql://ann:***@db.local:5432/shop'
>>> redact("https://api.example.com/readings?since=2024&api_key=abc123")
'https://api.example.com/readings?since=2024&api_key=***'
>>> redact("could not connect to postgresql://ann:s3cret@h/db: refused; password=hunter2")
'could not connect to postgresql://ann:***@h/db: refused; password=***'
"""

from __future__ import annotations

import re

__all__ = ["SECRET", "redact", "redact_text"]

SECRET = "***"

# scheme://user:password@ — the password is anything up to the last "@" before the host part.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<secret>[^\s/@]*)@")
# Query or conninfo parameters whose value is a secret (?api_key=…, &token=…, password=…).
_NAMES = r"(?:password|passwd|pwd|pass|api[_-]?key|apikey|key|token|access[_-]?token|secret|" \
    r"client[_-]?secret|signature|sig|auth|authorization)"  # fmt: skip
_PARAM = re.compile(rf"(?P<head>(?:^|[?&;\s])(?i:{_NAMES})=)(?P<secret>[^&\s;'\"]*)")


def redact(text: str) -> str:
    """``text`` with the password of every ``scheme://user:pw@`` and every secret-named
    parameter (``password=``, ``api_key=``, ``token=``, ...) replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{SECRET}@", text)
    return _PARAM.sub(lambda m: f"{m['head']}{SECRET}" if m["secret"] else m[0], text)


def redact_text(text: str, *secrets: str | None) -> str:
    """:func:`redact`, and also every literal ``secret`` given (a token read from the
    environment, a password from the URI) wherever it appears, e.g. echoed by a server.

    >>> redact_text("bad token abc123 for user", "abc123")
    'bad token *** for user'
    """
    text = redact(text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, SECRET)
    return text

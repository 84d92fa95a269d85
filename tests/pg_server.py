"""A real PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` on a temp dir, listening on a
free loopback port with its unix socket in the same temp dir.

PostgreSQL refuses to run as root (CI and this machine run the suite as root), so as root the
server runs as the unprivileged user ``nobody`` through ``runuser``; the data directory is
made in a fresh temp dir that ``nobody`` owns. :func:`find_bin` says why when it cannot start
(no PostgreSQL installed: ``make system-deps`` installs it).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "edgeml"
PASSWORD = "pg-Secret-7731"
DATABASE = "postgres"


def find_bin() -> tuple[Path | None, str]:
    """(the directory of initdb/pg_ctl, "") or (None, why not)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent, ""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent, ""
    return None, "PostgreSQL is not installed (make system-deps installs the postgresql package)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server; :meth:`uri` gives a URI without the password (PGPASSWORD has it)."""

    bindir: Path
    root: Path
    port: int

    def uri(self, *, password: str | None = None, port: int | None = None) -> str:
        auth = f"{USER}:{password}" if password is not None else USER
        return f"postgresql://{auth}@127.0.0.1:{port or self.port}/{DATABASE}"

    def psql(self, sql: str) -> None:
        """Run ``sql`` (as the server's superuser) through psql; fail loudly."""
        subprocess.run(
            [str(self.bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.uri(), "-c", sql],
            check=True,
            env={**os.environ, "PGPASSWORD": PASSWORD},
            capture_output=True,
        )

    def stop(self) -> None:
        _as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                   "-w", "stop"], check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def _as_owner(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "nobody", "--", *command]
    return subprocess.run(command, check=check, capture_output=True, cwd="/")


def start() -> PgServer:
    """initdb (password auth: scram-sha-256) and start a server; raise if either fails."""
    bindir, why = find_bin()
    if bindir is None:
        raise RuntimeError(why)
    root = Path(tempfile.mkdtemp(prefix="edgeml-pg-"))
    (root / "pw").write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        shutil.chown(root, "nobody")
        shutil.chown(root / "pw", "nobody")
    _as_owner([str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER,
               "--auth=scram-sha-256", f"--pwfile={root / 'pw'}", "-E", "UTF8",
               "--no-sync"])  # fmt: skip
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -F"
    result = _as_owner([str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l",
                        str(root / "log"), "-w", "-o", options, "start"], check=False)  # fmt: skip
    if result.returncode != 0:
        log = (root / "log").read_text() if (root / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {result.stderr.decode()} {log}")
    return PgServer(bindir, root, port)

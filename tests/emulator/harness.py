"""Run the local-bigquery emulator as a subprocess for offline tests.

The emulator lives in its own Python 3.13 virtual environment (``.emulator-venv``
at the repository root by default), so the project itself keeps the latest
sqlglot and DuckDB. This module only needs the standard library;
``google-cloud-bigquery`` is imported lazily by :meth:`Emulator.client`.

Typical use::

    from tests.emulator.harness import start_emulator

    with start_emulator() as emu:  # creates/reuses the venv, starts the server
        client = emu.client()
        client.query("SELECT 1").result()

Environment variables:

* ``SQLASSETS_EMULATOR_VENV``: venv location used when no root is passed.
* ``SQLASSETS_EMULATOR_PYTHON``: the Python 3.13 interpreter to build the venv
  from (otherwise pyenv's 3.13.x, then ``python3.13`` on PATH, then
  ``uv python find 3.13``).
* ``UV``: the uv binary (``uv run`` sets it); otherwise ``uv`` on PATH.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import bigquery

__all__ = [
    "DEFAULT_VENV",
    "OVERRIDES",
    "REQUIREMENTS",
    "Emulator",
    "EmulatorError",
    "ensure_venv",
    "find_python313",
    "requirements_digest",
    "start_emulator",
]

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
OVERRIDES = HERE / "overrides.txt"
DEFAULT_VENV = REPO_ROOT / ".emulator-venv"
MARKER_NAME = ".sqlassets-emulator.json"
# Bump when the venv layout or the marker's content changes.
_LAYOUT_VERSION = "1"
_INSTALL_TIMEOUT = 900.0
_PROBE_TIMEOUT = 120.0
_STARTUP_TIMEOUT = 60.0
_POLL_INTERVAL = 0.1
_PORT_ATTEMPTS = 3

# Run inside the emulator venv: reports where the duckdb-extension-* wheels put
# their extension binaries and which DuckDB version/platform must load them.
_PROBE_SCRIPT = """
import json, pathlib, sysconfig
import duckdb
con = duckdb.connect()
version = con.sql("SELECT library_version FROM pragma_version()").fetchone()[0]
platform = con.sql("PRAGMA platform").fetchone()[0]
con.close()
extensions = {}
for key in ("purelib", "platlib"):
    root = pathlib.Path(sysconfig.get_paths()[key])
    for path in sorted(root.glob("duckdb_extension_*/extensions/*/*.duckdb_extension")):
        extensions[path.name] = str(path)
print(json.dumps({"duckdb_version": version, "platform": platform,
                  "extensions": extensions}))
"""
_REQUIRED_EXTENSIONS = ("icu", "ducklake", "spatial")


class EmulatorError(RuntimeError):
    """The emulator venv could not be built or the emulator did not start."""


# --------------------------------------------------------------------------- venv


def requirements_digest() -> str:
    """Return a hash of everything that determines the venv's content."""
    digest = hashlib.sha256(_LAYOUT_VERSION.encode())
    for path in (REQUIREMENTS, OVERRIDES):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _uv() -> str:
    """Return the uv executable to use."""
    candidate = os.environ.get("UV") or shutil.which("uv")
    if not candidate:
        raise EmulatorError("uv is required to build the emulator venv but was not found")
    return candidate


def _uv_env() -> dict[str, str]:
    """Return the environment for uv subprocesses: never download a Python."""
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)
    return env


def _is_python313(candidate: str | Path) -> bool:
    """Return whether ``candidate`` runs and is a CPython 3.13."""
    try:
        result = subprocess.run(
            [str(candidate), "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip() == "True"


def find_python313() -> Path:
    """Locate a Python 3.13 interpreter for the emulator venv.

    Order: ``$SQLASSETS_EMULATOR_PYTHON``, pyenv's ``versions/3.13*``,
    ``python3.13`` on PATH, then ``uv python find 3.13`` (system Pythons only).
    pyenv shims are skipped: they fail when 3.13 is not the active version.
    """
    explicit = os.environ.get("SQLASSETS_EMULATOR_PYTHON")
    if explicit:
        if _is_python313(explicit):
            return Path(explicit)
        raise EmulatorError(f"SQLASSETS_EMULATOR_PYTHON={explicit} is not a Python 3.13")
    candidates: list[Path] = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = sorted(
        (pyenv_root / "versions").glob("3.13*"),
        key=lambda p: [int(x) if x.isdigit() else -1 for x in p.name.split(".")],
        reverse=True,
    )
    candidates += [v / "bin" / "python3.13" for v in versions]
    on_path = shutil.which("python3.13")
    if on_path and "shims" not in Path(on_path).parts:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if candidate.exists() and _is_python313(candidate):
            return candidate
    with contextlib.suppress(OSError, subprocess.TimeoutExpired, EmulatorError):
        found = subprocess.run(
            [_uv(), "python", "find", "3.13", "--python-preference", "only-system"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_uv_env(),
            check=False,
        )
        path = found.stdout.strip()
        if found.returncode == 0 and path and _is_python313(path):
            return Path(path)
    raise EmulatorError(
        "No Python 3.13 found for the BigQuery emulator (local-bigquery needs >= 3.13). "
        "Install one (e.g. `pyenv install 3.13`) or set SQLASSETS_EMULATOR_PYTHON."
    )


def _venv_python(root: Path) -> Path:
    """Return the interpreter path inside the venv at ``root``."""
    return root / "bin" / "python"


def _run(cmd: list[str], *, timeout: float, what: str) -> str:
    """Run ``cmd`` (uv or the venv python); raise EmulatorError with its output on failure."""
    try:
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_uv_env(),
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise EmulatorError(f"{what} timed out after {timeout:.0f}s: {cmd}") from exc
    if result.returncode != 0:
        raise EmulatorError(
            f"{what} failed (exit {result.returncode}): {cmd}\n"
            f"{_tail(result.stdout + result.stderr, 40)}"
        )
    return result.stdout


def _read_marker(root: Path) -> dict[str, Any] | None:
    """Return the venv's marker if it exists and parses."""
    try:
        data = json.loads((root / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _marker_ok(root: Path, digest: str) -> bool:
    """Return whether the venv at ``root`` is complete for ``digest``."""
    marker = _read_marker(root)
    if not marker or marker.get("requirements_sha256") != digest:
        return False
    if not _venv_python(root).exists():
        return False
    extensions = marker.get("extensions") or {}
    return all(Path(p).exists() for p in extensions.values())


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (for parallel test workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX
            yield
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmulatorError(f"timed out waiting for lock {path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_venv(root: Path | None = None, *, timeout: float = _INSTALL_TIMEOUT) -> Path:
    """Create (once) the emulator venv and return its Python interpreter.

    ``root`` defaults to ``$SQLASSETS_EMULATOR_VENV`` or ``<repo>/.emulator-venv``.
    The venv is rebuilt from scratch when ``requirements.txt``/``overrides.txt``
    change (their hash is kept in a marker file inside the venv); otherwise this
    is a cheap no-op. Needs only uv and a system Python 3.13, plus the PyPI
    registry on first build. Safe to call from parallel processes (file lock).
    """
    if root is None:
        root = Path(os.environ.get("SQLASSETS_EMULATOR_VENV") or DEFAULT_VENV)
    root = root.absolute()
    digest = requirements_digest()
    if _marker_ok(root, digest):
        return _venv_python(root)
    # The lock lives outside the venv (``uv venv --clear`` empties it) and
    # outside the work tree (so it never shows up in ``git status``).
    lock_name = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"sqlassets-emulator-venv-{lock_name}.lock"
    with _file_lock(lock, timeout):
        if _marker_ok(root, digest):
            return _venv_python(root)
        started = time.monotonic()
        (root / MARKER_NAME).unlink(missing_ok=True)
        base = find_python313()
        uv = _uv()
        _run(
            [
                uv,
                "venv",
                "--clear",
                "--quiet",
                "--python-preference=only-system",
                f"--python={base}",
                str(root),
            ],
            timeout=timeout,
            what="uv venv",
        )
        python = _venv_python(root)
        remaining = max(60.0, timeout - (time.monotonic() - started))
        _run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                f"--python={python}",
                f"--override={OVERRIDES}",
                f"--requirement={REQUIREMENTS}",
            ],
            timeout=remaining,
            what="uv pip install (emulator requirements)",
        )
        probe = json.loads(
            _run([str(python), "-c", _PROBE_SCRIPT], timeout=_PROBE_TIMEOUT, what="duckdb probe")
        )
        missing = [
            name
            for name in _REQUIRED_EXTENSIONS
            if f"{name}.duckdb_extension" not in probe["extensions"]
        ]
        if missing:
            raise EmulatorError(f"emulator venv lacks DuckDB extension wheels: {missing}")
        marker = {
            "requirements_sha256": digest,
            "base_python": str(base),
            "build_seconds": round(time.monotonic() - started, 1),
            **probe,
        }
        tmp = root / f"{MARKER_NAME}.tmp"
        tmp.write_text(json.dumps(marker, indent=2) + "\n")
        tmp.replace(root / MARKER_NAME)
        return python


# ----------------------------------------------------------------------- emulator

_LIVE: set[Emulator] = set()
_LIVE_LOCK = threading.Lock()


def _stop_all() -> None:
    """Stop every emulator still running (registered with atexit)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for emulator in live:
        with contextlib.suppress(Exception):
            emulator.stop()


atexit.register(_stop_all)


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(text: str, lines: int) -> str:
    """Return the last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


def _parent_death_signal() -> Any:
    """Return a preexec_fn making the child get SIGTERM if this process dies (Linux).

    Only used when starting from the main thread: the signal fires when the
    *thread* that forked exits.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def _link_extensions(home: Path, marker: Mapping[str, Any]) -> None:
    """Symlink the wheel-shipped DuckDB extensions into ``$HOME/.duckdb``.

    DuckDB autoloads (and ``INSTALL x`` no-ops) when the binary already sits in
    ``~/.duckdb/extensions/<version>/<platform>/``, so nothing is downloaded.
    """
    target = home / ".duckdb" / "extensions" / marker["duckdb_version"] / marker["platform"]
    target.mkdir(parents=True, exist_ok=True)
    for name, source in marker["extensions"].items():
        (target / name).symlink_to(source)


class Emulator:
    """A running local-bigquery server bound to 127.0.0.1.

    Create it with :func:`start_emulator`. Storage lives in a private temporary
    directory (DuckLake files) that :meth:`stop` deletes.
    """

    def __init__(
        self,
        *,
        process: subprocess.Popen[bytes],
        project: str,
        port: int,
        grpc_port: int,
        workdir: Path,
        keep_workdir: bool = False,
    ) -> None:
        self._process = process
        self.project = project
        self.port = port
        self.grpc_port = grpc_port
        self.workdir = workdir
        self.keep_workdir = keep_workdir
        self.startup_seconds: float | None = None
        self._lock = threading.Lock()
        self._stopped = False

    # -- addresses ---------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """REST endpoint, e.g. ``http://127.0.0.1:PORT`` (the client's api_endpoint)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def grpc_address(self) -> str:
        """BigQuery Storage (read/write API) gRPC address, ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def pid(self) -> int:
        """Process id of the emulator server."""
        return self._process.pid

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point google-cloud-bigquery at the emulator."""
        return {"BIGQUERY_EMULATOR_HOST": self.endpoint}

    @property
    def log_path(self) -> Path:
        """File holding the emulator's combined stdout/stderr."""
        return self.workdir / "emulator.log"

    def is_running(self) -> bool:
        """Return whether the server process is still alive."""
        return self._process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of the emulator's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return _tail(text, lines)

    # -- client ------------------------------------------------------------
    def client(self, **kwargs: Any) -> bigquery.Client:
        """Return a ``google.cloud.bigquery.Client`` talking to this emulator.

        Uses anonymous credentials (no google.auth lookup, no token requests)
        and ``api_endpoint=self.endpoint``. ``kwargs`` go to ``bigquery.Client``.
        """
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        kwargs.setdefault("project", self.project)
        kwargs.setdefault("credentials", AnonymousCredentials())
        options = dict(kwargs.pop("client_options", None) or {})
        options.setdefault("api_endpoint", self.endpoint)
        return bigquery.Client(client_options=options, **kwargs)

    # -- lifecycle ---------------------------------------------------------
    def _wait_ready(self, timeout: float) -> None:
        """Poll the REST API until it answers 200, the process dies, or timeout."""
        url = f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets?maxResults=1"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.monotonic()
        deadline = started + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EmulatorError(
                    f"local-bigquery did not answer on {self.endpoint} within {timeout:g}s\n"
                    f"--- emulator output (tail) ---\n{self.log_tail()}"
                )
            code = self._process.poll()
            if code is not None:
                raise EmulatorError(
                    f"local-bigquery exited with code {code} during startup\n"
                    f"--- emulator output (tail) ---\n{self.log_tail()}"
                )
            try:
                # The first request also opens the DuckDB catalog (loads extensions);
                # if it times out the server keeps initialising and a retry succeeds.
                # Short per-request timeouts keep noticing a dead process quickly.
                with opener.open(url, timeout=min(2.0, max(remaining, 0.1))) as response:
                    if response.status == 200:
                        self.startup_seconds = time.monotonic() - started
                        return
            except urllib.error.HTTPError as exc:
                body = exc.read().decode(errors="replace")[:2000]
                raise EmulatorError(
                    f"local-bigquery answered HTTP {exc.code} to {url}: {body}\n"
                    f"--- emulator output (tail) ---\n{self.log_tail()}"
                ) from exc
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM by PID, SIGKILL after ``timeout`` s; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=10)
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(self)
            if not self.keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return (
            f"Emulator(project={self.project!r}, endpoint={self.endpoint!r}, "
            f"pid={self.pid}, {state})"
        )


def start_emulator(
    project: str = "test-project",
    port: int | None = None,
    *,
    venv: Path | None = None,
    default_dataset: str = "local",
    startup_timeout: float = _STARTUP_TIMEOUT,
    extra_env: Mapping[str, str] | None = None,
    keep_workdir: bool = False,
) -> Emulator:
    """Start local-bigquery on 127.0.0.1 and wait until its REST API answers.

    Builds/reuses the venv via :func:`ensure_venv` (``venv`` is its root).
    ``port=None`` picks a free port (retried if another process grabs it).
    The server runs with a private temporary working directory, HOME and data
    directory; ``default_dataset`` is created by the emulator itself in
    ``project``. ``extra_env`` adds emulator settings (e.g. ``GCS_LOCAL_ROOT``).
    Raises :class:`EmulatorError` (with the emulator's output tail) on failure.
    """
    python = ensure_venv(venv)
    root = python.parent.parent
    marker = _read_marker(root)
    if marker is None:
        raise EmulatorError(f"emulator venv at {root} has no marker; rebuild it")
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    last_error: EmulatorError | None = None
    for _ in range(attempts):
        rest_port = port if port is not None else _free_port()
        grpc_port = _free_port()
        while grpc_port == rest_port:
            grpc_port = _free_port()
        workdir = Path(tempfile.mkdtemp(prefix="sqlassets-bqemu-"))
        home, data = workdir / "home", workdir / "data"
        home.mkdir()
        data.mkdir()
        _link_extensions(home, marker)
        env = {
            "HOME": str(home),
            "PATH": f"{root / 'bin'}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "TMPDIR": str(workdir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_PROXY": "*",
        }
        env.update(extra_env or {})
        cmd = [
            str(python),
            "-c",
            "import sys; from local_bigquery.cli import main; sys.exit(main())",
            "serve",
            "--host=127.0.0.1",
            f"--port={rest_port}",
            f"--grpc-port={grpc_port}",
            f"--project={project}",
            f"--dataset={default_dataset}",
            f"--data-dir={data}",
        ]
        with (workdir / "emulator.log").open("wb") as log:
            process = subprocess.Popen(
                cmd,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_parent_death_signal(),
            )
        emulator = Emulator(
            process=process,
            project=project,
            port=rest_port,
            grpc_port=grpc_port,
            workdir=workdir,
            keep_workdir=keep_workdir,
        )
        with _LIVE_LOCK:
            _LIVE.add(emulator)
        try:
            emulator._wait_ready(startup_timeout)
        except EmulatorError as exc:
            log = emulator.log_tail(200).lower()
            in_use = "address already in use" in log or "failed to bind" in log
            emulator.stop()
            if not in_use:
                raise
            last_error = exc
            continue
        except BaseException:
            emulator.stop()
            raise
        return emulator
    assert last_error is not None
    raise last_error


def main(argv: list[str] | None = None) -> int:
    """Build the venv, start an emulator and keep it running until interrupted."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="test-project")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--venv", type=Path, default=None)
    parser.add_argument("--venv-only", action="store_true", help="only build the venv")
    args = parser.parse_args(argv)
    started = time.monotonic()
    python = ensure_venv(args.venv)
    print(f"emulator venv ready: {python} ({time.monotonic() - started:.1f}s)", flush=True)
    if args.venv_only:
        return 0
    with start_emulator(args.project, args.port, venv=args.venv) as emulator:
        print(
            f"local-bigquery pid={emulator.pid} endpoint={emulator.endpoint} "
            f"project={emulator.project} (ready in {emulator.startup_seconds:.1f}s); "
            "Ctrl-C to stop",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while emulator.is_running():
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

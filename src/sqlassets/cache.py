"""A content-addressed cache of each model file's analysis.

Every Dagster process (code server, run worker, step worker) and every
``sqlassets lint`` loads the whole project, and parsing the SQL is most of
that. What :func:`sqlassets.loader.load_source` returns for a file depends
only on the file's bytes, its path (as findings show it, and relative to the
SQL folder), whether column lineage was asked for, and the code that computed
it. So the result is stored under a hash of exactly those, and reused while
they are unchanged.

Layout: ``<cache dir>/<code version>/<key>``. The code version hashes the
sqlassets sources and the versions of sqlglot, pydantic and Python; the key
hashes that code version, the file's two paths and its bytes. An entry is a
pickle (protocol 5) behind a digest of its key and payload:

- it is written atomically (a temporary file in the same folder, then
  ``os.replace``), so a concurrent reader sees a whole entry or none;
- a truncated, corrupt or foreign entry fails the digest (or unpickling) and
  is a miss: the file is analysed again and the entry rewritten;
- an unwritable folder (read-only file system, permissions) turns writing off
  for the load; a filled read-only cache is still read. Nothing here ever
  fails a load.

An entry analysed with lineage also serves a load without it (``lint``), its
lineage fields cleared, so every load gives what it would without the cache.
Files in error are cached too: their diagnostics are plain values and come
back identical. The first write of a new code version removes the folders of
other versions.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import hashlib
import io
import logging
import os
import pickle
import re
import shutil
import sys
import threading
from collections.abc import Callable, Mapping
from functools import cache
from operator import attrgetter
from pathlib import Path
from typing import Any

import pydantic
import sqlglot

import sqlassets
from sqlassets.errors import Diagnostic, Location
from sqlassets.loader import LoadResult, Model, SqlAnalysis, TableRead

DEFAULT_CACHE_DIR = ".sqlassets/cache"
"""Where the cache lives by default, in the project directory."""
CACHE_DIR_ENV = "SQLASSETS_CACHE_DIR"
"""Puts the cache in this folder (relative paths: to the project directory)."""
NO_CACHE_ENV = "SQLASSETS_NO_CACHE"
"""``1`` turns the cache off: every file is analysed and nothing is written."""

_FORMAT = 1
"""The layout of an entry's payload; part of the code version."""
_MAGIC = b"SQLA\x01"
_DIGEST_SIZE = 16
_HEAD = len(_MAGIC) + _DIGEST_SIZE
_VERSION_NAME = re.compile(r"[0-9a-f]{20}")
_OFF = frozenset({"", "0", "false", "no", "off"})

log = logging.getLogger(__name__)


def cache_root(
    project_dir: Path, configured: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The cache folder of a project, or None when ``$SQLASSETS_NO_CACHE`` turns it off.

    ``$SQLASSETS_CACHE_DIR`` (relative: to ``project_dir``), else ``configured``
    (``cache_dir`` of ``[tool.sqlassets]``), else ``.sqlassets/cache``.
    """
    environ = os.environ if environ is None else environ
    if environ.get(NO_CACHE_ENV, "").strip().lower() not in _OFF:
        return None
    relocated = environ.get(CACHE_DIR_ENV, "").strip()
    if relocated:
        return project_dir / Path(relocated).expanduser()
    return configured or project_dir / DEFAULT_CACHE_DIR


@cache
def code_version() -> str:
    """A hash of the code an analysis depends on besides the file itself.

    The sqlassets sources are hashed rather than trusting its version number,
    so that editing them (a development install) never serves stale entries.
    """
    return hash_code(
        Path(sqlassets.__file__).parent,
        (
            str(_FORMAT),
            sqlassets.__version__,
            str(getattr(sqlglot, "__version__", "")),
            pydantic.VERSION,
            sys.implementation.cache_tag or sys.version,
        ),
    )


def hash_code(package: Path, versions: tuple[str, ...]) -> str:
    """A short hash of ``versions`` and every ``.py`` file under ``package`` (names and bytes)."""
    digest = hashlib.sha256()
    for part in versions:
        digest.update(part.encode() + b"\0")
    for source in sorted(package.rglob("*.py")):
        digest.update(source.relative_to(package).as_posix().encode() + b"\0")
        digest.update(source.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def _reducer(cls: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """Pickle a frozen slotted dataclass as a constructor call.

    The dataclass default goes through ``__setstate__`` and one
    ``object.__setattr__`` per field in Python: twice as slow to load.
    """
    get = attrgetter(*(field.name for field in dataclasses.fields(cls)))
    return lambda obj: (cls, get(obj))


_DISPATCH: dict[type[Any], Callable[[Any], str | tuple[Any, ...]]] = {
    **copyreg.dispatch_table,
    **{cls: _reducer(cls) for cls in (Location, Diagnostic, TableRead, SqlAnalysis)},
}


def encode(result: LoadResult, lineage: bool) -> bytes:
    """The payload of an entry: ``result`` without the model's source path."""
    model, diagnostics = result
    parts = None if model is None else (model.spec, model.sql, model.body_line, model.analysis)
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.dispatch_table = _DISPATCH
    pickler.dump((_FORMAT, lineage, parts, diagnostics))
    return buffer.getvalue()


_Unpacked = tuple[bool, tuple[Any, ...] | None, list[Diagnostic]]


def _unpack(payload: bytes | memoryview) -> _Unpacked | None:
    """``(has lineage, model parts, diagnostics)`` of a payload; None if it is unusable."""
    try:
        version, has_lineage, parts, diagnostics = pickle.loads(payload)
    except Exception:  # anything unpickling garbage raises: the entry is a miss
        return None
    if version != _FORMAT or not isinstance(diagnostics, list):
        return None
    if parts is not None and (not isinstance(parts, tuple) or len(parts) != 4):
        return None
    return bool(has_lineage), parts, diagnostics


def _result(unpacked: _Unpacked, lineage: bool, source: Path) -> LoadResult | None:
    """The load result of an unpacked payload; None if it lacks the lineage asked for."""
    has_lineage, parts, diagnostics = unpacked
    if lineage and not has_lineage:
        return None
    if parts is None:
        return None, diagnostics
    spec, sql, body_line, analysis = parts
    if has_lineage and not lineage and analysis is not None:
        analysis = dataclasses.replace(analysis, column_sources=None, token_hash=None)
    return Model(spec, sql, body_line, analysis, source), diagnostics


def decode(payload: bytes | memoryview, lineage: bool, source: Path) -> LoadResult | None:
    """The result stored in ``payload``; None if it is unusable or lacks lineage asked for."""
    unpacked = _unpack(payload)
    return None if unpacked is None else _result(unpacked, lineage, source)


def _digest(payload: bytes | memoryview, key: str) -> bytes:
    return hashlib.blake2b(payload, digest_size=_DIGEST_SIZE, key=bytes.fromhex(key)).digest()


class AnalysisCache:
    """The entries of one cache folder for this code version (``root`` None: off)."""

    def __init__(self, root: Path | None):
        self.root = root
        self.directory = root / code_version() if root is not None else None
        self._writable = root is not None
        self._prepared = False
        self.rejected = 0
        """Entries found but unusable (truncated, corrupt, foreign): each is rewritten."""
        self._lock = threading.Lock()

    @classmethod
    def for_project(
        cls,
        project_dir: Path,
        configured: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AnalysisCache:
        """The cache of a project, where :func:`cache_root` says."""
        return cls(cache_root(project_dir, configured, environ))

    @property
    def enabled(self) -> bool:
        """Whether entries are read at all."""
        return self.directory is not None

    def key(self, data: bytes, path: str, relative: str) -> str:
        """The key of a file's entry: its bytes, both its paths and the code version."""
        digest = hashlib.sha256(
            f"{code_version()}\0{len(path)}:{path}\0{len(relative)}:{relative}\0".encode()
        )
        digest.update(data)
        return digest.hexdigest()

    def get(self, key: str, lineage: bool, source: Path) -> LoadResult | None:
        """The stored result of ``key`` (for the file ``source``), or None on any miss."""
        if self.directory is None:
            return None
        try:
            entry = (self.directory / key).read_bytes()
        except OSError:
            return None
        unpacked = None
        if len(entry) > _HEAD and entry.startswith(_MAGIC):
            payload = memoryview(entry)[_HEAD:]
            if _digest(payload, key) == entry[len(_MAGIC) : _HEAD]:
                unpacked = _unpack(payload)
        if unpacked is None:
            self.rejected += 1
            return None
        return _result(unpacked, lineage, source)

    def put(self, key: str, payload: bytes) -> None:
        """Store ``payload`` (from :func:`encode`) under ``key``, atomically; never raises."""
        if self.directory is None or not self._writable:
            return
        entry = b"".join((_MAGIC, _digest(payload, key), payload))
        final = self.directory / key
        # Unique per process and thread: no two writers ever share a temporary file.
        temporary = self.directory / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            self._prepare()
            with temporary.open("wb") as file:
                file.write(entry)
            temporary.replace(final)
        except OSError as error:
            self._writable = False
            log.debug("not writing the analysis cache %s: %s", self.directory, error)
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)

    def _prepare(self) -> None:
        """Create this version's folder; on creating it, remove other versions' folders."""
        with self._lock:
            if self._prepared or self.root is None or self.directory is None:
                return
            if not self.directory.is_dir():
                self.directory.mkdir(parents=True, exist_ok=True)
                ignore = self.root / ".gitignore"
                if not ignore.exists():
                    ignore.write_text("# sqlassets' analysis cache: safe to delete\n*\n")
                for other in self.root.iterdir():
                    if other != self.directory and _VERSION_NAME.fullmatch(other.name):
                        shutil.rmtree(other, ignore_errors=True)
            self._prepared = True

"""Listing and deleting landed files: Cloud Storage, or DuckDB's local ``gcs_root`` folder.

The file-arrival sensor and the retention clean-up of ``load`` models see
files only through a :class:`FileStore`. :class:`GcsFileStore` wraps a
``google.cloud.storage.Client`` (from dagster-gcp's ``GCSResource``);
:class:`LocalFileStore` reads ``<gcs_root>/<bucket>/<object>`` as DuckDB does.
Both name files by their ``gs://`` URI. Which files belong to a partition is
decided by :func:`uri_pattern`, the same rule for both.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlassets.errors import EngineError


class FileStore(Protocol):
    """Where a load model's files land."""

    def list(self, prefix: str) -> list[str]:
        """The ``gs://`` URIs of every file whose URI starts with ``prefix``, sorted."""
        ...

    def delete(self, uri: str) -> None:
        """Delete the file ``uri``."""
        ...


@lru_cache(maxsize=4096)
def uri_pattern(uri: str) -> re.Pattern[str]:
    """The files a rendered load URI reads: ``*`` matches any characters, ``/`` included.

    This is Cloud Storage's wildcard in ``LOAD DATA`` URIs (object names are
    flat, so a ``*`` crosses "folders"); everything else matches itself only.
    """
    return re.compile(".*".join(re.escape(part) for part in uri.split("*")))


def listing_prefix(uri: str) -> str:
    """The longest prefix of the files ``uri`` may read: its text before the first ``*``."""
    return uri.split("*", 1)[0]


def split_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/key`` as ``(bucket, key)``."""
    if not uri.startswith("gs://"):
        raise EngineError(f"`{uri}` is not a gs:// URI")
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    return bucket, key


class LocalFileStore:
    """The folder that stands for Cloud Storage: ``gs://b/k`` is ``<root>/b/k``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        path = self.root / bucket / key
        # Templates are checked to stay in their bucket; a symlink may still leave it.
        if not path.resolve().is_relative_to((self.root / bucket).resolve()):
            raise EngineError(f"`{uri}` resolves outside the bucket folder {self.root / bucket}")
        return path

    def list(self, prefix: str) -> list[str]:
        """Files under ``<root>`` whose ``gs://`` URI starts with ``prefix`` (no symlinks)."""
        bucket, key = split_uri(prefix)
        folder = self.root / bucket / key.rpartition("/")[0]
        if not folder.is_dir() or folder.is_symlink():
            return []
        base = self.root / bucket
        found = []
        for directory, subdirectories, files in os.walk(folder):
            subdirectories[:] = [
                name for name in subdirectories if not Path(directory, name).is_symlink()
            ]
            for name in files:
                path = Path(directory, name)
                if path.is_symlink():
                    continue
                uri = f"gs://{bucket}/{path.relative_to(base).as_posix()}"
                if uri.startswith(prefix):
                    found.append(uri)
        return sorted(found)

    def delete(self, uri: str) -> None:
        """Remove the file (not the folders it leaves empty)."""
        self._path(uri).unlink()


class GcsFileStore:
    """Cloud Storage through a ``google.cloud.storage.Client``."""

    def __init__(self, client: Any):
        self.client = client

    def list(self, prefix: str) -> list[str]:
        """Objects whose name starts with the prefix's key (every page)."""
        bucket, key = split_uri(prefix)
        blobs = self.client.list_blobs(bucket, prefix=key)
        return sorted(f"gs://{bucket}/{blob.name}" for blob in blobs)

    def delete(self, uri: str) -> None:
        """Delete the object."""
        bucket, key = split_uri(uri)
        self.client.bucket(bucket).blob(key).delete()

"""Which landed files a load model's partition has, and which may be deleted.

The file-arrival sensor asks :func:`arrived_files`; the retention clean-up
asks :func:`deletable_files`. Both render the model's URI templates for a
partition (:func:`~sqlassets.strategies.load.load_uris`, the URIs its load
reads) and match listed files with :func:`~sqlassets.engines.storage.uri_pattern`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlassets.engines.storage import FileStore, listing_prefix, uri_pattern
from sqlassets.spec import LoadMaterialization, ModelSpec
from sqlassets.strategies.load import load_uris
from sqlassets.window import key_window


def partition_uris(spec: ModelSpec, key: str) -> tuple[str, ...]:
    """The URIs the load of partition ``key`` reads (wildcards kept)."""
    return load_uris(spec, key_window(spec, key))


def _load(spec: ModelSpec) -> LoadMaterialization:
    assert isinstance(spec.materialization, LoadMaterialization)
    return spec.materialization


def marker_uris(spec: ModelSpec, key: str) -> tuple[str, ...]:
    """The ``@ready_marker`` file expected in the folder of each of the partition's URIs."""
    marker = _load(spec).ready_marker
    if marker is None:
        return ()
    folders = dict.fromkeys(uri.rpartition("/")[0] for uri in partition_uris(spec, key))
    return tuple(f"{folder}/{marker}" for folder in folders)


def matching_files(uris: Iterable[str], store: FileStore) -> list[str]:
    """Every listed file one of ``uris`` reads, each once, in order."""
    found: dict[str, None] = {}
    for uri in uris:
        pattern = uri_pattern(uri)
        for file in store.list(listing_prefix(uri)):
            if pattern.fullmatch(file):
                found.setdefault(file)
    return list(found)


def arrived_files(spec: ModelSpec, key: str, store: FileStore) -> list[str] | None:
    """The partition's files if they have all arrived, else None.

    Arrived means at least ``min_files`` files (markers not counted) and, with
    ``@ready_marker``, the marker in every folder the URIs read.
    """
    load = _load(spec)
    markers = marker_uris(spec, key)
    files = [
        file for file in matching_files(partition_uris(spec, key), store) if file not in markers
    ]
    minimum = load.sensor.min_files if load.sensor is not None else 1
    if len(files) < minimum:
        return None
    for marker in markers:
        if marker not in store.list(marker):
            return None
    return files


def deletable_files(
    spec: ModelSpec, expired: Sequence[str], kept: Sequence[str], store: FileStore
) -> list[str]:
    """Files of the ``expired`` partitions that no ``kept`` partition reads.

    Only a listed file that one of an expired partition's URIs reads is a
    candidate, so nothing outside the model's templates is touched; a file
    that a kept partition (recent, not materialized, or whose last load
    failed) would also read stays, so templates that share files between
    partitions never lose a file still needed. Markers are not deleted.
    """
    candidates = matching_files(
        (uri for key in expired for uri in partition_uris(spec, key)), store
    )
    if not candidates:
        return []
    marker = _load(spec).ready_marker
    protected = [uri_pattern(uri) for key in kept for uri in partition_uris(spec, key)]
    return [
        file
        for file in candidates
        if file.rpartition("/")[2] != marker and not any(p.fullmatch(file) for p in protected)
    ]

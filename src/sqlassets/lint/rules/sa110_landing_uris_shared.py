"""A sensed, cleaned-up or appending load whose URIs name the same files for two partitions.

``@sensor: files`` decides that a partition has arrived, ``@retention_days``
which files may go, and ``@load_mode: append`` which rows a partition owns,
from the URIs rendered for each partition. If two partitions render the same
URI (``{start_date:%Y}`` on daily partitions, or ``{start_date:%d}``, which
repeats every month) the sensor sees one partition's files as another's, the
clean-up keeps such files (it never deletes a file a kept partition reads),
so they are never cleaned up, and an append loads the same files once for
each partition: their rows twice. Checked on the first 400 partitions and on
the same partition one and two years on.

Anti-pattern::

    -- @partitions: daily
    -- @uris: gs://landing/orders/{start_date:%d}/*.parquet

Fix: name each partition's files uniquely, e.g. ``{start_date}`` for daily
partitions (``{start_date:%Y%m%d}`` works too).
"""

from collections.abc import Iterator
from datetime import datetime

from sqlassets.codes import Code
from sqlassets.errors import Diagnostic, WindowError
from sqlassets.lint.rule import Rule
from sqlassets.project import Project
from sqlassets.spec import LoadMaterialization, LoadMode, ModelSpec, TimePartitions
from sqlassets.window import KEY_FORMATS, step

SAMPLED = 400


def _sample_starts(partitions: TimePartitions) -> list[datetime]:
    starts, moment = [], partitions.start
    for _ in range(SAMPLED):
        if partitions.end is not None and moment >= partitions.end:
            break
        starts.append(moment)
        moment = step(partitions.cadence, moment)
    for years in (1, 2):
        later = partitions.start.replace(year=min(partitions.start.year + years, 9998))
        if partitions.end is None or later < partitions.end:
            starts.append(later)
    return starts


def _shared(spec: ModelSpec, partitions: TimePartitions) -> tuple[str, str, str] | None:
    # Imported here: only load models with a sensor or retention need the storage layer.
    from sqlassets.runner.landing import partition_uris

    owner: dict[str, str] = {}
    for start in _sample_starts(partitions):
        key = start.strftime(KEY_FORMATS[partitions.cadence])
        try:
            uris = partition_uris(spec, key)
        except WindowError:
            continue  # a later year that does not start a weekly partition
        for uri in uris:
            if uri in owner and owner[uri] != key:
                return owner[uri], key, uri
            owner[uri] = key
    return None


def check(project: Project) -> Iterator[Diagnostic]:
    """Load models with a sensor, retention or append whose partitions render a common URI."""
    for model in project.models.values():
        spec, load = model.spec, model.spec.materialization
        partitions = spec.time_partitions
        if not isinstance(load, LoadMaterialization) or partitions is None:
            continue
        appends = load.load_mode is LoadMode.APPEND
        if load.sensor is None and load.retention_days is None and not appends:
            continue
        shared = _shared(spec, partitions)
        if shared is not None:
            first, second, uri = shared
            yield Diagnostic(
                Code.LANDING_URIS_SHARED,
                f"partitions {first} and {second} both read `{uri}`: the file sensor, the "
                "clean-up and an append tell partitions apart by their files; make each "
                "partition's URIs unique (for example `{start_date}`)",
                spec.location_of("uris"),
            )


RULE = Rule(Code.LANDING_URIS_SHARED, __doc__, check)

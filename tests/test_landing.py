"""Landing directives of load models: the arrival sensor and the retention clean-up.

On DuckDB through the local ``gcs_root`` folder, and on a BigQuery target
through dagster-gcp's ``GCSResource`` against the Cloud Storage stand-in of
``tests/fakes/gcs_server.py`` (``STORAGE_EMULATOR_HOST``, the storage
client's own emulator switch). Runs go through Dagster's machinery.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from sqlassets.dagster import definitions_for
from sqlassets.dagster.resources import DuckDBEngineResource
from sqlassets.engines.storage import GcsFileStore, LocalFileStore
from sqlassets.lint import lint_project
from sqlassets.project import load_project
from sqlassets.runner.landing import arrived_files, deletable_files
from tests.fakes.gcs_server import fake_gcs
from tests.helpers import write_project

PYPROJECT = (
    "[tool.sqlassets.targets.local]\n"
    'engine = "duckdb"\npath = "warehouse.duckdb"\ngcs_root = "gcs"\n'
)
HEADER = """-- @materialized: load
-- @format: parquet
-- @uris: {uris}
-- @partition_by: DATE(created_at)
-- @partitions: daily
-- @start: 2024-01-01
-- @end: 2024-01-06
"""


def _project(root: Path, extra: str, uris: str = "gs://land/orders/{start_date}/*.parquet") -> Any:
    write_project(
        root,
        {"pyproject.toml": PYPROJECT, "sql/raw/orders.sql": HEADER.format(uris=uris) + extra},
    )
    return load_project(root, lineage=True)


def _parquet(root: Path, relative: str, day: str) -> None:
    path = root / "gcs" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT 1 AS id, TIMESTAMP '{day} 10:00' AS created_at) TO '{path}' "
            "(FORMAT parquet)"
        )


def _touch(root: Path, relative: str) -> None:
    path = root / "gcs" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def _files(root: Path) -> set[str]:
    base = root / "gcs"
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}


def _lint(root: Path, project: Any) -> list[str]:
    return [str(d).removeprefix(f"{root}/") for d in lint_project(project)]


@pytest.fixture(autouse=True)
def _close_engines() -> Any:
    yield
    DuckDBEngineResource.close_all()


# ------------------------------------------------------------------ directives and lint


@pytest.mark.parametrize(
    ("lines", "found"),
    [
        ("-- @sensor: file\n", "sql/raw/orders.sql:8:13: SA102 `file` is not a sensor"),
        (
            "-- @sensor: files min_files=0\n",
            "sql/raw/orders.sql:8:29: SA102 min_files takes a whole number of at least 1",
        ),
        ("-- @sensor: files every=2\n", "sql/raw/orders.sql:8:19: SA102 `every=2` is not an"),
        ("-- @retention_days: -3\n", "sql/raw/orders.sql:8:21: SA102 `-3` is not a number"),
        (
            "-- @sensor: files\n-- @ready_marker: a/_SUCCESS\n",
            "sql/raw/orders.sql:9:19: SA102 `a/_SUCCESS` is not a marker file name",
        ),
        (
            "-- @ready_marker: _SUCCESS\n",
            "sql/raw/orders.sql:8:4: SA104 @ready_marker tells the file sensor",
        ),
    ],
)
def test_lint_locates_invalid_landing_directives(tmp_path: Path, lines: str, found: str) -> None:
    project = _project(tmp_path, lines)
    shown = _lint(tmp_path, project)
    assert any(line.startswith(found) for line in shown), shown


def test_sensor_and_retention_need_partitioned_uris(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "sql/raw/snap.sql": "-- @materialized: load\n-- @uris: gs://land/snap/*.parquet\n"
            "-- @retention_days: 7\n",
            "sql/raw/unnamed.sql": HEADER.format(uris="gs://land/all/*.parquet")
            + "-- @sensor: files\n",
            "sql/marts/t.sql": "-- @retention_days: 7\nSELECT 1 AS x\n",
        },
    )
    shown = _lint(tmp_path, load_project(tmp_path))
    assert any(s.startswith("sql/raw/snap.sql:3:4: SA109 @retention_days") for s in shown), shown
    assert any(s.startswith("sql/raw/unnamed.sql:8:4: SA109 @sensor needs URIs") for s in shown)
    assert any(s.startswith("sql/marts/t.sql:1:4: SA104 @retention_days only") for s in shown)


@pytest.mark.parametrize(
    "uris", ["gs://land/o/{start_date:%d}/*.parquet", "gs://land/o/{start_date:%Y-%m}/*.parquet"]
)
def test_lint_refuses_uris_shared_by_partitions(tmp_path: Path, uris: str) -> None:
    write_project(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "sql/raw/orders.sql": HEADER.replace("-- @end: 2024-01-06\n", "").format(uris=uris)
            + "-- @retention_days: 3\n",
        },
    )
    shown = _lint(tmp_path, load_project(tmp_path))
    assert any(s.startswith("sql/raw/orders.sql:3:4: SA110 partitions 2024-01-") for s in shown)


def test_valid_landing_directives_lint_clean(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        "-- @sensor: files min_files=2\n-- @ready_marker: _SUCCESS\n-- @retention_days: 30\n",
    )
    assert _lint(tmp_path, project) == []
    load = project.models["raw.orders"].spec.materialization
    assert (load.sensor.min_files, load.ready_marker, load.retention_days) == (2, "_SUCCESS", 30)


# ------------------------------------------------------------------ DuckDB: the local folder


def _definitions(project: Any) -> dg.Definitions:
    return definitions_for(project.raise_for_errors())


def _sensor_requests(defs: dg.Definitions, name: str, instance: dg.DagsterInstance, cursor: Any):
    sensor = defs.get_sensor_def(name)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=defs.resources, definitions=defs
    )
    result = sensor.evaluate_tick(context)
    return [r.partition_key for r in result.run_requests or []], result.cursor


def test_arrival_sensor_requests_each_arrived_partition_once(tmp_path: Path) -> None:
    project = _project(tmp_path, "-- @sensor: files min_files=2\n-- @ready_marker: _SUCCESS\n")
    defs = _definitions(project)
    sensor = defs.get_sensor_def("raw__orders__files")
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        _parquet(tmp_path, f"land/orders/{day}/a.parquet", day)
    _parquet(tmp_path, "land/orders/2024-01-01/b.parquet", "2024-01-01")
    _parquet(tmp_path, "land/orders/2024-01-02/b.parquet", "2024-01-02")
    _touch(tmp_path, "land/orders/2024-01-01/_SUCCESS")
    _touch(tmp_path, "land/orders/2024-01-03/_SUCCESS")  # one file only: not arrived
    _touch(tmp_path, "land/orders/2024-01-02/c.parquet.tmp")  # not read by the template
    with dg.instance_for_test() as instance:
        keys, cursor = _sensor_requests(defs, "raw__orders__files", instance, None)
        assert keys == ["2024-01-01"]  # 01-02 has no marker, 01-03 one file
        _touch(tmp_path, "land/orders/2024-01-02/_SUCCESS")
        keys, cursor = _sensor_requests(defs, "raw__orders__files", instance, cursor)
        assert keys == ["2024-01-02"]  # 01-01 is never requested twice
        assert _materialize(defs, instance, "2024-01-02")
        # After the last materialized partition only: 01-01 lies before it.
        keys, _ = _sensor_requests(defs, "raw__orders__files", instance, None)
        assert keys == []


def _materialize(defs: dg.Definitions, instance: dg.DagsterInstance, day: str) -> bool:
    return dg.materialize(
        [defs.get_assets_def(dg.AssetKey(["raw", "orders"]))],
        instance=instance,
        partition_key=day,
        resources=defs.resources,
        raise_on_error=False,
    ).success


def _clean(defs: dg.Definitions, instance: dg.DagsterInstance, dry_run: bool) -> list[str]:
    job = defs.get_job_def("raw__orders__retention_job")
    config = {"ops": {"raw__orders__retention": {"config": {"dry_run": dry_run}}}}
    result = job.execute_in_process(instance=instance, run_config=config)
    assert result.success
    logs = instance.all_logs(result.run_id)
    return [e.user_message for e in logs if e.user_message.startswith(("deleted", "would"))]


def test_retention_deletes_only_loaded_partitions_files_in_the_templates(tmp_path: Path) -> None:
    project = _project(tmp_path, "-- @retention_days: 30\n")
    defs = _definitions(project)
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        _parquet(tmp_path, f"land/orders/{day}/a.parquet", day)
    neighbours = {
        "land/orders/2024-01-01/_SUCCESS",
        "land/orders/2024-01-01/notes.txt",
        "land/orders/2024-01-01.parquet",
        "land/orders/2024-01-01x/a.parquet",
        "land/other/2024-01-01/a.parquet",
    }
    for neighbour in neighbours:
        _touch(tmp_path, neighbour)
    # 01-03's last load fails: a broken file after a good one.
    _touch(tmp_path, "land/orders/2024-01-03/b.parquet")
    with dg.instance_for_test() as instance:
        assert _materialize(defs, instance, "2024-01-01")
        assert _materialize(defs, instance, "2024-01-02")
        (tmp_path / "gcs/land/orders/2024-01-03/b.parquet").unlink()
        assert _materialize(defs, instance, "2024-01-03")
        _touch(tmp_path, "land/orders/2024-01-03/b.parquet")
        assert not _materialize(defs, instance, "2024-01-03")
        before = _files(tmp_path)
        planned = _clean(defs, instance, dry_run=True)
        assert planned == [
            "would delete gs://land/orders/2024-01-01/a.parquet",
            "would delete gs://land/orders/2024-01-02/a.parquet",
            "would delete 2 files of 2 expired partitions",
        ]
        assert _files(tmp_path) == before
        done = _clean(defs, instance, dry_run=False)
        assert done[:2] == [
            "deleted gs://land/orders/2024-01-01/a.parquet",
            "deleted gs://land/orders/2024-01-02/a.parquet",
        ]
        assert _files(tmp_path) == before - {
            "land/orders/2024-01-01/a.parquet",
            "land/orders/2024-01-02/a.parquet",
        }
        assert neighbours <= _files(tmp_path)


def test_retention_sensor_requests_a_clean_up_after_a_materialization(tmp_path: Path) -> None:
    project = _project(tmp_path, "-- @retention_days: 30\n")
    defs = _definitions(project)
    _parquet(tmp_path, "land/orders/2024-01-01/a.parquet", "2024-01-01")
    sensor = defs.get_sensor_def("raw__orders__retention")
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        assert not sensor.evaluate_tick(context).run_requests
        assert _materialize(defs, instance, "2024-01-01")
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        requests = sensor.evaluate_tick(context).run_requests
        assert len(requests) == 1
        assert sensor.job_name == "raw__orders__retention_job"


def test_hostile_templates_never_delete_a_kept_partitions_files(tmp_path: Path) -> None:
    # `%d` repeats each month: files of 2024-02-01 (kept, not loaded) are read by 2024-01-01.
    project = _project(
        tmp_path,
        "",
        uris="gs://land/d/{start_date:%d}/*, gs://land/d/shared/*.parquet",
    )
    spec = project.models["raw.orders"].spec
    store = LocalFileStore(tmp_path / "gcs")
    for name in ("land/d/01/a.parquet", "land/d/shared/x.parquet", "land/d/02/a.parquet"):
        _touch(tmp_path, name)
    deleted = deletable_files(spec, ["2024-01-01"], ["2024-01-02", "2024-01-03"], store)
    # d/01 is read by no kept partition; shared/ by all of them.
    assert deleted == ["gs://land/d/01/a.parquet"]


def test_local_store_does_not_follow_symlinks_out_of_the_bucket(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.parquet").write_bytes(b"x")
    (tmp_path / "gcs/land/orders").mkdir(parents=True)
    (tmp_path / "gcs/land/orders/2024-01-01").symlink_to(outside)
    store = LocalFileStore(tmp_path / "gcs")
    assert store.list("gs://land/orders/") == []


# ------------------------------------------------------------------ BigQuery targets: GCS


BIGQUERY = '[tool.sqlassets.targets.prod]\nengine = "bigquery"\nproject = "demo-project"\n'


def test_sensor_and_clean_up_list_and_delete_through_gcs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_gcp import GCSResource

    write_project(
        tmp_path,
        {
            "pyproject.toml": BIGQUERY,
            "sql/raw/orders.sql": HEADER.format(uris="gs://land/orders/{start_date}/*.parquet")
            + "-- @sensor: files min_files=3\n-- @retention_days: 30\n",
        },
    )
    project = load_project(tmp_path, lineage=True).raise_for_errors()
    spec = project.models["raw.orders"].spec
    with fake_gcs() as server:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
        server.add(
            *(f"gs://land/orders/2024-01-02/{n}.parquet" for n in "abc"),
            "gs://land/orders/2024-01-01/a.parquet",
            "gs://land/orders/2024-01-02.parquet",
            "gs://land/other/2024-01-02/a.parquet",
        )
        defs = definitions_for(project)
        assert isinstance(defs.resources["gcs"], GCSResource)
        store = GcsFileStore(defs.resources["gcs"].get_client())
        assert arrived_files(spec, "2024-01-01", store) is None
        assert arrived_files(spec, "2024-01-02", store) == [
            f"gs://land/orders/2024-01-02/{n}.parquet" for n in "abc"
        ]
        with dg.instance_for_test() as instance:
            keys, cursor = _sensor_requests(defs, "raw__orders__files", instance, None)
            assert keys == ["2024-01-02"]
            assert _sensor_requests(defs, "raw__orders__files", instance, cursor)[0] == []
        deleted = deletable_files(spec, ["2024-01-02"], ["2024-01-01"], store)
        for uri in deleted:
            store.delete(uri)
        assert server.uris() == {
            "gs://land/orders/2024-01-01/a.parquet",
            "gs://land/orders/2024-01-02.parquet",
            "gs://land/other/2024-01-02/a.parquet",
        }
        # Listings were paged (two objects a page) and every call went to the stand-in.
        assert any("pageToken=" in path for _, path in server.requests), server.requests
        assert sum(method == "DELETE" for method, _ in server.requests) == 3

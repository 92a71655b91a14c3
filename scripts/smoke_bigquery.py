"""Run each statement form sqlassets sends once on a real BigQuery project; print PASS/FAIL.

    uv run python scripts/smoke_bigquery.py --project P --dataset D [--gcs-prefix gs://b/p]

(``make smoke-bigquery PROJECT=… DATASET=… [GCS=gs://…]``.) With Application
Default Credentials, in a scratch dataset (created if missing, and then
deleted with everything in it; an existing one keeps what it had), it
materializes a tiny project through sqlassets' own runner, strategies and
engine, so the statements are exactly the ones ``sqlassets run`` sends:

- a ``table`` (``CREATE OR REPLACE TABLE … AS``), the source of the others;
- ``insert_overwrite`` over three days: ``BEGIN TRANSACTION; DELETE; INSERT; COMMIT``;
- ``merge`` keyed on its partition column: ``MERGE`` with the window in ``ON``;
- the model's checks: one query;
- with ``--gcs-prefix`` (files are written there with ``EXPORT DATA``, and
  left for you to delete): a load of three days (``LOAD DATA OVERWRITE`` into
  a staging table, the transaction, the staging table dropped), a load of one
  day (a load job into ``orders$20240102``), and a whole-table load
  (``LOAD DATA OVERWRITE … PARTITION BY … CLUSTER BY``).

Each form prints PASS or FAIL, the bytes BigQuery billed, and what was
checked. ``--api-endpoint`` points it at an emulator (``make test`` does, with
``--gcs-local-root`` for the files); forms an emulator cannot run print
UNSUPPORTED with the emulator's error. Exit status 1 when a form failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlassets.config import BigQueryTarget
from sqlassets.engines.base import JobContext, JobResult
from sqlassets.engines.bigquery import BigQueryEngine, job_id
from sqlassets.project import Project, load_project
from sqlassets.runner import resolve_window, run_checks, run_model

PASS, FAIL, UNSUPPORTED = "PASS", "FAIL", "UNSUPPORTED"
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
ROWS = [(day, index, 10 * index) for index, day in enumerate(DAYS * 2, start=1)]


@dataclass(frozen=True)
class Form:
    """One statement form's outcome."""

    name: str
    status: str
    bytes_billed: int | None
    detail: str

    def line(self) -> str:
        """``PASS  form  billed=…  detail``."""
        billed = "-" if self.bytes_billed is None else f"{self.bytes_billed:,}"
        return f"{self.status:<12} {self.name:<50} billed={billed:<12} {self.detail}"


def models(dataset: str, prefix: str | None) -> dict[str, str]:
    """The scratch project's model files (all in ``dataset``), by path."""
    rows = " UNION ALL ".join(
        f"SELECT DATE '{day}' AS d, {key} AS id, {value} AS v" for day, key, value in ROWS
    )
    files = {
        f"sql/{dataset}/src.sql": f"-- @materialized: table\n{rows}\n",
        f"sql/{dataset}/daily.sql": (
            "-- @materialized: insert_overwrite\n-- @partition_by: d\n-- @partitions: daily\n"
            f"-- @start: 2024-01-01\nSELECT d, id, v FROM {dataset}.src\n"
            "WHERE d >= @start_date AND d < @end_date\n"
        ),
        f"sql/{dataset}/keyed.sql": (
            "-- @materialized: merge\n-- @unique_key: d, id\n-- @partition_by: d\n"
            "-- @partitions: daily\n-- @start: 2024-01-01\n-- @check: not_null(id)\n"
            "-- @check: row_count(min=1)\n"
            f"SELECT d, id, v FROM {dataset}.src WHERE d >= @start_date AND d < @end_date\n"
        ),
    }
    if prefix is not None:
        files[f"sql/{dataset}/orders.sql"] = (
            "-- @materialized: load\n-- @format: csv\n"
            f"-- @uris: {prefix}/orders/{{start_date:%Y%m%d}}/*.csv\n"
            "-- @partition_by: d\n-- @partitions: daily\n-- @start: 2024-01-01\n"
            "-- @cluster_by: id\n"
        )
        files[f"sql/{dataset}/snapshot.sql"] = (
            f"-- @materialized: load\n-- @format: csv\n-- @uris: {prefix}/orders/*\n"
            "-- @partition_by: d\n-- @cluster_by: id\n"
        )
    return files


class Smoke:
    """The scratch project on one engine, and what each form did."""

    def __init__(self, engine: BigQueryEngine, project: Project, dataset: str, emulator: bool):
        self.engine = engine
        self.project = project
        self.dataset = dataset
        self.emulator = emulator
        self.forms: list[Form] = []

    def count(self, table: str, where: str = "TRUE") -> int:
        """Rows of ``dataset.table`` (a verification query, not a form)."""
        name = f"`{self.engine.project}.{self.dataset}.{table}`"
        sql = f"SELECT COUNT(*) AS n FROM {name} WHERE {where}"
        return int(next(iter(self.engine.client.query(sql).result()))["n"])

    def run(
        self, name: str, table: str, *, start: str | None = None, partition: str | None = None
    ) -> list[JobResult]:
        """Materialize ``dataset.table`` through sqlassets' runner."""
        model = self.project.models[f"{self.dataset}.{table}"]
        if start is not None:
            window = resolve_window(model, start=start, end="2024-01-04")
        else:
            window = resolve_window(model, partition=partition)
        context = JobContext(model.name, run_id=f"smoke-{name}")
        return run_model(self.project, model, self.engine, window, context)

    def form(
        self,
        name: str,
        action: Callable[[], tuple[Sequence[JobResult] | int | None, str]],
        expect: Callable[[], bool],
    ) -> None:
        """Run one form; record PASS when ``expect()`` holds afterwards."""
        status = UNSUPPORTED if self.emulator else FAIL
        try:
            outcome, detail = action()
        except Exception as error:  # every failure is reported, then the next form runs
            self.forms.append(Form(name, status, None, _short(error)))
            return
        if isinstance(outcome, int) or outcome is None:
            billed = outcome
        else:
            known = [result.bytes_billed for result in outcome if result.bytes_billed is not None]
            billed = sum(known) if known else None
        try:
            passed = expect()
        except Exception as error:
            self.forms.append(Form(name, status, billed, f"ran, then: {_short(error)}"))
            return
        self.forms.append(
            Form(name, PASS if passed else status, billed, detail if passed else f"wrong: {detail}")
        )


def _short(error: BaseException) -> str:
    return " ".join(str(getattr(error, "message", error)).split())[:160]


def run_forms(smoke: Smoke, write: Callable[[], None] | None) -> None:
    """Every form, in dependency order; ``write`` puts the load files in place (None: no loads)."""
    d = smoke.dataset
    smoke.form(
        "CREATE OR REPLACE TABLE … AS (table)",
        lambda: (smoke.run("src", "src"), "source rows"),
        lambda: smoke.count("src") == len(ROWS),
    )
    if write is not None:
        write()  # after the source table: on Cloud Storage the files are exported from it
    smoke.form(
        "BEGIN; DELETE; INSERT; COMMIT (insert_overwrite)",
        lambda: (smoke.run("daily", "daily", start=DAYS[0]), "3 days replaced"),
        lambda: smoke.count("daily") == len(ROWS),
    )
    smoke.form(
        "MERGE, the window in ON (merge)",
        lambda: (
            [
                *smoke.run("keyed1", "keyed", partition=DAYS[1]),
                *smoke.run("keyed2", "keyed", partition=DAYS[1]),
            ],
            "one day, merged twice",
        ),
        lambda: smoke.count("keyed") == 2,
    )

    def checks() -> tuple[int | None, str]:
        model = smoke.project.models[f"{d}.keyed"]
        context = JobContext(model.name, run_id="smoke-checks")
        table = smoke.engine.naming.table(model.spec.name)
        outcomes = run_checks(
            model, smoke.engine, table, resolve_window(model, partition=DAYS[1]), context
        )
        failed = [outcome.check.name for outcome in outcomes if not outcome.passed]
        if failed:
            raise RuntimeError(f"checks failed: {failed} {[dict(o.row) for o in outcomes]}")
        checked: Any = smoke.engine.client.get_job(
            job_id(_step(context), "checks"), location=smoke.engine.location
        )
        return checked.total_bytes_billed, f"{len(outcomes)} checks, one query"

    smoke.form("one query for every check", checks, lambda: True)
    if write is None:
        for name in (
            "LOAD DATA OVERWRITE staging; transaction (load)",
            "load job into orders$20240102",
            "LOAD DATA OVERWRITE … PARTITION BY (load)",
        ):
            smoke.forms.append(
                Form(name, "SKIPPED", None, "needs --gcs-prefix (or --gcs-local-root)")
            )
        return
    smoke.form(
        "LOAD DATA OVERWRITE staging; transaction (load)",
        lambda: (smoke.run("orders3", "orders", start=DAYS[0]), "3 days staged, staging dropped"),
        lambda: smoke.count("orders") == len(ROWS) and not _staging_left(smoke),
    )
    smoke.form(
        "load job into orders$20240102",
        lambda: (smoke.run("orders1", "orders", partition=DAYS[1]), "one partition replaced"),
        lambda: (
            smoke.count("orders", f"d = '{DAYS[1]}'") == 2 and smoke.count("orders") == len(ROWS)
        ),
    )
    smoke.form(
        "LOAD DATA OVERWRITE … PARTITION BY (load)",
        lambda: (smoke.run("snapshot", "snapshot"), "whole table, laid out"),
        lambda: smoke.count("snapshot") == len(ROWS),
    )


def _step(context: JobContext) -> JobContext:
    from dataclasses import replace

    return replace(context, step="checks")


def _staging_left(smoke: Smoke) -> bool:
    tables = smoke.engine.client.list_tables(f"{smoke.engine.project}.{smoke.dataset}")
    return any(table.table_id.startswith("_sqlassets_load_") for table in tables)


def write_files(smoke: Smoke, prefix: str, local_root: Path | None) -> None:
    """Three days of CSV files under ``prefix/orders/YYYYMMDD/``."""
    for day in DAYS:
        folder = f"{prefix}/orders/{day.replace('-', '')}"
        rows = [row for row in ROWS if row[0] == day]
        if local_root is not None:
            path = local_root / folder.removeprefix("gs://") / "part-0.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("d,id,v\n" + "".join(f"{d},{k},{v}\n" for d, k, v in rows))
            continue
        source = f"`{smoke.engine.project}.{smoke.dataset}.src`"
        smoke.engine.client.query(
            f"EXPORT DATA OPTIONS (uri = '{folder}/*.csv', format = 'CSV', header = TRUE, "
            f"overwrite = TRUE) AS SELECT d, id, v FROM {source} WHERE d = '{day}'"
        ).result()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the smoke check; 1 when a form failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--dataset", required=True, help="a scratch dataset")
    parser.add_argument("--location", default="US")
    parser.add_argument("--gcs-prefix", help="gs://bucket/path you may write (load forms)")
    parser.add_argument("--gcs-local-root", type=Path, help="an emulator's GCS_LOCAL_ROOT")
    parser.add_argument(
        "--api-endpoint", help="an emulator's endpoint (forms it lacks: UNSUPPORTED)"
    )
    args = parser.parse_args(argv)
    prefix = args.gcs_prefix or ("gs://smoke" if args.gcs_local_root else None)
    target = BigQueryTarget(
        project=args.project, location=args.location, api_endpoint=args.api_endpoint
    )
    engine = BigQueryEngine.from_target(target)
    client: Any = engine.client
    existed = _dataset_exists(client, f"{args.project}.{args.dataset}")
    with tempfile.TemporaryDirectory() as root:
        files = {"pyproject.toml": "[tool.sqlassets]\n", **models(args.dataset, prefix)}
        for path, text in files.items():
            (Path(root) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(root) / path).write_text(text)
        project = load_project(Path(root)).raise_for_errors()
        smoke = Smoke(engine, project, args.dataset, emulator=args.api_endpoint is not None)
        try:
            write = None
            if prefix is not None:
                write = lambda: write_files(smoke, prefix, args.gcs_local_root)  # noqa: E731
            run_forms(smoke, write)
        finally:
            _clean(client, f"{args.project}.{args.dataset}", existed, project, args.dataset)
    for form in smoke.forms:
        print(form.line())
    if prefix and not args.gcs_local_root:
        print(f"left in Cloud Storage for you to delete: {prefix}/orders/")
    return 1 if any(form.status == FAIL for form in smoke.forms) else 0


def _dataset_exists(client: Any, dataset: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        client.get_dataset(dataset)
    except NotFound:
        return False
    return True


def _clean(client: Any, dataset: str, existed: bool, project: Project, name: str) -> None:
    """Drop what the smoke created: the dataset, or only its tables in an existing one."""
    if not existed:
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        return
    for model in project.models.values():
        client.delete_table(f"{dataset}.{model.spec.name.table}", not_found_ok=True)


if __name__ == "__main__":
    sys.exit(main())

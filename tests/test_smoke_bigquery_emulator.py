"""``scripts/smoke_bigquery.py`` on the BigQuery emulator, so the live smoke check cannot rot.

The forms the emulator runs must PASS; the load forms it cannot run (no
``LOAD DATA``; ``t$20240102`` becomes a table of that name) must say
UNSUPPORTED, with the emulator's error, rather than pass or crash.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.emulator.harness import ensure_venv, start_emulator

pytestmark = pytest.mark.emulator

SCRIPT = Path(__file__).parent.parent / "scripts" / "smoke_bigquery.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke_bigquery", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_smoke_check_runs_on_the_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_venv()
    gcs = tmp_path / "gcs"
    gcs.mkdir()
    with start_emulator(project="smoke-project", extra_env={"GCS_LOCAL_ROOT": str(gcs)}) as emu:
        status = _script().main(
            [
                "--project=smoke-project",
                "--dataset=scratch",
                f"--api-endpoint={emu.endpoint}",
                f"--gcs-local-root={gcs}",
            ]
        )
        client = emu.client()
        left = [dataset.dataset_id for dataset in client.list_datasets("smoke-project")]
    lines = capsys.readouterr().out.splitlines()
    rows = [re.split(r"\s{2,}", line) for line in lines if "billed=" in line]
    statuses = {row[1]: row[0] for row in rows}
    assert statuses == {
        "CREATE OR REPLACE TABLE … AS (table)": "PASS",
        "BEGIN; DELETE; INSERT; COMMIT (insert_overwrite)": "PASS",
        "MERGE, the window in ON (merge)": "PASS",
        "one query for every check": "PASS",
        "LOAD DATA OVERWRITE staging; transaction (load)": "UNSUPPORTED",
        "load job into orders$20240102": "UNSUPPORTED",
        "LOAD DATA OVERWRITE … PARTITION BY (load)": "UNSUPPORTED",
    }, lines
    assert status == 0
    assert "scratch" not in left  # it created the dataset, so it dropped it

"""The example project as Dagster definitions: `dagster dev -f definitions.py`."""

from pathlib import Path

import sqlassets

defs = sqlassets.build_definitions(Path(__file__).parent)

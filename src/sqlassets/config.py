"""Project configuration: ``[tool.sqlassets]`` in ``pyproject.toml``.

Any value may be read from the environment as ``"env:NAME"``. A target whose
variables are all set is validated when the project loads (``lint`` catches a
bad target in CI); one that reads an unset variable is validated when it is
selected, and fails then with the variable's name.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sqlassets.codes import Code
from sqlassets.errors import ConfigError, Diagnostic, Location, did_you_mean, display_path
from sqlassets.values import (
    IDENTIFIER,
    PROJECT_ID,
    Freshness,
    InvalidValue,
    parse_bytes,
    parse_freshness,
    valid_cron,
)

DEFAULT_TARGET = "local"
TARGET_ENV = "SQLASSETS_TARGET"
STRICT_ENV = "SQLASSETS_STRICT"
_ENV_REF = re.compile(r"env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
_DATASET_AFFIX = re.compile(r"[A-Za-z0-9_]*")


class _Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DuckDBTarget(_Target):
    """The embedded engine: one DuckDB file; datasets are schemas."""

    engine: Literal["duckdb"] = "duckdb"
    path: str = ".sqlassets/warehouse.duckdb"
    """The database file, relative to the project directory (``:memory:`` allowed)."""
    gcs_root: str = "gcs"
    """The folder standing for Cloud Storage: ``gs://b/k`` is ``<gcs_root>/b/k``."""


class BigQueryTarget(_Target):
    """Google BigQuery, through the official client."""

    engine: Literal["bigquery"] = "bigquery"
    project: str
    location: str = "US"
    dataset_prefix: str = ""
    dataset_suffix: str = ""
    maximum_bytes_billed: int | None = Field(default=None, gt=0)
    job_timeout_s: float = Field(default=6 * 3600, gt=0)
    max_concurrent_jobs: int = Field(default=8, ge=1, le=1000)
    api_endpoint: str | None = None
    """An emulator's URL (``http://127.0.0.1:9050``); unset for real BigQuery."""
    storage_endpoint: str | None = None
    """An emulator's Storage Read API address (``127.0.0.1:9060``, plain gRPC); unset for real
    BigQuery. ``sqlassets show`` reads rows through it."""

    @field_validator("project")
    @classmethod
    def _project_id(cls, value: str) -> str:
        if not PROJECT_ID.fullmatch(value):
            raise ValueError(f"`{value}` is not a Google Cloud project id")
        return value

    @field_validator("dataset_prefix", "dataset_suffix")
    @classmethod
    def _affix(cls, value: str) -> str:
        if not _DATASET_AFFIX.fullmatch(value):
            raise ValueError("may only hold letters, digits and `_`")
        return value

    @field_validator("maximum_bytes_billed", mode="before")
    @classmethod
    def _bytes(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_bytes(value)
            except InvalidValue as error:
                raise ValueError(error.message) from None
        return value


Target = Annotated[DuckDBTarget | BigQueryTarget, Field(discriminator="engine")]
_TARGET_TYPES: dict[str, type[_Target]] = {"duckdb": DuckDBTarget, "bigquery": BigQueryTarget}
_TOP_KEYS = ("sql_dir", "target", "targets", "cache_dir", "observe_cron", "sources", "strict")
_SOURCE_KEYS = ("freshness",)


@dataclass(frozen=True)
class Config:
    """A project's configuration, with every target it declares."""

    root: Path
    sql_dir: Path
    default_target: str | None
    raw_targets: Mapping[str, Mapping[str, Any]]
    source: Path | None = None
    display_base: Path | None = None
    """What paths in messages are shown relative to (default: the working directory)."""
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    """Problems with targets found at load (each also raised when the target is selected)."""
    cache_dir: Path | None = None
    """``cache_dir``: the analysis cache folder (None: the default, ``.sqlassets/cache``)."""
    observe_cron: str | None = None
    """``observe_cron``: when the observation schedule runs (None: hourly; stopped by default)."""
    source_freshness: Mapping[str, Freshness] = field(default_factory=dict)
    """``[tool.sqlassets.sources."dataset.table"] freshness``: by source name."""
    strict: bool = False
    """``strict``: one file in error stops every model (default: only that file's models)."""

    def is_strict(self, environ: Mapping[str, str] | None = None) -> bool:
        """``$SQLASSETS_STRICT`` (``1``, ``true``, ``yes``; else off) if set, else ``strict``."""
        value = (environ if environ is not None else os.environ).get(STRICT_ENV, "").strip()
        if not value:
            return self.strict
        return value.lower() in ("1", "true", "yes", "on")

    @property
    def target_names(self) -> tuple[str, ...]:
        """Declared targets (the implicit local DuckDB one if none is)."""
        return tuple(self.raw_targets) or (DEFAULT_TARGET,)

    def target_name(self, name: str | None = None) -> str:
        """The target to use: ``name``, else ``$SQLASSETS_TARGET``, else the configured one."""
        chosen = name or os.environ.get(TARGET_ENV) or self.default_target
        if chosen is None:
            if len(self.raw_targets) > 1:
                raise ConfigError(
                    f"several targets ({', '.join(self.raw_targets)}) and no default: set "
                    '`target = "…"` in [tool.sqlassets], $SQLASSETS_TARGET or --target',
                    self._location("target"),
                )
            chosen = next(iter(self.raw_targets), DEFAULT_TARGET)
        if chosen not in self.target_names:
            raise ConfigError(
                f"unknown target `{chosen}`; declared: {', '.join(self.target_names)}"
                f"{_suggest(chosen, self.target_names)}",
                self._location("target"),
            )
        return chosen

    def target(self, name: str | None = None, environ: Mapping[str, str] | None = None) -> Target:
        """The selected target, its ``env:`` values read now and validated."""
        chosen = self.target_name(name)
        raw = self.raw_targets.get(chosen, {"engine": "duckdb"})
        return _validate_target(chosen, raw, environ or os.environ, self, strict=True)

    def resolve_path(self, value: str) -> Path:
        """A configured path, relative to the project directory unless absolute."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def _location(self, key: str, section: str = "tool.sqlassets") -> Location:
        if self.source is None:
            return Location("pyproject.toml", 1, 1)
        return _locate(self.source, section, key, self.display_base)


def _suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
    return did_you_mean(word, options)


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory, from ``start`` up, with ``[tool.sqlassets]`` or a ``sql/`` folder."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and "[tool.sqlassets" in pyproject.read_text(encoding="utf-8"):
            return directory
        if (directory / "sql").is_dir():
            return directory
    raise ConfigError(
        f"no sqlassets project in {here} or above: add a `sql/` folder or a [tool.sqlassets] "
        "table to pyproject.toml, or pass --project-dir",
        Location(display_path(here), 1, 1),
    )


def load_config(
    project_dir: Path,
    environ: Mapping[str, str] | None = None,
    display_base: Path | None = None,
) -> Config:
    """Read and validate ``[tool.sqlassets]`` of ``project_dir/pyproject.toml`` (optional)."""
    root = project_dir.resolve()
    pyproject = root / "pyproject.toml"
    source = pyproject if pyproject.is_file() else None
    table = _tool_table(pyproject, display_base) if source else {}

    def located(key: str) -> Location:
        return (
            _locate(source, "tool.sqlassets", key, display_base)
            if source
            else Location("pyproject.toml")
        )

    for key in table:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"unknown setting `{key}` in [tool.sqlassets]{_suggest(key, list(_TOP_KEYS))}",
                located(key),
            )
    sql_dir_value = table.get("sql_dir", "sql")
    if not isinstance(sql_dir_value, str) or not sql_dir_value:
        raise ConfigError("`sql_dir` must be a folder path", located("sql_dir"))
    targets = table.get("targets", {})
    if not isinstance(targets, dict) or not all(isinstance(t, dict) for t in targets.values()):
        raise ConfigError("targets are tables: [tool.sqlassets.targets.<name>]", located("targets"))
    default = table.get("target")
    if default is not None and not isinstance(default, str):
        raise ConfigError("`target` must be a target name", located("target"))
    cache_dir_value = table.get("cache_dir")
    if cache_dir_value is not None and (
        not isinstance(cache_dir_value, str) or not cache_dir_value
    ):
        raise ConfigError("`cache_dir` must be a folder path", located("cache_dir"))
    observe_cron = table.get("observe_cron")
    if observe_cron is not None and (
        not isinstance(observe_cron, str) or not valid_cron(" ".join(observe_cron.split()))
    ):
        raise ConfigError(
            "`observe_cron` must be a cron expression such as `0 * * * *`", located("observe_cron")
        )
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError("`strict` must be true or false", located("strict"))
    config = Config(
        root=root,
        sql_dir=(root / sql_dir_value).resolve(),
        default_target=default,
        raw_targets=targets,
        source=source,
        display_base=display_base,
        cache_dir=None if cache_dir_value is None else root / Path(cache_dir_value).expanduser(),
        observe_cron=None if observe_cron is None else " ".join(observe_cron.split()),
        strict=strict,
    )
    freshness, diagnostics = _source_freshness(config, table.get("sources", {}), located)
    config = dataclasses.replace(config, source_freshness=freshness)
    diagnostics += _target_diagnostics(config, environ or os.environ)
    if default is not None and default not in config.target_names:
        diagnostics.append(
            Diagnostic(
                Code.CONFIG,
                f'`target = "{default}"` names no declared target',
                located("target"),
            )
        )
    return dataclasses.replace(config, diagnostics=tuple(diagnostics))


_SOURCE_NAME = re.compile(rf"(?:{PROJECT_ID.pattern}\.)?{IDENTIFIER.pattern}\.{IDENTIFIER.pattern}")


def _source_freshness(
    config: Config, sources: Any, located: Any
) -> tuple[dict[str, Freshness], list[Diagnostic]]:
    """``[tool.sqlassets.sources]``: each source's freshness; SA108 for a bad one (not fatal)."""
    if not isinstance(sources, dict) or not all(isinstance(s, dict) for s in sources.values()):
        raise ConfigError(
            'sources are tables: [tool.sqlassets.sources."dataset.table"]', located("sources")
        )
    found: dict[str, Freshness] = {}
    diagnostics: list[Diagnostic] = []
    for name, settings in sources.items():
        section = f'tool.sqlassets.sources."{name}"'
        if not _SOURCE_NAME.fullmatch(name):
            raise ConfigError(
                f"`{name}` is not a source table name `[project.]dataset.table`",
                config._location("freshness", section),
            )
        for key in settings:
            if key not in _SOURCE_KEYS:
                raise ConfigError(
                    f"source `{name}`: unknown setting `{key}`{_suggest(key, list(_SOURCE_KEYS))}",
                    config._location(key, section),
                )
        value = settings.get("freshness")
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise InvalidValue('give a duration as a string, such as `"26h"`')
            found[name] = parse_freshness(value)
        except InvalidValue as error:
            diagnostics.append(
                Diagnostic(
                    Code.FRESHNESS,
                    f"source `{name}`: freshness: {error.message}",
                    config._location("freshness", section),
                )
            )
    return found, diagnostics


def _tool_table(pyproject: Path, display_base: Path | None) -> dict[str, Any]:
    """``[tool.sqlassets]`` of ``pyproject`` (empty if absent); invalid TOML is a ConfigError."""
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        line = getattr(error, "lineno", 1) or 1
        col = getattr(error, "colno", 1) or 1
        raise ConfigError(
            f"pyproject.toml is not valid TOML: {error.args[0] if error.args else error}",
            Location(display_path(pyproject, display_base), line, col),
        ) from None
    table: dict[str, Any] = document.get("tool", {}).get("sqlassets", {})
    return table


def _target_diagnostics(config: Config, environ: Mapping[str, str]) -> list[Diagnostic]:
    """Each declared target's first problem; a target reading an unset variable is skipped."""
    diagnostics = []
    for name, raw in config.raw_targets.items():
        try:
            _validate_target(name, raw, environ, config, strict=False)
        except ConfigError as error:
            diagnostics.append(error.to_diagnostic())
    return diagnostics


def _validate_target(
    name: str, raw: Mapping[str, Any], environ: Mapping[str, str], config: Config, strict: bool
) -> Target:
    section = f"tool.sqlassets.targets.{name}"
    engine = raw.get("engine")
    if engine not in _TARGET_TYPES:
        raise ConfigError(
            f"target `{name}`: `engine` must be `duckdb` or `bigquery`, not `{engine}`",
            config._location("engine", section),
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        match = _ENV_REF.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            values[key] = value
            continue
        variable = match.group("name")
        if variable in environ:
            values[key] = environ[variable]
        elif strict:
            raise ConfigError(
                f"target `{name}`: `{key}` reads the environment variable {variable}, which "
                "is not set",
                config._location(key, section),
            )
    model = _TARGET_TYPES[engine]
    unknown = sorted(set(raw) - set(model.model_fields))
    if unknown:
        raise ConfigError(
            f"target `{name}`: unknown setting `{unknown[0]}`"
            f"{_suggest(unknown[0], list(model.model_fields))}",
            config._location(unknown[0], section),
        )
    if not strict and set(raw) != set(values):
        # Unset variables: the rest is checked when the target is selected.
        return model.model_construct(**values)  # type: ignore[return-value]
    try:
        return model.model_validate(values)  # type: ignore[return-value]
    except ValidationError as error:
        first = error.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "engine"
        if first["type"] == "extra_forbidden":
            message = f"unknown setting `{key}`{_suggest(key, list(model.model_fields))}"
        elif first["type"] == "missing":
            message = f"`{key}` is required for a {engine} target"
        else:
            message = f"`{key}`: {first['msg']}"
        raise ConfigError(f"target `{name}`: {message}", config._location(key, section)) from None


def _locate(source: Path, section: str, key: str, display_base: Path | None = None) -> Location:
    """Best-effort line of ``key`` in ``[section]`` of a TOML file."""
    path = display_path(source, display_base)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError:
        return Location(path, 1, 1)
    header = re.compile(rf"^\s*\[\s*{re.escape(section)}\s*\]")
    key_line = re.compile(rf"^\s*{re.escape(key)}\s*=")
    in_section = False
    section_line = None
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("["):
            in_section = bool(header.match(line))
            if in_section:
                section_line = number
            continue
        if in_section and key_line.match(line):
            return Location(path, number, line.index(key) + 1)
    return Location(path, section_line or 1, 1)

"""The analysis cache: hits, changes, bad entries, atomic writes, unwritable folders, lint."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sqlassets import cache as cache_module
from sqlassets import project as project_module
from sqlassets.cache import (
    CACHE_DIR_ENV,
    NO_CACHE_ENV,
    AnalysisCache,
    cache_root,
    code_version,
    encode,
    hash_code,
)
from sqlassets.cli import main
from sqlassets.config import load_config
from sqlassets.errors import ConfigError, display_path
from sqlassets.loader import LoadResult, iter_model_files
from sqlassets.project import Project, load_project
from tests.helpers import write_project

FILES = {
    "sql/raw/orders.sql": "-- @materialized: table\nSELECT 1 AS id, 2 AS amount\n",
    "sql/marts/totals.sql": (
        "-- @materialized: table\n-- @check: not_null(total)\n"
        "SELECT SUM(o.amount) AS total FROM raw.orders AS o\n"
    ),
}
BROKEN = {
    "sql/marts/syntax.sql": "-- @materialized: table\nSELECT FROM WHERE (\n",
    "sql/marts/header.sql": "-- @materialized: tabel\nSELECT 1 AS a\n",
    "sql/marts/shape.sql": "-- @materialized: table\nDELETE FROM raw.orders WHERE TRUE\n",
    "sql/marts/unknown.sql": "-- @materialised: table\nSELECT 1 AS a\n",
}


@pytest.fixture(autouse=True)
def _cache_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here starts from the default: on, in the project's .sqlassets/cache."""
    monkeypatch.delenv(NO_CACHE_ENV, raising=False)
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)


@pytest.fixture
def analysed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The display path of every file analysed (not served by the cache), in this process."""
    calls: list[str] = []
    original = project_module.load_model

    def counting(source: Path, sql_dir: Path, display_base: Path | None, *args: Any) -> LoadResult:
        calls.append(display_path(source, display_base))
        return original(source, sql_dir, display_base, *args)

    monkeypatch.setattr(project_module, "load_model", counting)
    return calls


@pytest.fixture
def caches(monkeypatch: pytest.MonkeyPatch) -> list[AnalysisCache]:
    """The cache of every load, in order."""
    made: list[AnalysisCache] = []
    original = AnalysisCache.for_project

    def kept(*args: Any) -> AnalysisCache:
        made.append(original(*args))
        return made[-1]

    monkeypatch.setattr(AnalysisCache, "for_project", kept)
    return made


def _entries(root: Path) -> list[Path]:
    version = root / ".sqlassets" / "cache" / code_version()
    return sorted(version.iterdir()) if version.is_dir() else []


def _load(root: Path, lineage: bool = False, jobs: int | None = None) -> Project:
    return load_project(root, display_base=root, lineage=lineage, jobs=jobs)


def _same(first: Project, second: Project) -> None:
    assert first.models == second.models
    assert {name: m.source_path for name, m in first.models.items()} == {
        name: m.source_path for name, m in second.models.items()
    }
    assert first.diagnostics == second.diagnostics
    assert first.graph.order == second.graph.order


def _uncached(root: Path, lineage: bool = False) -> Project:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(NO_CACHE_ENV, "1")
        return _load(root, lineage)


def test_a_second_load_reads_every_file_from_the_cache(example: Path, analysed: list[str]) -> None:
    cold = _load(example, lineage=True)
    assert len(analysed) == len(cold.files) > 10
    entries = _entries(example)
    assert len(entries) == len(cold.files)
    assert (example / ".sqlassets" / "cache" / ".gitignore").read_text().endswith("*\n")
    analysed.clear()
    warm = _load(example, lineage=True)
    assert analysed == []
    _same(warm, cold)
    _same(warm, _uncached(example, lineage=True))


def test_a_lineage_entry_serves_a_load_without_lineage_as_if_uncached(
    example: Path, analysed: list[str]
) -> None:
    _load(example, lineage=True)
    analysed.clear()
    without = _load(example)
    assert analysed == []
    _same(without, _uncached(example))
    assert all(
        model.analysis is None or model.analysis.column_sources is None
        for model in without.models.values()
    )


def test_an_entry_without_lineage_is_analysed_again_when_lineage_is_asked(
    example: Path, analysed: list[str]
) -> None:
    _load(example)
    analysed.clear()
    with_lineage = _load(example, lineage=True)
    assert len(analysed) == len(with_lineage.files)
    assert any(m.analysis and m.analysis.column_sources for m in with_lineage.models.values())
    _same(with_lineage, _uncached(example, lineage=True))
    analysed.clear()
    _load(example, lineage=True)
    _load(example)
    assert analysed == []


def test_a_changed_file_alone_is_analysed_again(tmp_path: Path, analysed: list[str]) -> None:
    write_project(tmp_path, FILES)
    _load(tmp_path)
    analysed.clear()
    (tmp_path / "sql/raw/orders.sql").write_text(
        "-- @materialized: table\nSELECT 1 AS id, 2 AS amount, 3 AS extra\n"
    )
    project = _load(tmp_path)
    assert analysed == ["sql/raw/orders.sql"]
    analysis = project.models["raw.orders"].analysis
    assert analysis is not None and analysis.output_columns == ("id", "amount", "extra")
    # Back to the first bytes: the first entry is still there.
    analysed.clear()
    (tmp_path / "sql/raw/orders.sql").write_text(FILES["sql/raw/orders.sql"])
    again = _load(tmp_path)
    assert analysed == []
    _same(again, _uncached(tmp_path))


def test_the_same_bytes_under_another_name_are_their_own_entry(
    tmp_path: Path, analysed: list[str]
) -> None:
    write_project(tmp_path, FILES)
    _load(tmp_path)
    analysed.clear()
    shutil.copy(tmp_path / "sql/raw/orders.sql", tmp_path / "sql/raw/orders_copy.sql")
    (tmp_path / "sql/staging").mkdir()
    shutil.move(tmp_path / "sql/marts/totals.sql", tmp_path / "sql/staging/totals.sql")
    project = _load(tmp_path)
    assert sorted(analysed) == ["sql/raw/orders_copy.sql", "sql/staging/totals.sql"]
    assert sorted(project.models) == ["raw.orders", "raw.orders_copy", "staging.totals"]
    assert project.models["staging.totals"].path == "sql/staging/totals.sql"
    _same(project, _uncached(tmp_path))


def test_diagnostics_of_files_in_error_come_back_identical(
    tmp_path: Path, analysed: list[str]
) -> None:
    write_project(tmp_path, {**FILES, **BROKEN})
    (tmp_path / "sql/marts/latin1.sql").write_bytes(b"SELECT '\xe9t\xe9' AS a\n")
    (tmp_path / "sql/marts/nul.sql").write_bytes(b"SELECT 1 AS a\x00\n")
    (tmp_path / "sql/marts/crlf.sql").write_bytes(b"-- @materialized: table\r\nSELECT 1 AS\r\n")
    cold = _load(tmp_path)
    codes = {d.code for d in cold.diagnostics}
    assert codes == {"SA100", "SA101", "SA102", "SA107"}, cold.diagnostics
    analysed.clear()
    warm = _load(tmp_path)
    assert analysed == []
    _same(warm, cold)
    _same(warm, _uncached(tmp_path))


def _cli(root: Path, *args: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_lint_uses_the_cache_and_prints_the_same_findings(
    tmp_path: Path, analysed: list[str]
) -> None:
    write_project(tmp_path, {**FILES, **BROKEN})
    cold = _cli(tmp_path, "lint")
    assert cold[0] == 1 and "sql/marts/syntax.sql:2:" in cold[1]
    assert len(analysed) == len(FILES) + len(BROKEN)
    analysed.clear()
    assert _cli(tmp_path, "lint") == cold
    assert _cli(tmp_path, "lint", "--format", "json") == _cli(tmp_path, "lint", "--format", "json")
    assert analysed == []


# ---------------------------------------------------------------- bad entries


def _corrupt_truncated(entry: Path) -> None:
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])


def _corrupt_garbage(entry: Path) -> None:
    entry.write_bytes(os.urandom(entry.stat().st_size))


def _corrupt_flipped(entry: Path) -> None:
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))


def _corrupt_empty(entry: Path) -> None:
    entry.write_bytes(b"")


def _foreign_version(entry: Path) -> None:
    """A well-formed entry, as another code version wrote it: its digest uses another key."""
    payload = entry.read_bytes()[cache_module._HEAD :]
    other_key = "0" * 64
    entry.write_bytes(cache_module._MAGIC + cache_module._digest(payload, other_key) + payload)


def _foreign_payload(entry: Path) -> None:
    """A valid digest over a pickle this version cannot load (a class that no longer exists)."""
    payload = pickle.dumps((1, False, None, [object]), protocol=5).replace(b"builtins", b"gone_mod")
    key = entry.name
    entry.write_bytes(cache_module._MAGIC + cache_module._digest(payload, key) + payload)


def _foreign_format(entry: Path) -> None:
    """A valid digest over a payload of another entry format."""
    payload = pickle.dumps((99, False, None, []), protocol=5)
    key = entry.name
    entry.write_bytes(cache_module._MAGIC + cache_module._digest(payload, key) + payload)


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt_truncated,
        _corrupt_garbage,
        _corrupt_flipped,
        _corrupt_empty,
        _foreign_version,
        _foreign_payload,
        _foreign_format,
    ],
)
def test_a_corrupt_or_foreign_entry_is_ignored_and_rewritten(
    tmp_path: Path,
    analysed: list[str],
    caches: list[AnalysisCache],
    corrupt: Callable[[Path], None],
) -> None:
    write_project(tmp_path, FILES)
    expected = _load(tmp_path)
    entries = _entries(tmp_path)
    good = {entry.name: entry.read_bytes() for entry in entries}
    for entry in entries:
        corrupt(entry)
    analysed.clear()
    _same(_load(tmp_path), expected)
    assert len(analysed) == len(FILES)
    assert caches[-1].rejected == len(FILES)
    assert {entry.name: entry.read_bytes() for entry in _entries(tmp_path)} == good
    analysed.clear()
    _load(tmp_path)
    assert analysed == []


# ---------------------------------------------------------------- atomic writes


def test_a_half_written_temporary_file_is_never_read(tmp_path: Path, analysed: list[str]) -> None:
    write_project(tmp_path, FILES)
    expected = _load(tmp_path)
    for entry in _entries(tmp_path):
        # What a writer killed mid-way leaves: a temporary file, never the entry itself.
        half = entry.read_bytes()[:40]
        (entry.parent / f".{entry.name}.999999.1.tmp").write_bytes(half)
        entry.unlink()
    analysed.clear()
    _same(_load(tmp_path), expected)
    assert len(analysed) == len(FILES)


def test_a_write_that_fails_midway_leaves_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, FILES)
    real_open = Path.open

    class HalfFile:
        def __init__(self, file: Any):
            self.file = file

        def __enter__(self) -> HalfFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

        def write(self, data: bytes) -> int:
            self.file.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    def failing_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        file = real_open(self, mode, *args, **kwargs)
        return HalfFile(file) if mode == "wb" else file

    monkeypatch.setattr(Path, "open", failing_open)
    project = _load(tmp_path)
    assert not project.errors
    version = tmp_path / ".sqlassets" / "cache" / code_version()
    assert [p.name for p in version.iterdir()] == []


def _load_in_child(root: str, rounds: int, queue: Any) -> None:
    """Load ``rounds`` times, each time from an emptied cache the other child also writes."""
    try:
        caches: list[AnalysisCache] = []
        original = AnalysisCache.for_project

        def kept(*args: Any) -> AnalysisCache:
            caches.append(original(*args))
            return caches[-1]

        project_module.AnalysisCache.for_project = kept  # type: ignore[method-assign]
        results = []
        for _ in range(rounds):
            version = Path(root) / ".sqlassets" / "cache" / code_version()
            for entry in version.iterdir() if version.is_dir() else ():
                entry.unlink(missing_ok=True)
            project = load_project(root, display_base=Path(root), lineage=True)
            results.append((sorted(project.models), [str(d) for d in project.diagnostics]))
        queue.put((results, sum(cache.rejected for cache in caches)))
    except BaseException as error:  # pragma: no cover - reported to the parent
        queue.put(error)


def test_concurrent_processes_never_read_a_half_written_entry(example: Path) -> None:
    """Two processes empty, write and read the same entries at once, over and over."""
    expected = _uncached(example, lineage=True)
    wanted = (sorted(expected.models), [str(d) for d in expected.diagnostics])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [
        context.Process(target=_load_in_child, args=(str(example), 10, queue)) for _ in range(2)
    ]
    for child in children:
        child.start()
    outcomes = [queue.get(timeout=300) for _ in children]
    for child in children:
        child.join(timeout=60)
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), outcome
        results, rejected = outcome
        assert results == [wanted] * 10
        assert rejected == 0  # an entry was either absent or whole
    _same(_load(example, lineage=True), expected)


# ---------------------------------------------------------------- where, and off


def test_an_unwritable_cache_folder_turns_writing_off_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_project(tmp_path, {**FILES, "pyproject.toml": '[tool.sqlassets]\ncache_dir = "f/c"\n'})
    (tmp_path / "f").write_text("a file where the cache folder's parent should be")
    with caplog.at_level(logging.DEBUG, logger="sqlassets.cache"):
        project = _load(tmp_path)
    _same(project, _uncached(tmp_path))
    assert sum("not writing the analysis cache" in r.message for r in caplog.records) == 1


def test_a_filled_cache_that_cannot_be_written_is_still_read(
    tmp_path: Path, analysed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, FILES)
    _load(tmp_path)
    (tmp_path / "sql/raw/new.sql").write_text("SELECT 1 AS a\n")

    def read_only(*args: Any, **kwargs: Any) -> Any:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(AnalysisCache, "_prepare", read_only)
    analysed.clear()
    project = _load(tmp_path)
    assert analysed == ["sql/raw/new.sql"]
    assert "raw.new" in project.models
    assert len(_entries(tmp_path)) == len(FILES)


def test_no_cache_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, FILES)
    monkeypatch.setenv(NO_CACHE_ENV, "1")
    _load(tmp_path)
    assert not (tmp_path / ".sqlassets").exists()


@pytest.mark.parametrize("value", ["0", "", "false", "no"])
def test_no_cache_set_to_a_false_value_leaves_it_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    write_project(tmp_path, FILES)
    monkeypatch.setenv(NO_CACHE_ENV, value)
    _load(tmp_path)
    assert len(_entries(tmp_path)) == len(FILES)


def test_the_cache_folder_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(
        tmp_path, {**FILES, "pyproject.toml": '[tool.sqlassets]\ncache_dir = "build/c"\n'}
    )
    _load(tmp_path)
    assert len(list((tmp_path / "build" / "c" / code_version()).iterdir())) == len(FILES)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "elsewhere"))
    _load(tmp_path)
    assert len(list((tmp_path / "elsewhere" / code_version()).iterdir())) == len(FILES)
    monkeypatch.setenv(CACHE_DIR_ENV, "relative")
    config = load_config(tmp_path)
    assert cache_root(config.root, config.cache_dir) == tmp_path.resolve() / "relative"
    monkeypatch.delenv(CACHE_DIR_ENV)
    assert cache_root(config.root, config.cache_dir) == tmp_path.resolve() / "build" / "c"
    assert cache_root(tmp_path) == tmp_path / ".sqlassets" / "cache"
    assert not (tmp_path / ".sqlassets").exists()


def test_a_cache_dir_that_is_no_path_is_a_config_error(tmp_path: Path) -> None:
    write_project(tmp_path, {**FILES, "pyproject.toml": "[tool.sqlassets]\ncache_dir = 3\n"})
    with pytest.raises(ConfigError, match="`cache_dir` must be a folder path") as raised:
        load_project(tmp_path)
    assert raised.value.location is not None and raised.value.location.line == 2


def test_a_new_code_version_removes_the_folders_of_others(tmp_path: Path) -> None:
    write_project(tmp_path, FILES)
    root = tmp_path / ".sqlassets" / "cache"
    (root / ("ab" * 10)).mkdir(parents=True)
    (root / ("ab" * 10) / "entry").write_bytes(b"old")
    (root / "not-a-version").mkdir()
    _load(tmp_path)
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [".gitignore", code_version(), "not-a-version"]
    )


def test_the_code_version_follows_the_sources(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "sub" / "b.py").write_text("B = 1\n")
    first = hash_code(package, ("1", "30.30.0"))
    assert hash_code(package, ("1", "30.30.0")) == first
    assert hash_code(package, ("1", "30.31.0")) != first
    (package / "sub" / "b.py").write_text("B = 2\n")
    assert hash_code(package, ("1", "30.30.0")) != first


# ---------------------------------------------------------------- processes


@pytest.fixture
def small_pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(project_module, "PARALLEL_FROM_BYTES", 2)
    monkeypatch.setattr(project_module.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(project_module.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    yield


def test_misses_are_analysed_in_worker_processes_that_fill_the_cache(
    example: Path, small_pool: None
) -> None:
    parallel = _load(example, lineage=True)
    assert len(_entries(example)) == len(parallel.files)
    _same(parallel, _uncached(example, lineage=True))


def test_a_warm_load_starts_no_worker_process(
    example: Path, small_pool: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = _load(example, lineage=True)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pool was started for cache hits")

    monkeypatch.setattr(project_module, "ProcessPoolExecutor", no_pool)
    _same(_load(example, lineage=True), cold)
    (example / "sql" / "marts" / "daily_revenue.sql").write_text(
        (example / "sql" / "marts" / "daily_revenue.sql").read_text() + "\n-- changed\n"
    )
    _load(example, lineage=True)  # one miss: analysed here


def test_an_entry_round_trips_through_encode(example: Path) -> None:
    project = _uncached(example, lineage=True)
    cache = AnalysisCache(None)
    assert not cache.enabled
    for model in project.models.values():
        payload = encode((model, []), lineage=True)
        assert cache_module.decode(payload, True, model.source_path) == (model, [])


def test_model_files_are_listed_as_rglob_lists_them(tmp_path: Path) -> None:
    """One listing per folder (os.walk), the same files and order as ``rglob`` gave."""
    sql = tmp_path / "sql"
    for relative in (
        "a/b.sql",
        "a-b/c.sql",
        "a/.hidden.sql",
        "a/.sql",
        ".git/x.sql",
        "a/.cache/y.sql",
        "a/UPPER.SQL",
        "a/notes.txt",
        "z.sql",
        "a/deep/er/d.sql",
    ):
        (sql / relative).parent.mkdir(parents=True, exist_ok=True)
        (sql / relative).write_text("SELECT 1 AS a\n")
    (sql / "a" / "folder.sql").mkdir()
    (sql / "linked.sql").symlink_to(sql / "z.sql")
    (sql / "broken.sql").symlink_to(sql / "nowhere.sql")
    (sql / "loop").symlink_to(sql / "a", target_is_directory=True)
    expected = sorted(
        path
        for path in sql.rglob("*.sql")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(sql).parent.parts)
    )
    listed = iter_model_files(sql)
    assert listed == expected
    assert [p.relative_to(sql).as_posix() for p in listed] == [
        "a/.hidden.sql",
        "a/.sql",
        "a/b.sql",
        "a/deep/er/d.sql",
        "a-b/c.sql",
        "linked.sql",
        "z.sql",
    ]

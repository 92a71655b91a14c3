"""Benchmark ``sqlassets lint`` against a bare sqlglot parse of the same files.

For each project size, generates a project (``generate.py``: ``--corpus
large``, the default, writes production-like queries of 200-400 lines;
``--corpus small`` models of 29-86 lines), then times, as separate processes
run by the same interpreter:

- ``parse``: the floor, a bare script that reads every ``.sql`` file and calls
  ``sqlglot.parse(text, read="bigquery")`` on each, and nothing else;
- ``lint``: the installed ``sqlassets lint --project-dir <dir>`` console
  script with its default number of processes;
- ``lint -j1``: lint forced into one process, and ``lint -jN`` into one per
  CPU (skipped with ``--no-single``): the default must never be slower than
  one process;
- ``lint warm`` (information): lint again with its analysis cache filled.

All lint runs but the warm one have the analysis cache off
(``SQLASSETS_NO_CACHE=1``): a cold lint, as on CI, parses every file, like
the floor. All pay the same interpreter start; imports are part of what lint
adds. Each process runs under a tiny wrapper that reports its wall and CPU
time and peak RSS (``ru_maxrss`` of the wrapper's children: the largest
single process of its tree). Runs alternate after one untimed warm-up of
each; the median of ``--repeat`` runs is reported, with the floor measured in
the same run.

Targets, on the default lint: ``--corpus large``: within 1.3x the bare parse,
and not slower than ``lint -j1`` (5% allowed for noise); ``--corpus small``:
5,000 models within 1.3x the bare parse and under 12 s.

Usage::

    uv run python bench/lint_bench.py [--corpus large|small] [--sizes 300] [--repeat 3]

Exit codes: 0 all targets met (or not measured), 1 a target failed, 2 a
process failed (lint exit code other than 0 or 1, or a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate_large_project, generate_project

TARGET_SIZE = 5000
TARGET_RATIO = 1.3
TARGET_SECONDS = 12.0
SINGLE_TOLERANCE = 1.05
"""The default lint may be this much slower than ``-j1`` before it counts as slower (noise)."""

CORPORA = {"large": generate_large_project, "small": generate_project}
DEFAULT_SIZES = {"large": [300], "small": [1000, 5000]}
COLD = {"SQLASSETS_NO_CACHE": "1"}
"""The environment of a cold lint: the analysis cache off."""

WRAPPER = """\
import json, resource, subprocess, sys, time
out, command = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
code = subprocess.run(command).returncode
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
report = {
    "seconds": elapsed,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "returncode": code,
    "max_rss_kib": usage.ru_maxrss,
}
with open(out, "w") as handle:
    json.dump(report, handle)
"""
"""Runs a command, then writes its wall and CPU time, exit code and peak RSS (KiB) as JSON."""

BARE_PARSE = """\
import sys
from pathlib import Path

import sqlglot

count = 0
for path in sorted(Path(sys.argv[1]).rglob("*.sql")):
    sqlglot.parse(path.read_text(), read="bigquery")
    count += 1
print(f"parsed {count} files")
"""
"""The baseline: read and parse every file, nothing else."""

FINDING = re.compile(r"^\S.*:\d+:\d+: [A-Z]+\d+ .*(?<!\(warning\))$", re.MULTILINE)
"""An error finding (the large corpus's `SELECT * EXCEPT` files get SA304 warnings)."""


@dataclass(frozen=True)
class Run:
    """One timed process."""

    seconds: float
    cpu_seconds: float
    """User plus system CPU time of the whole process tree."""
    max_rss_kib: int
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Result:
    """Medians for one project size."""

    size: int
    lint_seconds: float
    parse_seconds: float
    lint_cpu_seconds: float
    parse_cpu_seconds: float
    lint_rss_mib: float
    parse_rss_mib: float
    findings: int
    corpus: str = "small"
    lines: int = 0
    """Lines of SQL in the project."""
    single_seconds: float | None = None
    """``lint --jobs 1``, when measured."""
    parallel_seconds: float | None = None
    """``lint --jobs <CPUs>``, when measured."""
    warm_seconds: float | None = None
    """Lint with its analysis cache filled (information)."""
    paired_ratio: float = 0.0
    """Median over rounds of lint / parse timed in the same round (drift cancels out)."""
    paired_single: float | None = None
    """Median over rounds of lint / ``lint -j1`` timed in the same round."""

    @property
    def ratio(self) -> float:
        """Lint time over bare-parse time."""
        return self.lint_seconds / self.parse_seconds

    @property
    def single_ratio(self) -> float | None:
        """Single-process lint time over bare-parse time, when measured."""
        if self.single_seconds is None:
            return None
        return self.single_seconds / self.parse_seconds

    @property
    def parallel_ratio(self) -> float | None:
        """``lint -jN`` time over bare-parse time, when measured."""
        if self.parallel_seconds is None:
            return None
        return self.parallel_seconds / self.parse_seconds

    @property
    def lint_ms_per_file(self) -> float:
        """Lint milliseconds per model file."""
        return self.lint_seconds * 1000 / self.size


class ProcessFailed(RuntimeError):
    """A measured process failed: lint exited 2 (or worse) or raised."""


def timed(command: list[str], workdir: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` under the wrapper (``env`` added); return its time, peak RSS and output."""
    report = workdir / "run.json"
    completed = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *command],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if completed.returncode != 0 or not report.exists():
        raise ProcessFailed(f"the wrapper failed for {command}:\n{completed.stderr}")
    data = json.loads(report.read_text())
    report.unlink()
    return Run(
        seconds=data["seconds"],
        cpu_seconds=data["cpu_seconds"],
        max_rss_kib=data["max_rss_kib"],
        returncode=data["returncode"],
        stdout=completed.stdout,
        stderr=completed.stderr,
    )


def check_lint(run: Run) -> None:
    """Exit 0 (clean) and 1 (findings) are fine; anything else is a failure."""
    if run.returncode not in (0, 1) or "Traceback (most recent call last)" in run.stderr:
        raise ProcessFailed(
            f"sqlassets lint exited {run.returncode}\n--- stdout ---\n{run.stdout[-4000:]}"
            f"\n--- stderr ---\n{run.stderr[-8000:]}"
        )


def check_parse(run: Run) -> None:
    """The bare parse must exit 0."""
    if run.returncode != 0:
        raise ProcessFailed(
            f"the bare parse exited {run.returncode}\n--- stderr ---\n{run.stderr[-8000:]}"
        )


@dataclass(frozen=True)
class Measured:
    """One command of the benchmark: how to run it and how to check it."""

    name: str
    command: list[str]
    env: dict[str, str]
    is_lint: bool = True


def measure(
    size: int, root: Path, repeat: int, seed: int, single: bool, corpus: str = "small"
) -> Result:
    """Generate a project of ``size`` models and time lint and the bare parse on it.

    With ``single``, also time ``lint --jobs 1`` and ``lint --jobs <CPUs>``.
    """
    project = root / f"project_{corpus}_{size}"
    CORPORA[corpus](project, size, seed)
    sql_dir = project / "sql"
    lines = sum(path.read_text().count("\n") for path in sql_dir.rglob("*.sql"))
    script = root / "bare_parse.py"
    script.write_text(BARE_PARSE)
    lint_command = [str(lint_executable()), "lint", "--project-dir", str(project)]
    commands = [
        Measured("parse", [sys.executable, str(script), str(sql_dir)], {}, is_lint=False),
        Measured("lint", lint_command, COLD),
    ]
    if single and lint_has_jobs():
        cpus = str(os.cpu_count() or 1)
        commands.append(Measured("single", [*lint_command, "--jobs", "1"], COLD))
        commands.append(Measured("parallel", [*lint_command, "--jobs", cpus], COLD))
    commands.append(Measured("warm", lint_command, {}))

    # One untimed warm-up of each: page cache, the warm lint's cache, a failure shows early.
    warm_up: dict[str, Run] = {}
    for measured in commands:
        warm_up[measured.name] = run = timed(measured.command, root, measured.env)
        (check_lint if measured.is_lint else check_parse)(run)

    runs: dict[str, list[Run]] = {measured.name: [] for measured in commands}
    for _ in range(repeat):
        for measured in commands:
            run = timed(measured.command, root, measured.env)
            (check_lint if measured.is_lint else check_parse)(run)
            runs[measured.name].append(run)

    def median(name: str) -> float | None:
        if name not in runs:
            return None
        return statistics.median(run.seconds for run in runs[name])

    def paired(name: str) -> float | None:
        if name not in runs:
            return None
        return statistics.median(
            lint.seconds / other.seconds
            for lint, other in zip(runs["lint"], runs[name], strict=True)
        )

    findings = len(FINDING.findall(warm_up["lint"].stdout))
    if findings:
        shown = "\n".join(warm_up["lint"].stdout.splitlines()[:10])
        print(f"  lint reported {findings} finding(s) on {size} models; first ones:\n{shown}")
    return Result(
        size=size,
        lint_seconds=statistics.median(run.seconds for run in runs["lint"]),
        parse_seconds=statistics.median(run.seconds for run in runs["parse"]),
        lint_cpu_seconds=statistics.median(run.cpu_seconds for run in runs["lint"]),
        parse_cpu_seconds=statistics.median(run.cpu_seconds for run in runs["parse"]),
        lint_rss_mib=statistics.median(run.max_rss_kib for run in runs["lint"]) / 1024,
        parse_rss_mib=statistics.median(run.max_rss_kib for run in runs["parse"]) / 1024,
        findings=findings,
        corpus=corpus,
        lines=lines,
        single_seconds=median("single"),
        parallel_seconds=median("parallel"),
        warm_seconds=median("warm"),
        paired_ratio=paired("parse") or 0.0,
        paired_single=paired("single"),
    )


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews the timings."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def lint_has_jobs() -> bool:
    """Whether ``sqlassets lint`` takes ``--jobs``."""
    completed = subprocess.run(
        [str(lint_executable()), "lint", "--help"], capture_output=True, text=True, check=False
    )
    return "--jobs" in completed.stdout


def lint_executable() -> Path:
    """The ``sqlassets`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "sqlassets"
    if not script.exists():
        raise ProcessFailed(f"{script} not found: run with `uv run` in the project")
    return script


def table(results: list[Result]) -> str:
    """The results as an aligned text table."""
    cpus = os.cpu_count() or 1
    header = (
        "size",
        "lines",
        "parse s",
        "lint s",
        "lint/parse",
        "lint ms/file",
        "lint -j1 s",
        "-j1/parse",
        f"lint -j{cpus} s",
        f"-j{cpus}/parse",
        "warm s",
        "lint CPU s",
        "parse CPU s",
        "CPU lint/parse",
        "lint RSS MiB",
        "parse RSS MiB",
        "findings",
    )
    rows = [
        (
            f"{r.size:,}",
            f"{r.lines:,}",
            f"{r.parse_seconds:.2f}",
            f"{r.lint_seconds:.2f}",
            f"{r.ratio:.2f}x",
            f"{r.lint_ms_per_file:.2f}",
            "-" if r.single_seconds is None else f"{r.single_seconds:.2f}",
            "-" if r.single_ratio is None else f"{r.single_ratio:.2f}x",
            "-" if r.parallel_seconds is None else f"{r.parallel_seconds:.2f}",
            "-" if r.parallel_ratio is None else f"{r.parallel_ratio:.2f}x",
            "-" if r.warm_seconds is None else f"{r.warm_seconds:.2f}",
            f"{r.lint_cpu_seconds:.2f}",
            f"{r.parse_cpu_seconds:.2f}",
            f"{r.lint_cpu_seconds / r.parse_cpu_seconds:.2f}x",
            f"{r.lint_rss_mib:.0f}",
            f"{r.parse_rss_mib:.0f}",
            str(r.findings),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def targets(results: list[Result]) -> list[tuple[str, bool | None]]:
    """The target checks: (description, passed), passed None when not measured."""
    checks: list[tuple[str, bool | None]] = []
    for result in results:
        if result.corpus != "large":
            continue
        name = f"lint of {result.size:,} large queries"
        checks.append(
            (
                f"{name} <= {TARGET_RATIO}x bare parse: {result.paired_ratio:.2f}x (median of "
                f"each round's lint / parse; medians {result.lint_seconds:.2f} s / "
                f"{result.parse_seconds:.2f} s = {result.ratio:.2f}x)",
                result.paired_ratio <= TARGET_RATIO,
            )
        )
        if result.paired_single is not None:
            checks.append(
                (
                    f"{name} not slower than one process: {result.paired_single:.2f}x lint -j1 "
                    f"(median of each round's lint / lint -j1; x{SINGLE_TOLERANCE} allowed for "
                    f"noise; medians {result.lint_seconds:.2f} s vs {result.single_seconds:.2f} s)",
                    result.paired_single <= SINGLE_TOLERANCE,
                )
            )
    by_size = {r.size: r for r in results if r.corpus == "small"}
    if not by_size:
        return checks
    result = by_size.get(TARGET_SIZE)
    if result is None:
        return [
            *checks,
            (f"lint of {TARGET_SIZE:,} models: not measured (add it to --sizes)", None),
        ]
    return [
        *checks,
        (
            f"lint of {TARGET_SIZE:,} <= {TARGET_RATIO}x bare parse: {result.ratio:.2f}x",
            result.ratio <= TARGET_RATIO,
        ),
        (
            f"lint of {TARGET_SIZE:,} < {TARGET_SECONDS:.0f} s: {result.lint_seconds:.2f} s",
            result.lint_seconds < TARGET_SECONDS,
        ),
    ]


def main() -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        choices=sorted(CORPORA),
        default="large",
        help="queries of 200-400 lines, or small",
    )
    parser.add_argument("--sizes", type=int, nargs="+", help="models per project (see --corpus)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument(
        "--no-single", action="store_true", help="skip `lint --jobs 1` and `lint --jobs <CPUs>`"
    )
    args = parser.parse_args()
    args.sizes = args.sizes or DEFAULT_SIZES[args.corpus]
    if args.repeat < 1 or any(size < 1 for size in args.sizes):
        parser.error("--repeat and --sizes must be positive")

    root = Path(tempfile.mkdtemp(prefix="sqlassets-lint-bench-"))
    bytecode = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s), repeat {args.repeat}, "
        f"PYTHONDONTWRITEBYTECODE={bytecode}, work in {root}"
    )
    results: list[Result] = []
    try:
        for size in args.sizes:
            print(f"measuring {size:,} models (load average {load_average()}) ...", flush=True)
            results.append(
                measure(size, root, args.repeat, args.seed, not args.no_single, args.corpus)
            )
        print(f"done (load average {load_average()})")
    except ProcessFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"projects kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(table(results))
    print(
        "(medians of wall time, floor and lint interleaved in one run; lint cold: analysis cache "
        "off; warm: cache filled; CPU: user+system of the process tree; RSS: peak of its "
        "largest process)"
    )
    print()
    failed = False
    for description, passed in targets(results):
        status = "SKIP" if passed is None else "PASS" if passed else "FAIL"
        failed = failed or passed is False
        print(f"{status}: {description}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

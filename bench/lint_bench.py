"""Benchmark ``sqlassets lint`` against a bare sqlglot parse of the same files.

For each project size, generates a project (``generate.py``), then times, as
separate processes run by the same interpreter:

- ``lint``: the installed ``sqlassets lint --project-dir <dir>`` console script;
- ``parse``: a bare script that reads every ``.sql`` file and calls
  ``sqlglot.parse(text, read="bigquery")`` on each, and nothing else;
- ``lint -j1`` (information, skipped with ``--no-single``): lint forced to one
  process with ``--jobs 1``, since lint parses large projects in one process
  per core while the bare parse uses one.

Both pay the same interpreter start and imports, so the ratio lint/parse is
what sqlassets adds on top of parsing. Each process runs under a tiny wrapper
that reports its wall time and peak RSS (``ru_maxrss`` of the wrapper's
children: the largest single process of its tree). Runs alternate after one
untimed warm-up of each; the median of ``--repeat`` runs is reported.

Target: lint of 5,000 models within 1.3x the bare parse and under 12 s.

Usage::

    uv run python bench/lint_bench.py [--sizes 1000 5000] [--repeat 3]

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

from generate import generate_project

TARGET_SIZE = 5000
TARGET_RATIO = 1.3
TARGET_SECONDS = 12.0

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

FINDING = re.compile(r"^\S.*:\d+:\d+: [A-Z]+\d+ ", re.MULTILINE)


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
    single_seconds: float | None = None
    """``lint --jobs 1``, when measured."""

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
    def lint_ms_per_file(self) -> float:
        """Lint milliseconds per model file."""
        return self.lint_seconds * 1000 / self.size


class ProcessFailed(RuntimeError):
    """A measured process failed: lint exited 2 (or worse) or raised."""


def timed(command: list[str], workdir: Path) -> Run:
    """Run ``command`` under the wrapper; return its time, peak RSS and output."""
    report = workdir / "run.json"
    completed = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *command],
        capture_output=True,
        text=True,
        check=False,
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


def measure(size: int, root: Path, repeat: int, seed: int, single: bool) -> Result:
    """Generate a project of ``size`` models and time lint and bare parse on it.

    With ``single``, also time ``lint --jobs 1`` (if the CLI has ``--jobs``).
    """
    project = root / f"project_{size}"
    generate_project(project, size, seed)
    sql_dir = project / "sql"
    script = root / "bare_parse.py"
    script.write_text(BARE_PARSE)
    lint_command = [str(lint_executable()), "lint", "--project-dir", str(project)]
    parse_command = [sys.executable, str(script), str(sql_dir)]
    single_command = [*lint_command, "--jobs", "1"] if single and lint_has_jobs() else None

    # One untimed warm-up of each: page cache, and a first-run failure shows early.
    warm_lint = timed(lint_command, root)
    check_lint(warm_lint)
    check_parse(timed(parse_command, root))
    if single_command:
        check_lint(timed(single_command, root))

    lint_runs: list[Run] = []
    parse_runs: list[Run] = []
    single_runs: list[Run] = []
    for _ in range(repeat):
        lint_run = timed(lint_command, root)
        check_lint(lint_run)
        lint_runs.append(lint_run)
        parse_run = timed(parse_command, root)
        check_parse(parse_run)
        parse_runs.append(parse_run)
        if single_command:
            single_run = timed(single_command, root)
            check_lint(single_run)
            single_runs.append(single_run)

    findings = len(FINDING.findall(warm_lint.stdout))
    if findings:
        shown = "\n".join(warm_lint.stdout.splitlines()[:10])
        print(f"  lint reported {findings} finding(s) on {size} models; first ones:\n{shown}")
    return Result(
        size=size,
        lint_seconds=statistics.median(run.seconds for run in lint_runs),
        parse_seconds=statistics.median(run.seconds for run in parse_runs),
        lint_cpu_seconds=statistics.median(run.cpu_seconds for run in lint_runs),
        parse_cpu_seconds=statistics.median(run.cpu_seconds for run in parse_runs),
        lint_rss_mib=statistics.median(run.max_rss_kib for run in lint_runs) / 1024,
        parse_rss_mib=statistics.median(run.max_rss_kib for run in parse_runs) / 1024,
        findings=findings,
        single_seconds=(
            statistics.median(run.seconds for run in single_runs) if single_runs else None
        ),
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
    header = (
        "size",
        "lint s",
        "parse s",
        "lint/parse",
        "lint ms/file",
        "lint -j1 s",
        "-j1/parse",
        "lint CPU s",
        "parse CPU s",
        "lint RSS MiB",
        "parse RSS MiB",
        "findings",
    )
    rows = [
        (
            f"{r.size:,}",
            f"{r.lint_seconds:.2f}",
            f"{r.parse_seconds:.2f}",
            f"{r.ratio:.2f}x",
            f"{r.lint_ms_per_file:.2f}",
            "-" if r.single_seconds is None else f"{r.single_seconds:.2f}",
            "-" if r.single_ratio is None else f"{r.single_ratio:.2f}x",
            f"{r.lint_cpu_seconds:.2f}",
            f"{r.parse_cpu_seconds:.2f}",
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
    by_size = {r.size: r for r in results}
    result = by_size.get(TARGET_SIZE)
    if result is None:
        return [(f"lint of {TARGET_SIZE:,} models: not measured (add it to --sizes)", None)]
    return [
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument(
        "--no-single", action="store_true", help="skip the information run of `lint --jobs 1`"
    )
    args = parser.parse_args()
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
            results.append(measure(size, root, args.repeat, args.seed, not args.no_single))
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
        "(medians; CPU: user+system of the process tree; RSS: peak of its largest process; "
        "lint -j1: lint in one process, for information)"
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

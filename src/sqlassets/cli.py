"""The ``sqlassets`` command line.

Exit codes: 0 success, 1 findings or a failed model, 2 usage or configuration
error. Heavy packages are imported inside the commands that need them.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

import click

from sqlassets.errors import ConfigError, display_path

if TYPE_CHECKING:
    from sqlassets.dagster.run import Outcome
    from sqlassets.engines import Engine
    from sqlassets.project import Project
    from sqlassets.runner import Event, PlannedStatement
    from sqlassets.runner.plan import Bound

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _project_dir_option(function: F) -> F:
    return click.option(
        "--project-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The project directory (default: found from the working directory upwards).",
    )(function)


def _select_option(function: F) -> F:
    """``--select`` and ``--exclude``, as every command over several models takes them."""
    function = click.option(
        "--exclude",
        "excludes",
        multiple=True,
        metavar="SELECTOR",
        help="Leave out the models these select (same grammar as --select).",
    )(function)
    return click.option(
        "--select",
        "-s",
        "selectors",
        multiple=True,
        metavar="SELECTOR",
        help=(
            "Models: names, globs (marts.*), a dataset (marts), tag:k[=v], owner:o, group:g, "
            "path:sql/marts/; +name / 2+name with upstream, name+ / name+1 with downstream; "
            "several after one flag (--select a b) or repeated flags."
        ),
    )(function)


def _selected(
    project: Project, selectors: tuple[str, ...], excludes: tuple[str, ...] = ()
) -> set[str] | None:
    """The models ``--select``/``--exclude`` name (None: every model); a bad selector: exit 2."""
    from sqlassets.errors import SelectionError
    from sqlassets.selection import select

    if not selectors and not excludes:
        return None
    try:
        return select(project.graph, selectors, excludes, project.config.root)
    except SelectionError as error:
        _usage(error.message)


def _selected_all(
    project: Project, selectors: tuple[str, ...], excludes: tuple[str, ...] = ()
) -> set[str]:
    """:func:`_selected`, with every model for no selector."""
    selected = _selected(project, selectors, excludes)
    return set(project.graph.models) if selected is None else selected


# ---------------------------------------------------------------- interruption
#
# SIGINT and SIGTERM stop a command within seconds, whatever it is doing:
#
# - the handler below raises KeyboardInterrupt in the main thread (SIGTERM too);
# - Python runs that handler only between bytecodes, and Dagster swaps in its
#   own (which defers the interrupt to its next checkpoint) while it executes a
#   run. So a watcher thread, woken by the signal through ``set_wakeup_fd``
#   even while the main thread is blocked inside the engine, interrupts the
#   engine's running statements (their job rolls back), then raises
#   KeyboardInterrupt in the main thread once a second until the command
#   ends, and exits the process itself after GRACE_S (nothing is committed
#   half-way: every job is one transaction);
# - from the signal on, stderr is silenced (Dagster would log the interrupted
#   step with its stack): the command's last word is one line saying what
#   happened.

SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
GRACE_S = 3.0
"""Seconds after a signal before the process exits without waiting for the main thread."""


class _Interrupts:
    """The signal handler, the watcher thread, and what they saw."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.engines: list[type[Engine]] = []
        """Engine classes whose statements a signal interrupts."""
        self._done = threading.Event()
        self._inject = threading.Lock()
        self._main = threading.main_thread().ident or 0
        self._reader, self._writer = socket.socketpair()
        """The signal's C handler writes its number to ``_writer`` (``set_wakeup_fd``)."""
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._stderr = sys.stderr
        self._thread = threading.Thread(target=self._watch, name="sqlassets-signals", daemon=True)

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (from the main thread) until :meth:`uninstall`."""
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._stderr = sys.stderr
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        self._thread.start()

    def uninstall(self) -> None:
        with self._inject:
            self._done.set()
            self._clear_injected()
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._previous_fd)
        sys.stderr = self._stderr
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")  # wake the watcher so it ends
        self._thread.join(timeout=1)
        self._close()

    def _close(self) -> None:
        self._reader.close()
        self._writer.close()

    def _noticed(self, signum: int) -> None:
        self.signum = self.signum or signum
        sys.stderr = _Discard()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._noticed(signum)
        raise KeyboardInterrupt

    def _watch(self) -> None:
        first: float | None = None  # when the first signal came
        kicks = 0  # one a second after it; at GRACE_S, the process exits
        while not self._done.is_set():
            timeout = None if first is None else max(0.0, first + kicks + 1 - time.monotonic())
            ready, _, _ = select.select([self._reader], [], [], timeout)
            if self._done.is_set():
                return
            received = [b for b in self._reader.recv(64) if b in SIGNALS] if ready else []
            if received and first is not None:
                self.exit_now()  # a second signal: do not wait any longer
            if received:
                self._noticed(received[0])
                first = time.monotonic()
                for engine in self.engines:
                    engine.interrupt_all()
            elif first is not None and not ready:
                kicks += 1
                if kicks >= GRACE_S:
                    self.exit_now()
                self._kick()

    def _kick(self) -> None:
        """Raise KeyboardInterrupt in the main thread at its next bytecode."""
        with self._inject:
            if not self._done.is_set():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self._main), ctypes.py_object(KeyboardInterrupt)
                )

    def _clear_injected(self) -> None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._main), None)

    @property
    def code(self) -> int:
        """The exit code of a process ended by the signal: 128 + its number."""
        return 128 + (self.signum or signal.SIGINT)

    def message(self) -> str:
        name = SIGNALS.get(signal.Signals(self.signum or signal.SIGINT), "a signal")
        return (
            f"sqlassets: interrupted by {name}: a statement in progress was rolled back; "
            "what had been written before it is kept"
        )

    def exit_now(self) -> NoReturn:
        """End the process now, saying why (the main thread's work is over or abandoned)."""
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            self._stderr.write(self.message() + "\n")
            self._stderr.flush()
        os._exit(self.code)


class _Discard(io.TextIOBase):
    """A text stream that drops what is written to it."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def _interruptible() -> Iterator[_Interrupts]:
    """Run the block so SIGINT/SIGTERM end it within seconds: exit 130/143, one line."""
    interrupts = _Interrupts()
    if threading.current_thread() is not threading.main_thread():
        # Signals reach the main thread only: whoever runs it there handles them.
        interrupts._close()
        yield interrupts
        return
    interrupts.install()
    try:
        yield interrupts
    except BaseException:
        if interrupts.signum is None:
            raise
    finally:
        interrupts.uninstall()
        for engine in interrupts.engines:
            engine.resume_all()
    if interrupts.signum is not None:
        # Not sys.exit: the interpreter's teardown (collecting Dagster's heap) took 3-4 s
        # on a loaded machine, with the watcher gone; every job is one transaction.
        interrupts.exit_now()


def _fail_config(error: ConfigError) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


class _Command(click.Command):
    """A command whose list options take several values after one flag, as dbt's do.

    ``--select a b --select c`` is ``--select a --select b --select c``: the
    words after a list option, up to the next option, are its values (click
    alone takes one value per flag).
    """

    list_options: ClassVar[frozenset[str]] = frozenset({"--select", "-s", "--exclude"})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self.spread(args))

    @classmethod
    def spread(cls, args: list[str]) -> list[str]:
        """``args`` with every extra value of a list option given its own flag."""
        spread: list[str] = []
        flag: str | None = None  # the list option whose values are being read
        awaiting = False  # its first value (the one click expects) has not come yet
        for index, arg in enumerate(args):
            if arg == "--":
                return spread + args[index:]
            if arg.startswith("-") and arg != "-":
                name, joined, _ = arg.partition("=")
                flag = name if name in cls.list_options else None
                awaiting = flag is not None and not joined
            elif flag is not None and not awaiting:
                spread.append(flag)
            awaiting = awaiting and arg.startswith("-")
            spread.append(arg)
        return spread


class _Terminated(KeyboardInterrupt):
    """SIGTERM, before a command takes the signals over (:func:`_interruptible`)."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


class _Group(click.Group):
    command_class = _Command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a signal it does not handle itself ends it with one line.

        Commands that write take SIGINT and SIGTERM over (``_interruptible``);
        before that (imports, reading the project) and in the other commands,
        Ctrl-C would print click's ``Aborted!`` and exit 1, and SIGTERM kill the
        process silently. Both exit 130/143 instead, saying so.
        """
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.getsignal(signal.SIGTERM)
        if in_main:
            signal.signal(signal.SIGTERM, _terminated)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            signum = signal.SIGTERM if isinstance(interrupt, _Terminated) else signal.SIGINT
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            click.echo(f"sqlassets: interrupted by {SIGNALS[signum]}", err=True)
            sys.exit(128 + signum)
        finally:
            if in_main:  # None: a handler not set from Python, so the default one
                signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_Group,
)
@click.version_option(package_name="sqlassets")
def main() -> None:
    """Turn a folder of BigQuery SQL files into a Dagster asset graph."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text: path:line:col: CODE message; json: for tools; github: Actions annotations.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that parse files (default: one per idle core from 1.5 MB of SQL).",
)
@_project_dir_option
def lint(
    paths: tuple[Path, ...], output_format: str, jobs: int | None, project_dir: Path | None
) -> None:
    """Parse and check every model file; report findings in PATHS (default: all).

    Exits 1 when any error is found (warnings alone exit 0).
    """
    from sqlassets.config import find_project_dir
    from sqlassets.lint import FORMATTERS, OutputFormat, lint_project, select_paths
    from sqlassets.project import load_project

    try:
        root = project_dir or find_project_dir(paths[0] if paths else None)
        project = load_project(root, jobs=jobs)
    except ConfigError as error:
        _fail_config(error)
    findings = select_paths(lint_project(project), [Path(display_path(path)) for path in paths])
    click.echo(FORMATTERS[OutputFormat(output_format)](findings), nl=False)
    errors = sum(finding.is_error for finding in findings)
    warnings = len(findings) - errors
    if output_format == "text":
        files = len(project.files)
        if findings:
            click.echo(f"{errors} error(s), {warnings} warning(s) in {files} file(s)", err=True)
        else:
            click.echo(
                f"All checks passed: {files} file(s), {len(project.models)} model(s)", err=True
            )
    sys.exit(EXIT_FINDINGS if errors else EXIT_OK)


@main.command()
@_select_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="text: one line per model in run order; mermaid or dot: a diagram.",
)
@_project_dir_option
def graph(
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    output_format: str,
    project_dir: Path | None,
) -> None:
    """Print the dependency graph of the models, in run order.

    With --select/--exclude, only the models they select and the edges among
    them. Models with errors are left out; the command then says so and exits 1.
    """
    from sqlassets.project import load_project
    from sqlassets.render import GRAPH_FORMATTERS, GraphFormat
    from sqlassets.selection import subgraph

    try:
        project = load_project(project_dir)
    except ConfigError as error:
        _fail_config(error)
    _refuse_config_errors(project)
    selected = _selected(project, selectors, excludes)
    shown = project.graph if selected is None else subgraph(project.graph, selected)
    click.echo(GRAPH_FORMATTERS[GraphFormat(output_format)](shown), nl=False)
    if project.errors:
        click.echo(
            f"{len(project.errors)} error(s) left models out of the graph; run `sqlassets lint`",
            err=True,
        )
        sys.exit(EXIT_FINDINGS)


def _target_option(function: F) -> F:
    return click.option(
        "--target",
        "-t",
        default=None,
        help="The target (default: $SQLASSETS_TARGET, else [tool.sqlassets] target).",
    )(function)


def _window_options(function: F) -> F:
    function = click.option(
        "--end", default=None, help="Window end (exclusive), YYYY-MM-DD[ HH:MM]."
    )(function)
    function = click.option("--start", default=None, help="Window start, YYYY-MM-DD[ HH:MM].")(
        function
    )
    return click.option(
        "--partition", default=None, help="One partition key (static, or a time partition)."
    )(function)


def _wait_option(function: F) -> F:
    return click.option(
        "--wait-for-lock",
        "wait_for_lock",
        type=click.FloatRange(min=0),
        default=0.0,
        metavar="SECONDS",
        help="When another process holds the DuckDB file, wait this long for it (default: 0).",
    )(function)


def _check_window_options(partition: str | None, start: str | None, end: str | None) -> None:
    """Refuse a malformed window before any model is looked at (exit 2)."""
    from sqlassets.errors import WindowError
    from sqlassets.window import parse_moment

    if partition is not None and (start is not None or end is not None):
        _usage("give --partition or --start/--end, not both")
    if (start is None) != (end is None):
        _usage("give both --start and --end, or neither")
    if start is None or end is None:
        return
    try:
        low, high = parse_moment(start), parse_moment(end)
    except WindowError as error:
        _usage(error.message)
    if high <= low:
        _usage(f"--end {end} is not after --start {start}: the window is [start, end)")


def _check_windows(
    project: Project,
    selected: set[str],
    partition: str | None,
    start: str | None,
    end: str | None,
) -> None:
    """Refuse a window any selected model cannot run, before any job is sent (exit 2).

    The same windows ``run`` resolves per model: unpartitioned models run
    whole, static ones every key unless ``--partition`` names one, time ones
    their latest complete partition when no window is given.
    """
    from sqlassets.errors import WindowError
    from sqlassets.runner import resolve_window

    for name in project.graph.order:
        spec = project.models[name].spec
        if name not in selected or spec.partitions is None:
            continue
        if spec.static_partitions is not None and partition is None:
            continue
        try:
            resolve_window(project.models[name], partition, start, end)
        except WindowError as error:
            message = error.message if name in error.message else f"{name}: {error.message}"
            _usage(f"{message}; give a window it has, or leave it out (--exclude {name})")


def _check_partition_fits_one(project: Project, selected: set[str], partition: str) -> None:
    """``plan --partition K``: K must be a partition of at least one selected model (else exit 2).

    Models K does not fit are planned over their own partitions, as for a window.
    """
    from sqlassets.errors import WindowError
    from sqlassets.runner import resolve_window

    first: str | None = None
    for name in project.graph.order:
        model = project.models.get(name)
        if name not in selected or model is None or model.spec.partitions is None:
            continue
        try:
            resolve_window(model, partition, None, None)
            return
        except WindowError as error:
            first = first or (
                error.message if name in error.message else f"{name}: {error.message}"
            )
    if first is not None:
        _usage(f"--partition {partition} is a partition of no selected model: {first}")


def _claim(engine: Engine, wait_s: float) -> None:
    """Open the warehouse before any work: a file another process holds is a usage error."""
    from sqlassets.engines.base import LOCKED
    from sqlassets.errors import EngineError

    try:
        engine.open()
        return
    except EngineError as error:
        if error.reason != LOCKED:
            _usage(error.message)
        if not wait_s:
            _usage(
                f"{error.message}: run again when it has finished, or wait for it with "
                "--wait-for-lock SECONDS"
            )
        click.echo(f"waiting up to {wait_s:g}s: {error.message}", err=True)
    try:
        engine.open(wait_s)
    except EngineError as error:
        _usage(f"{error.message} after waiting {wait_s:g}s (--wait-for-lock)")


def _load_valid_project(project_dir: Path | None) -> Project:
    from sqlassets.project import load_project

    try:
        project = load_project(project_dir)
    except ConfigError as error:
        _fail_config(error)
    _refuse_config_errors(project)
    from sqlassets.errors import ProjectError

    try:
        usable = project.without_broken()
        if not usable.models:  # nothing valid is left to work with
            raise ProjectError(list(project.errors))
    except ProjectError:
        for diagnostic in project.errors:
            click.echo(str(diagnostic), err=True)
        click.echo(f"{len(project.errors)} error(s); fix them first (`sqlassets lint`)", err=True)
        sys.exit(EXIT_FINDINGS)
    for file in usable.broken:
        click.echo(f"warning: {file.path} has errors and is left out:", err=True)
        for diagnostic in file.diagnostics:
            click.echo(f"  {diagnostic}", err=True)
    if usable.blocked:
        click.echo(
            f"warning: left out as they read a broken file: {', '.join(usable.blocked)}", err=True
        )
    if usable.broken:
        click.echo(
            "warning: every other model works; fix the files (`sqlassets lint`), or set "
            "strict = true in [tool.sqlassets] (or SQLASSETS_STRICT=1) to stop on any error",
            err=True,
        )
    return usable


def _refuse_config_errors(project: Project) -> None:
    """An error in ``[tool.sqlassets]`` (an undeclared target...) is a usage error: exit 2."""
    errors = [diagnostic for diagnostic in project.config.diagnostics if diagnostic.is_error]
    if errors:
        for diagnostic in errors:
            click.echo(str(diagnostic), err=True)
        click.echo(f"{len(errors)} configuration error(s) in pyproject.toml", err=True)
        sys.exit(EXIT_USAGE)


def _usage(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@main.command(name="compile")
@click.argument("model_names", metavar="MODEL...", nargs=-1, required=True)
@_window_options
@_target_option
@_wait_option
@_project_dir_option
def compile_command(
    model_names: tuple[str, ...],
    partition: str | None,
    start: str | None,
    end: str | None,
    target: str | None,
    wait_for_lock: float,
    project_dir: Path | None,
) -> None:
    """Print the exact statements a run of MODEL would send, in the target's dialect.

    MODEL is a name or any selector (see --select of `run`): several models
    print one after another, in run order; the window applies to the
    partitioned ones. Nothing runs. The columns of a ``SELECT *`` merge or
    insert_overwrite come from the models it reads; the engine is asked
    (DuckDB's file opened) only when a source's columns are unknown, or up
    front with --wait-for-lock.
    """
    from sqlassets.engines import open_engine
    from sqlassets.errors import EngineError, StrategyError, WindowError
    from sqlassets.runner import located, model_jobs, render_jobs, resolve_window

    _check_window_options(partition, start, end)
    project = _load_valid_project(project_dir)
    selected = _selected_all(project, model_names)
    names = [name for name in project.graph.order if name in selected]
    try:
        engine = open_engine(project.config, target)
    except ConfigError as error:
        _fail_config(error)
    if wait_for_lock:
        _claim(engine, wait_for_lock)
    printed = []
    for name in names:
        model = project.models[name]
        whole = len(names) > 1 and model.spec.partitions is None
        try:
            if whole:
                window = resolve_window(model, None, None, None)
            else:
                window = resolve_window(model, partition, start, end)
            jobs = model_jobs(project, model, engine, window, offline=True)
            rendered = render_jobs(engine, jobs)
        except WindowError as error:
            engine.close()
            _usage(_named(name, error.message))
        except EngineError as error:
            engine.close()
            _usage(located(error, model).message)
        except StrategyError as error:  # the model cannot be compiled: a finding, located
            engine.close()
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FINDINGS)
        printed.append(
            f"-- {model.name} on target {project.config.target_name(target)} ({engine.name}), "
            f"window {window.label()}\n\n" + rendered
        )
    engine.close()
    click.echo("\n".join(printed), nl=False)


@main.command()
@_select_option
@_window_options
@_target_option
@_wait_option
@_project_dir_option
def plan(
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    partition: str | None,
    start: str | None,
    end: str | None,
    target: str | None,
    wait_for_lock: float,
    project_dir: Path | None,
) -> None:
    """Dry-run every model and report what each would process, per model and window.

    On BigQuery: the bytes each would bill (nothing runs, nothing is billed),
    as the query's dry run plus what the write adds on the target (a MERGE
    reads the target's columns; loads, views and DELETEs of whole partitions
    are free), marked ≈ (estimate) or ≥ (lower bound) where not exact. A
    model the window does not fit is planned over its own partitions. On
    DuckDB: whether each query plans (EXPLAIN); a file another process holds
    is refused first (exit 2), or waited for with --wait-for-lock.
    """
    from sqlassets.engines import open_engine
    from sqlassets.runner import dry_run

    _check_window_options(partition, start, end)
    project = _load_valid_project(project_dir)
    selected = _selected_all(project, selectors, excludes)
    if partition is not None:
        _check_partition_fits_one(project, selected, partition)
    try:
        engine = open_engine(project.config, target)
    except ConfigError as error:
        _fail_config(error)
    with _interruptible() as interrupts:
        interrupts.engines.append(type(engine))
        _claim(engine, wait_for_lock)
        try:
            report = dry_run(project, engine, partition, start, end, selected)
        finally:
            engine.close()
    rows = [
        (statement.model, statement.window, statement.action, _processes(statement), statement.note)
        for statement in report.statements
    ]
    header = ("model", "window", "job", "processes", "note")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        click.echo(
            "  ".join(
                cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)
            ).rstrip()
        )
    if engine.capabilities.dry_run_bytes:
        click.echo(f"\ntotal: {_marked(report.bound, report.bytes_processed)}")
        if any(statement.bound.value for statement in report.statements):
            click.echo(
                "≈ estimate (a stand-in dry run); ≥ lower bound (an input is not built yet, or "
                "the rows are unknown before the load); unmarked: BigQuery's dry run, or what "
                "BigQuery does not bill"
            )
    for note in report.notes:
        click.echo(f"warning: {note}", err=True)
    if not report.statements and project.models:
        click.echo("error: nothing was planned", err=True)
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_FINDINGS if report.failed else EXIT_OK)


def _marked(bound: Bound, count: int) -> str:
    return f"{bound.value} {_bytes(count)}" if bound.value else _bytes(count)


def _processes(statement: PlannedStatement) -> str:
    """A dry run's result, short: bytes on BigQuery, whether it plans on DuckDB; or the error."""
    result = statement.result
    if result is None:
        return statement.error or "-"
    if result.bytes_processed is not None:
        return _marked(statement.bound, result.bytes_processed)
    if statement.note.startswith("skipped"):
        return "skipped"
    if result.plan and not result.plan.startswith("cannot"):
        return "plans"
    return result.plan or "-"


@main.command()
@_select_option
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild incremental tables (empty, current partitioning) before writing the window.",
)
@_window_options
@click.option(
    "--fail-fast",
    is_flag=True,
    help="After the first failed model or blocking check, start no other (running ones finish).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a summary table; json: the run results (as in .sqlassets/run_results.json).",
)
@click.option("--verbose", "-v", is_flag=True, help="Also print Dagster's own log lines.")
@_target_option
@_wait_option
@_project_dir_option
def run(
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    full_refresh: bool,
    partition: str | None,
    start: str | None,
    end: str | None,
    fail_fast: bool,
    output_format: str,
    verbose: bool,
    target: str | None,
    wait_for_lock: float,
    project_dir: Path | None,
) -> None:
    """Materialize models and their checks through Dagster, in dependency order.

    Partitioned models run over --start/--end (one statement per model for the
    whole window under single_run) or --partition; without either, their
    latest complete partition. Unpartitioned models run once. --full-refresh
    recreates merge and insert_overwrite tables first: rows outside the window
    are dropped, so give it the whole range. Every model's result goes to
    .sqlassets/run_results.json (--format json prints it). Exits 1 when a
    model or a blocking check fails, 2 on a window a selected model cannot
    run (checked for every model before anything runs) or a DuckDB file
    another process holds (see --wait-for-lock). SIGINT and SIGTERM stop the
    run within seconds: the statement in progress rolls back, and the exit
    code is 130 or 143.
    """
    from datetime import UTC, datetime

    from sqlassets.engines import open_engine

    with _interruptible() as interrupts:
        _check_window_options(partition, start, end)
        project = _load_valid_project(project_dir)
        selected = _selected_all(project, selectors, excludes)
        try:
            engine = open_engine(project.config, target)
        except ConfigError as error:
            _fail_config(error)
        _check_windows(project, selected, partition, start, end)
        interrupts.engines.append(type(engine))
        # Held for the whole run: no other process can take the file between this check
        # and the first job (the run's own connections share its database in process).
        _claim(engine, wait_for_lock)
        try:
            from sqlassets.dagster.run import run_project  # Dagster takes seconds to import

            target_name = project.config.target_name(target)
            # An interrupted run writes no results: leave none of the previous run's behind.
            with contextlib.suppress(OSError):
                (project.config.root / RUN_RESULTS).unlink(missing_ok=True)
            click.echo(f"Running {len(selected)} model(s) on target {target_name}", err=True)
            started_at = datetime.now(UTC)
            started = time.monotonic()
            outcomes = run_project(
                project,
                selected,
                target,
                partition,
                start,
                end,
                _Progress(),
                full_refresh=full_refresh,
                fail_fast=fail_fast,
                log_level="INFO" if verbose else "CRITICAL",
            )
        finally:
            engine.close()
    elapsed = time.monotonic() - started
    results = {
        "command": "run",
        "target": target_name,
        "engine": engine.name,
        "started_at": started_at.isoformat(),
        "elapsed_s": round(elapsed, 3),
        "fail_fast": fail_fast,
        "success": all(outcome.ok for outcome in outcomes),
        "results": [outcome.as_dict() for outcome in outcomes],
    }
    _write_run_results(project, results)
    if output_format == "json":
        import json

        click.echo(json.dumps(results, indent=2))
    _print_summary(outcomes, elapsed, table=output_format == "text")


RUN_RESULTS = Path(".sqlassets") / "run_results.json"
"""Where ``run`` writes its results, under the project directory."""


def _write_run_results(project: Project, results: dict[str, Any]) -> None:
    """``results`` to ``.sqlassets/run_results.json``, whole or not at all (temp file, rename)."""
    import json

    path = project.config.root / RUN_RESULTS
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        click.echo(f"warning: run results not written to {display_path(path)}: {error}", err=True)


def _rows(inserted: int | None, deleted: int | None, affected: int | None) -> str:
    """Rows as the warehouse counted them: ``+15 -15`` when it tells inserts from deletes."""
    if inserted is not None or deleted is not None:
        parts = [
            f"+{inserted:,}" if inserted is not None else "",
            f"-{deleted:,}" if deleted else "",
        ]
        return " ".join(part for part in parts if part) or "+0"
    return "-" if affected is None else f"{affected:,} affected"


def _print_summary(outcomes: list[Outcome], elapsed: float, table: bool = True) -> NoReturn:
    """The summary table of ``run`` (stdout), the failures and the count (stderr); exit."""
    from sqlassets.runner import Status

    if table:
        rows = [("asset", "window", "status", "rows", "duration", "bytes")]
        for outcome in outcomes:
            status = outcome.status + (
                f" ({', '.join(outcome.failed_checks)})" if outcome.failed_checks else ""
            )
            rows.append(
                (
                    outcome.name,
                    outcome.window,
                    status,
                    _rows(outcome.rows_inserted, outcome.rows_deleted, outcome.rows),
                    "-" if outcome.duration_s is None else f"{outcome.duration_s:.2f}s",
                    "-" if outcome.bytes is None else _bytes(outcome.bytes),
                )
            )
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        click.echo("")
        for row in rows:
            click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    for outcome in outcomes:
        if outcome.message and not outcome.ok:
            click.echo(_named(outcome.name, outcome.message), err=True)
    count = {status: sum(o.status is status for o in outcomes) for status in Status}
    written = len(outcomes) - count[Status.FAILED] - count[Status.SKIPPED]
    parts = [
        f"{count[Status.CHECK_FAILED]} failed a blocking check (downstream not run)"
        if count[Status.CHECK_FAILED]
        else "",
        f"{count[Status.FAILED]} failed" if count[Status.FAILED] else "",
        f"{count[Status.SKIPPED]} not run" if count[Status.SKIPPED] else "",
    ]
    detail = ", ".join(part for part in parts if part)
    click.echo(
        f"\n{written} of {len(outcomes)} model(s) materialized in {elapsed:.1f}s"
        + (f"; {detail}" if detail else ""),
        err=True,
    )
    failed = any(not outcome.ok for outcome in outcomes)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


class _Progress:
    """Progress of `sqlassets run`, on stderr, one line per event.

    A model whose blocking check failed is written but not `ok`: its line says
    so, as the summary does.
    """

    def __init__(self) -> None:
        self._blocked: set[str] = set()

    def __call__(self, event: Event) -> None:
        from sqlassets.runner import CheckEvaluated, ModelFailed, ModelMaterialized, ModelStarted

        if isinstance(event, ModelStarted):
            click.echo(f"  ... {event.model}", err=True)
        elif isinstance(event, ModelMaterialized):
            rows = _rows(event.rows_inserted, event.rows_deleted, event.rows)
            shown = "" if rows == "-" else f", rows {rows}"
            done = f"{event.model} [{event.window}]{shown} in {event.duration_s:.2f}s"
            if event.model in self._blocked:
                click.echo(f"  FAIL {done}: materialized, a blocking check failed", err=True)
            else:
                click.echo(f"  ok  {done}", err=True)
        elif isinstance(event, CheckEvaluated) and not event.passed:
            level = "FAIL" if event.blocking else "warn"
            if event.blocking:
                self._blocked.add(event.model)
            click.echo(f"  {level} check {event.model}:{event.check}", err=True)
        elif isinstance(event, ModelFailed):
            click.echo(f"  FAIL {_named(event.model, event.error)}", err=True)


def _named(model: str, message: str) -> str:
    """``model: message``; engine errors already start with the model's name."""
    return message if message.startswith(f"{model}: ") else f"{model}: {message}"


def _bytes(count: int) -> str:
    from sqlassets.costs import format_bytes

    return format_bytes(count)


# ---------------------------------------------------------------- observe, cost


def _text_or_json(help_text: str = "text: a table; json: for tools.") -> Callable[[F], F]:
    """``--format text|json`` (default text), as ``observe``, ``cost`` and ``list`` take it."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help=help_text,
    )


@main.command(name="observe")
@_select_option
@_text_or_json()
@_target_option
@_wait_option
@_project_dir_option
def observe_command(
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    output_format: str,
    target: str | None,
    wait_for_lock: float,
    project_dir: Path | None,
) -> None:
    """Print each model table's and source's metadata: rows, bytes, partitions, last change.

    The selected models (default: all) and the external sources they read,
    from one metadata query per dataset: no table's rows are read (BigQuery:
    __TABLES__, INFORMATION_SCHEMA.TABLE_STORAGE and PARTITIONS; DuckDB: its
    catalog). The same figures the Dagster job `sqlassets_observe` records.
    Exits 1 when a table with a freshness rule is stale.
    """
    from datetime import UTC, datetime

    from sqlassets.engines import open_engine
    from sqlassets.errors import EngineError
    from sqlassets.runner.observe import observe

    project = _load_valid_project(project_dir)
    selected = _selected(project, selectors, excludes)
    try:
        engine = open_engine(project.config, target)
    except ConfigError as error:
        _fail_config(error)
    with _interruptible() as interrupts:
        interrupts.engines.append(type(engine))
        _claim(engine, wait_for_lock)
        try:
            observations = observe(project, engine, selected)
        except EngineError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(EXIT_FINDINGS)
        finally:
            engine.close()
    now = datetime.now(UTC)
    click.echo(_observation_output(observations, now, output_format), nl=False)
    stale = [item.name for item in observations if item.is_fresh(now) is False]
    if stale:
        click.echo(f"stale: {', '.join(stale)}", err=True)
    sys.exit(EXIT_FINDINGS if stale else EXIT_OK)


def _observation_output(observations: list[Any], now: Any, output_format: str) -> str:
    import json

    def cell(value: int | None, bytes_: bool = False) -> str:
        return "-" if value is None else (_bytes(value) if bytes_ else f"{value:,}")

    rows = []
    for item in observations:
        stats = item.stats
        fresh = item.is_fresh(now)
        rows.append(
            {
                "name": item.name,
                "kind": "source" if item.is_source else "model",
                "table": item.table,
                "exists": stats is not None,
                "rows": stats.row_count if stats else None,
                "logical_bytes": stats.logical_bytes if stats else None,
                "physical_bytes": stats.physical_bytes if stats else None,
                "partitions": stats.partitions if stats else None,
                "last_modified": stats.last_modified.isoformat()
                if stats and stats.last_modified
                else None,
                "freshness": item.freshness.describe() if item.freshness else None,
                "fresh": fresh,
            }
        )
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    table = [("name", "kind", "rows", "logical", "physical", "partitions", "modified", "fresh")]
    for row, item in zip(rows, observations, strict=True):
        stats = item.stats
        modified = f"{stats.last_modified:%Y-%m-%d %H:%M}" if stats and stats.last_modified else "-"
        fresh = {True: "ok", False: "STALE", None: "-"}[row["fresh"]]
        table.append(
            (
                row["name"],
                row["kind"],
                "missing" if stats is None else cell(stats.row_count),
                cell(stats.logical_bytes, True) if stats else "-",
                cell(stats.physical_bytes, True) if stats else "-",
                cell(stats.partitions) if stats else "-",
                modified,
                fresh if item.freshness else "-",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "".join(
        "  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() + "\n"
        for row in table
    )


@main.command(name="cost")
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="How far back: a duration (7d, 36h) or a date (YYYY-MM-DD, UTC).",
)
@_select_option
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw the daily bytes billed, stacked per model, as a PNG (the plot extra).",
)
@_text_or_json("text: tables per model and per day; json: every entry.")
@_target_option
@_project_dir_option
def cost_command(
    since: str,
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    plot: Path | None,
    output_format: str,
    target: str | None,
    project_dir: Path | None,
) -> None:
    """Report bytes billed and slot time per model and per day, most costly first.

    From the Dagster instance's event log ($DAGSTER_HOME: each
    materialization's metadata) and, on a BigQuery target, from
    INFORMATION_SCHEMA.JOBS by the jobs' sqlassets_asset label (one
    metadata query, billed at its 10 MB minimum). No table is read.
    """
    from datetime import UTC, datetime

    from sqlassets.costs import CostEntry, parse_since, render_json, render_text
    from sqlassets.engines import open_engine
    from sqlassets.errors import EngineError
    from sqlassets.values import InvalidValue

    try:
        start = parse_since(since)
    except InvalidValue as error:
        _usage(f"--since: {error.message}")
    if plot is not None:
        from sqlassets.plot import PlotUnavailableError, ensure_available

        try:
            ensure_available()
        except PlotUnavailableError as error:
            _usage(error.message)
    project = _load_valid_project(project_dir)
    selected = _selected(project, selectors, excludes)
    names = [name for name in project.graph.order if selected is None or name in selected]
    entries: list[CostEntry] = []
    notes: list[str] = []
    if os.environ.get("DAGSTER_HOME"):
        entries += _event_log_costs(project, start, selected)
    else:
        notes.append("$DAGSTER_HOME is not set: the Dagster event log was not read")
    try:
        engine = open_engine(project.config, target)
    except ConfigError as error:
        _fail_config(error)
    if engine.capabilities.job_history:
        try:
            entries += _job_costs(engine, start, names)
        except EngineError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(EXIT_FINDINGS)
        finally:
            engine.close()
    else:
        notes.append(f"the {engine.name} target keeps no job history; give a BigQuery --target")
    if output_format == "json":
        click.echo(render_json(entries, start))
    else:
        click.echo(render_text(entries, start, notes), nl=False)
    if plot is not None:
        _plot_costs(entries, start, datetime.now(UTC), plot)


def _event_log_costs(project: Project, since: Any, selected: set[str] | None) -> list[Any]:
    from sqlassets.dagster.cost import event_log_costs
    from sqlassets.dagster.run import home_instance

    with home_instance() as instance:
        return event_log_costs(project, instance, since, selected)


def _job_costs(engine: Engine, since: Any, names: list[str]) -> list[Any]:
    from sqlassets.costs import JOBS, CostEntry

    wanted = set(names)
    return [
        CostEntry(cost.asset, cost.day, JOBS, cost.jobs, cost.bytes_billed, cost.slot_ms)
        for cost in engine.job_costs(since, names)
        if cost.asset in wanted
    ]


def _plot_costs(entries: list[Any], since: Any, now: Any, path: Path) -> None:
    """Draw one source's daily series (BigQuery's when there, else the event log's)."""
    from sqlassets.costs import EVENT_LOG, JOBS, daily_series, days, format_bytes, totals
    from sqlassets.plot import cost_chart

    source = JOBS if any(e.source == JOBS for e in entries) else EVENT_LOG
    chosen = [entry for entry in entries if entry.source == source]
    span = days(since, now)
    top = [total.key for total in totals(chosen, "model")][:9]
    series = daily_series(chosen, span, top)
    billed = sum(entry.bytes_billed for entry in chosen)
    title = f"Bytes billed per day, by model\n{source}, {span[0]} to {span[-1]} (UTC)"
    cost_chart(series, span, title, path)
    click.echo(
        f"plot: {display_path(path)}, {len(span)} day(s), {len(series)} series, "
        f"{format_bytes(billed)} billed in all ({source})",
        err=True,
    )


# ---------------------------------------------------------------- show


@main.command(name="show")
@click.argument("model_name", metavar="MODEL")
@_window_options
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1, max=10_000),
    default=20,
    show_default=True,
    help="Rows to print at most.",
)
@click.option("--columns", default=None, help="Columns to print, comma-separated (default: all).")
@click.option("--where", default=None, help="A boolean SQL condition on the table's columns.")
@click.option(
    "--query",
    "from_query",
    is_flag=True,
    help="Preview the model's query instead of its table (a billed query job with LIMIT).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table: aligned columns; json: a list of objects; csv: with a header row.",
)
@_target_option
@_wait_option
@_project_dir_option
def show_command(
    model_name: str,
    partition: str | None,
    start: str | None,
    end: str | None,
    limit: int,
    columns: str | None,
    where: str | None,
    from_query: bool,
    output_format: str,
    target: str | None,
    wait_for_lock: float,
    project_dir: Path | None,
) -> None:
    """Print up to --limit rows of MODEL's materialized table.

    --partition or --start/--end keep the rows of that window (on the
    @partition_by column), --where those a condition holds for. On BigQuery
    the rows come through the Storage Read API (one read session, one
    stream, stopped after --limit rows): no query job runs, nothing is
    billed for a query. On DuckDB the table is read. --query runs the model's
    query with LIMIT instead, after a dry run: refused above
    @maximum_bytes_billed.
    """
    from sqlassets.engines import open_engine
    from sqlassets.errors import EngineError, WindowError
    from sqlassets.runner import resolve_window
    from sqlassets.runner.preview import preview, query_preview, where_condition

    _check_window_options(partition, start, end)
    project = _load_valid_project(project_dir)
    model = project.models[_one_model(project, model_name)]
    chosen = [name.strip() for name in (columns or "").split(",") if name.strip()]
    try:
        condition = None if where is None else where_condition(where)
        engine = open_engine(project.config, target)
        window = None
        if partition is not None or start is not None:
            window = resolve_window(model, partition, start, end)
    except ConfigError as error:
        _fail_config(error)
    except WindowError as error:
        _usage(error.message)
    with _interruptible() as interrupts:
        interrupts.engines.append(type(engine))
        _claim(engine, wait_for_lock)
        try:
            if from_query:
                shown = query_preview(
                    project, model, engine, window, chosen, condition, limit, _print_dry_run
                )
            else:
                shown = preview(model, engine, window, chosen, condition, limit)
        except WindowError as error:
            _usage(error.message)
        except EngineError as error:
            click.echo(f"error: {error.message}", err=True)
            sys.exit(EXIT_FINDINGS)
        finally:
            engine.close()
    click.echo(_preview_output(shown.columns, shown.rows, output_format), nl=False)
    click.echo(f"{len(shown.rows)} row(s) of {model.name} ({shown.source})", err=True)


def _one_model(project: Project, selector: str) -> str:
    """The one model ``selector`` names (exit 2 for none or several)."""
    found = [name for name in project.graph.order if name in _selected_all(project, (selector,))]
    if len(found) != 1:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        _usage(f"`{selector}` selects {len(found)} models ({shown}): name one")
    return found[0]


def _cell(value: Any) -> str:
    from decimal import Decimal

    if value is None:
        return "NULL"
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def _print_dry_run(bytes_processed: int | None) -> None:
    shown = "unknown" if bytes_processed is None else _bytes(bytes_processed)
    click.echo(f"the query would process {shown}", err=True)


def _preview_output(
    columns: tuple[str, ...], rows: tuple[tuple[Any, ...], ...], output_format: str
) -> str:
    """Rows as an aligned table, JSON objects or CSV (values as their text; NULL as empty)."""
    import csv
    import json

    if output_format == "json":
        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(objects, indent=2, default=str) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if value is None else value for value in row] for row in rows)
        return buffer.getvalue()
    table = [columns, *(tuple(_cell(value) for value in row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "".join(
        "  ".join(value.ljust(widths[i]) for i, value in enumerate(line)).rstrip() + "\n"
        for line in table
    )


# ---------------------------------------------------------------- list


@main.command(name="list")
@_select_option
@_text_or_json()
@_project_dir_option
def list_command(
    selectors: tuple[str, ...],
    excludes: tuple[str, ...],
    output_format: str,
    project_dir: Path | None,
) -> None:
    """Print the models in run order: materialization, partitions, schedule, owners.

    Reads the SQL files only: no warehouse is opened.
    """
    import json

    project = _load_valid_project(project_dir)
    selected = _selected(project, selectors, excludes)
    rows = [
        _model_row(project, name)
        for name in project.graph.order
        if name in project.models and (selected is None or name in selected)
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("model", "materialized", "partitions", "schedule", "owners")]
    table += [
        (
            row["name"],
            row["materialized"],
            row["partitions"] or "-",
            row["schedule"] or "-",
            ", ".join(row["owners"]) or "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
    click.echo(f"{len(rows)} model(s)", err=True)


def _model_row(project: Project, name: str) -> dict[str, Any]:
    from sqlassets.spec import StaticPartitions

    spec = project.models[name].spec
    partitions = spec.partitions
    described = None
    if isinstance(partitions, StaticPartitions):
        described = "values(" + ", ".join(partitions.keys) + ")"
    elif partitions is not None:
        described = f"{partitions.cadence.value} from {partitions.start:%Y-%m-%d}"
    return {
        "name": name,
        "path": display_path(Path(spec.path)),
        "materialized": spec.materialization.kind,
        "partitions": described,
        "schedule": spec.schedule,
        "owners": list(spec.owners),
        "group": spec.group,
        "tags": dict(spec.tags),
    }


# ---------------------------------------------------------------- init


@main.command(name="init")
@click.argument(
    "directory",
    metavar="[DIR]",
    required=False,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
def init_command(directory: Path | None, force: bool) -> None:
    """Write a starter project into DIR (default: the working directory).

    A pyproject.toml with a DuckDB target (and a commented BigQuery one), a
    load of the sample CSV under gcs/, two models with checks and
    definitions.py for Dagster; `sqlassets lint` and `sqlassets run` work on
    it as written. A DIR that is not empty is refused without --force
    (files of the same name are then overwritten).
    """
    from sqlassets.starter import write_starter

    root = directory or Path.cwd()
    if root.exists() and any(root.iterdir()) and not force:
        _usage(f"{display_path(root)} is not empty: give an empty or new DIR, or --force")
    try:
        written = write_starter(root)
    except OSError as error:
        _usage(f"cannot write the project into {display_path(root)}: {error.strerror}")
    for path in written:
        click.echo(f"  wrote {display_path(path)}", err=True)
    where = "" if directory is None else f" --project-dir {display_path(root)}"
    click.echo(
        f"Starter project written. Next: sqlassets lint{where} && sqlassets run{where}", err=True
    )


if __name__ == "__main__":  # pragma: no cover
    main()

"""The ``sqlassets`` command line.

Exit codes: 0 success, 1 findings or a failed model, 2 usage or configuration
error. Heavy packages are imported inside the commands that need them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from sqlassets.errors import ConfigError, display_path

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _project_dir_option(function: F) -> F:
    return click.option(
        "--project-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The project directory (default: found from the working directory upwards).",
    )(function)


def _fail_config(error: ConfigError) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    help="Processes that parse files (default: one per core for 500+ files).",
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
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="text: one line per model in run order; mermaid or dot: a diagram.",
)
@_project_dir_option
def graph(output_format: str, project_dir: Path | None) -> None:
    """Print the dependency graph of the models, in run order.

    Models with errors are left out; the command then says so and exits 1.
    """
    from sqlassets.project import load_project
    from sqlassets.render import GRAPH_FORMATTERS, GraphFormat

    try:
        project = load_project(project_dir)
    except ConfigError as error:
        _fail_config(error)
    click.echo(GRAPH_FORMATTERS[GraphFormat(output_format)](project.graph), nl=False)
    if project.errors:
        click.echo(
            f"{len(project.errors)} error(s) left models out of the graph; run `sqlassets lint`",
            err=True,
        )
        sys.exit(EXIT_FINDINGS)


if __name__ == "__main__":  # pragma: no cover
    main()

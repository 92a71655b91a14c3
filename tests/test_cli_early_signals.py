"""A signal before a command takes the signals over ends it with one line: exit 130/143.

Commands that write install their own handling (``_interruptible``, tested in
tests/faults/test_interrupts.py); before it, and in the other commands, Ctrl-C
printed click's ``Aborted!`` (exit 1) and SIGTERM killed the process silently.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from sqlassets.cli import main

# The command's body starts by signalling its own process: what a Ctrl-C (or a
# `kill`) arriving as the command starts does, without timing anything.
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from sqlassets.cli import main
    command = main.commands[sys.argv[1]]
    body = command.callback
    def signalled(*args, **kwargs):
        os.kill(os.getpid(), int(sys.argv[2]))
        return body(*args, **kwargs)
    command.callback = signalled
    main([sys.argv[1], "--project-dir", sys.argv[3]], prog_name="sqlassets")
    """
)


@pytest.mark.parametrize("command", ["list", "run"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_as_a_command_starts_exits_with_one_line(
    example: Path, command: str, signum: int
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, command, str(int(signum)), str(example)],
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": ""},
        timeout=60,
    )
    assert done.returncode == 128 + signum, done.stderr
    assert done.stderr == f"sqlassets: interrupted by {signal.Signals(signum).name}\n"
    assert not (example / "warehouse.duckdb").exists()  # nothing was written


def test_the_previous_sigterm_handler_is_back_after_a_command(example: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    result = CliRunner().invoke(main, ["list", "--project-dir", str(example)])
    assert result.exit_code == 0, result.output
    assert signal.getsignal(signal.SIGTERM) is before

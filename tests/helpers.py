"""Shared test helpers: write a small project from a mapping of files."""

from __future__ import annotations

from pathlib import Path


def write_project(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) under ``root``; ensure a sql/ folder exists."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "sql").mkdir(exist_ok=True)
    return root

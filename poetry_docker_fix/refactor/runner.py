"""From paths on disk to refactorings: find Dockerfiles, read their build context, run the pipeline."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from .facts import Context, Options
from .pipeline import Refactoring, Status, refactor
from .project import ProjectError, load_project
from .writer import InputError, read_dockerfile

DOCKERFILE_PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile")
SKIP_DIRECTORIES = {".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox",
                    ".mypy_cache", ".pytest_cache", ".ruff_cache"}


@dataclass
class FileReport:
    path: Path
    refactoring: Refactoring | None = None
    error: str | None = None  # input error: one line naming the file

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.FAILED
        assert self.refactoring is not None
        return self.refactoring.status


def is_dockerfile_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DOCKERFILE_PATTERNS)


def find_dockerfiles(directory: Path) -> list[Path]:
    found: list[Path] = []
    for root, directories, files in os.walk(directory):
        directories[:] = sorted(d for d in directories if d not in SKIP_DIRECTORIES and not d.endswith(".egg-info"))
        found.extend(Path(root) / name for name in files if is_dockerfile_name(name))
    return sorted(found)


def process_text(text: str, context_dir: Path, options: Options, passes: list[type]) -> Refactoring:
    """Raises ProjectError when the context's pyproject.toml or poetry.lock cannot be read."""
    project = load_project(context_dir)
    return refactor(text, Context(project, options), passes)


def process_file(path: Path, context_dir: Path | None, options: Options, passes: list[type]) -> FileReport:
    try:
        text = read_dockerfile(path)
        refactoring = process_text(text, context_dir or path.parent, options, passes)
    except (InputError, ProjectError) as error:
        return FileReport(path, error=str(error))
    return FileReport(path, refactoring)

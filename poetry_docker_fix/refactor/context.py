"""Where a Dockerfile's build context is. Kept apart from the runner (which imports the whole engine) so the
command can ask before anything heavy is imported (see import_reader.useful)."""

from __future__ import annotations

from pathlib import Path


def discover_context(dockerfile: Path) -> Path:
    """The build context: the Dockerfile's folder, or — when that has no pyproject.toml, as for
    `docker/Dockerfile` — the nearest folder above it that has one (not past a repository root)."""
    folder = dockerfile.parent if str(dockerfile.parent) else Path(".")
    if (folder / "pyproject.toml").is_file():
        return folder
    try:
        parents = folder.resolve().parents
    except (OSError, RuntimeError):  # a symlink loop
        return folder
    for parent in parents:
        if (parent / "pyproject.toml").is_file():
            return parent
        if (parent / ".git").exists():
            break
    return folder

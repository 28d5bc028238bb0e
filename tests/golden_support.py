"""Finding golden cases and running the tool on them exactly as a user would, through the CLI."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GOLDEN = Path(os.environ.get("POETRY_DOCKER_FIX_GOLDEN_DIR", Path(__file__).resolve().parent.parent / "golden"))


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    options: tuple[str, ...]
    e2e: dict | None
    description: str


def cases() -> list[Case]:
    found = []
    for path in sorted(p for p in GOLDEN.iterdir() if (p / "Dockerfile").is_file()):
        config_path = path / "case.toml"
        config = tomllib.loads(config_path.read_text()) if config_path.exists() else {}
        description = ""
        if config_path.exists():
            comments = [l.lstrip("# ").strip() for l in config_path.read_text().splitlines() if l.startswith("#")]
            description = comments[0] if comments else ""
        found.append(Case(path.name, path, tuple(config.get("options", ())), config.get("e2e"), description))
    return found


def run_cli(arguments: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    from poetry_docker_fix.cli import app

    runner = CliRunner()
    result = runner.invoke(app, arguments, input=stdin, catch_exceptions=False)
    return result.exit_code, result.stdout_bytes, result.stderr_bytes


def run_case(path: Path, source: bytes | None = None, tmp: Path | None = None) -> bytes:
    """The tool's output for golden case `path` (or for `source`, read with that case's context)."""
    import tempfile

    config_path = path / "case.toml"
    options = list(tomllib.loads(config_path.read_text()).get("options", [])) if config_path.exists() else []
    with tempfile.TemporaryDirectory(dir=tmp) as directory:
        out = Path(directory) / "out.Dockerfile"
        if source is None:
            arguments = [*options, "-q", "-o", str(out), str(path / "Dockerfile")]
        else:
            given = Path(directory) / "Dockerfile"
            given.write_bytes(source)
            arguments = [*options, "-q", "--context", str(path), "-o", str(out), str(given)]
        code, _stdout, stderr = run_cli(arguments)
        assert code == 0, f"exit {code}: {stderr.decode()}"
        return out.read_bytes()

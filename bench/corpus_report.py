"""Run poetry-docker-fix over a corpus of real-world Dockerfiles and report where it fails or holds back.

    python bench/corpus_report.py CORPUS_DIR [--output report.md] [--no-hadolint] [--cli-check 8]
                                             [--details] [--show-diffs N]

CORPUS_DIR holds one folder per case (folders whose name starts with `_` or `.` are ignored). Each folder is the
build context of one Dockerfile: the Dockerfile (named `Dockerfile`, `Dockerfile.*`, `*.Dockerfile`,
`*.dockerfile`, `Containerfile`, or any other file whose name contains "dockerfile", e.g. a lower-case
`dockerfile`), usually a pyproject.toml and a poetry.lock, and a `source.txt` saying where it came from (shown
in the report when present). Nothing in CORPUS_DIR is written.

For every case it runs the engine through its Python API (`runner.process_file` with the default options and
every pass), then checks:

- crash: an exception escaped the engine, or the file ended `failed` (exit 3, "internal error");
- input error: the engine refused an input file (exit 2: unreadable Dockerfile, pyproject.toml or lock that
  does not parse). Listed, not counted as a tool failure;
- non-idempotent: the tool run again on its own output (same context) changes it again;
- unparseable: BuildKit's parser (the `dockerfile` package) rejects the output while it accepted the input;
- new hadolint warnings: rule codes hadolint reports for the output but not for the input;
- non-Poetry file changed: the input does not mention `poetry` at all, yet the tool changed it.

and, as heuristics on BuildKit's reading of input and output (each one a pattern found by reading rewrites; the
reproducers are in tests/test_real_world.py): a runtime stage whose CMD/ENTRYPOINT calls Poetry it does not
have, a `poetry install` moved above the COPY of poetry.lock, code copied to a different absolute path in the
runtime stage, Poetry 1.2+ flags written for the get-poetry.py installer (Poetry <= 1.1), a dev group dropped
while the image runs a dev tool (pytest, poe, …), a development stage trimmed to `--only main`, and
`virtualenvs.create false` overridden without putting the virtualenv on PATH. They are listed, not counted in
the exit status.

It also counts the share rewritten / unchanged / skipped / failed, groups skip (and "unchanged because …")
reasons with counts, groups the notes passes left ("why I did nothing") so over-cautious rules stand out, and
runs the real CLI (`python -m poetry_docker_fix -q -o OUT FILE`) on a handful of cases to check that it agrees
with the API (same output bytes, exit code 0/2/3 as the status says).

The report is Markdown, printed to stdout and, with --output, written to FILE. Exit status: 0 when no tool
failure (crash, non-idempotent, unparseable, new hadolint warning, non-Poetry file changed, CLI mismatch) was
found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from poetry_docker_fix.refactor.facts import Options  # noqa: E402
from poetry_docker_fix.refactor.pipeline import Status, select_passes  # noqa: E402
from poetry_docker_fix.refactor.project import ProjectError  # noqa: E402
from poetry_docker_fix.refactor.runner import is_dockerfile_name, process_file, process_text  # noqa: E402

SIDE_FILES = {"source.txt", "pyproject.toml", "poetry.lock", "poetry.toml", "README.md", "README", ".dockerignore"}
FAILURE_KINDS = ("crash", "non-idempotent", "unparseable output", "new hadolint warning", "non-Poetry file changed",
                 "CLI disagrees")
# Heuristic checks of what the rewrite means for the image (each found by reading real rewrites; see
# tests/test_real_world.py for the reproducers).
SEMANTIC_KINDS = ("runtime stage calls Poetry", "install before the lock is copied", "code lands elsewhere",
                  "Poetry 1.2+ flags for get-poetry.py", "dev tool the image runs is dropped",
                  "development stage trimmed", "virtualenv not on PATH")
DEV_TOOLS = ("pytest", "poe ", "poe\"", "mypy", "ruff", "flake8", "pylint", "black ", "coverage", "tox")


@dataclass
class CaseResult:
    name: str
    dockerfile: Path | None
    source: dict[str, str] = field(default_factory=dict)
    status: str = "?"  # changed / unchanged / skipped / failed / input-error / crash / no-dockerfile
    reason: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # (pass, note)
    changes: list[tuple[str, str]] = field(default_factory=list)  # (pass, summary)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)
    input_text: str | None = None
    output_text: str | None = None
    uses_poetry: bool = False
    input_parses: bool | None = None
    hadolint_new: list[str] = field(default_factory=list)
    semantic: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail), heuristics
    seconds: float = 0.0


# --- finding cases ----------------------------------------------------------------------------------------
def find_dockerfile(folder: Path) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in SIDE_FILES)
    named = [p for p in files if is_dockerfile_name(p.name)]
    if named:
        return named[0]
    loose = [p for p in files if "dockerfile" in p.name.lower() or fnmatch.fnmatch(p.name.lower(), "containerfile*")]
    return loose[0] if loose else None


def read_source(folder: Path) -> dict[str, str]:
    path = folder / "source.txt"
    found: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() and key.strip() not in found:
                found[key.strip()] = value.strip()
    return found


# --- checks ---------------------------------------------------------------------------------------------
def buildkit_parse_error(text: str) -> str | None:
    """None when BuildKit's parser accepts `text`, else its message; 'unavailable' when not installed."""
    try:
        import dockerfile
    except ImportError:
        return "unavailable"
    try:
        dockerfile.parse_string(text)
    except Exception as error:  # GoParseError, and anything the binding raises
        return f"{type(error).__name__}: {error}".strip()
    return None


def find_hadolint(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def hadolint_codes(binary: str, text: str, workdir: Path) -> set[str] | None:
    path = workdir / "Dockerfile"
    path.write_text(text, encoding="utf-8", newline="")
    completed = subprocess.run([binary, "--no-fail", "-f", "json", str(path)], capture_output=True, text=True,
                               check=False, timeout=120)
    try:
        return {finding["code"] for finding in json.loads(completed.stdout or "[]")}
    except (json.JSONDecodeError, TypeError, KeyError):
        return None


def normalise_reason(reason: str) -> str:
    """Group skip reasons that differ only in line numbers."""
    return re.sub(r"\bline \d+", "line N", reason)


def normalise(reason: str) -> str:
    """Group notes that differ only in line numbers, quoted values or versions."""
    text = re.sub(r"\bline \d+", "line N", reason)
    text = re.sub(r"`[^`]*`", "`…`", text)
    text = re.sub(r"\b\d+\.\d+(?:\.\d+)?\b", "X.Y", text)
    return text


def run_case(folder: Path, options: Options, passes: list[type], hadolint: str | None) -> CaseResult:
    result = CaseResult(folder.name, find_dockerfile(folder), read_source(folder))
    if result.dockerfile is None:
        result.status = "no-dockerfile"
        return result
    try:
        result.input_text = result.dockerfile.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        result.input_text = ""
    result.uses_poetry = "poetry" in result.input_text.lower()
    started = time.perf_counter()
    try:
        report = process_file(result.dockerfile, folder, options, passes)
    except Exception:  # a crash is exactly what this report is for
        result.status = "crash"
        result.failures.append(("crash", traceback.format_exc(limit=6).strip().splitlines()[-1]))
        result.reason = traceback.format_exc(limit=12)
        result.seconds = time.perf_counter() - started
        return result
    result.seconds = time.perf_counter() - started
    if report.error is not None:
        result.status = "input-error"
        result.reason = report.error
        return result
    refactoring = report.refactoring
    result.status = refactoring.status.value
    result.reason = refactoring.reason
    result.output_text = refactoring.output
    for outcome in refactoring.outcomes:
        result.notes.extend((outcome.name, note) for note in outcome.notes)
        result.changes.extend((outcome.name, getattr(change, "summary", str(change))) for change in outcome.changes)
    if refactoring.status is Status.FAILED:
        result.failures.append(("crash", f"exit 3 — {refactoring.reason}"))
        return result
    if refactoring.status is not Status.CHANGED:
        return result

    output = refactoring.output
    # idempotence: the tool on its own output, same context
    try:
        again = process_text(output, folder, options, passes)
        if again.output != output or again.status not in (Status.UNCHANGED,):
            detail = f"second run: {again.status.value}"
            if again.reason:
                detail += f" ({again.reason})"
            if again.output != output:
                changed = [line for line in difflib.unified_diff(output.splitlines(), again.output.splitlines(),
                                                                 lineterm="", n=0)
                           if line[:1] in "+-" and not line.startswith(("+++", "---"))]
                detail += "; changes again: " + " | ".join(changed[:4])
                result.failures.append(("non-idempotent", detail))
            elif again.status is Status.FAILED:
                result.failures.append(("non-idempotent", detail))
    except (ProjectError, Exception) as error:  # noqa: B014 - a crash on the second run is a crash
        result.failures.append(("crash", f"second run raised {type(error).__name__}: {error}"))

    # BuildKit's parser
    input_error = buildkit_parse_error(result.input_text)
    output_error = buildkit_parse_error(output)
    result.input_parses = input_error is None
    if output_error not in (None, "unavailable") and input_error is None:
        result.failures.append(("unparseable output", output_error))

    # hadolint: codes in the output that the input did not have
    if hadolint:
        with tempfile.TemporaryDirectory() as directory:
            before = hadolint_codes(hadolint, result.input_text, Path(directory))
            after = hadolint_codes(hadolint, output, Path(directory))
        if before is not None and after is not None and after - before:
            result.hadolint_new = sorted(after - before)
            result.failures.append(("new hadolint warning", ", ".join(result.hadolint_new)))

    if not result.uses_poetry:
        result.failures.append(("non-Poetry file changed", "input never mentions poetry"))
    result.semantic = semantic_findings(result.input_text, output)
    return result


# --- what the rewrite means for the image (heuristics) ----------------------------------------------------------
def _stages(text: str) -> list[list] | None:
    try:
        import dockerfile

        commands = dockerfile.parse_string(text)
    except Exception:
        return None
    found: list[list] = []
    for command in commands:
        if command.cmd.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def _resolve(workdir: str, path: str) -> str:
    import posixpath

    return posixpath.normpath(path if path.startswith("/") else posixpath.join(workdir, path))


def _context_copy_destinations(stage: list) -> set[str]:
    workdir, found = "/", set()
    for command in stage:
        kind = command.cmd.upper()
        if kind == "WORKDIR":
            workdir = _resolve(workdir, command.value[0])
        elif kind in ("COPY", "ADD") and not any(f.startswith("--from") for f in command.flags) and command.value:
            *sources, destination = command.value
            if "." in sources or "./" in sources:
                found.add(_resolve(workdir, destination))
    return found


def _install_indexes(stage: list) -> list[int]:
    return [i for i, c in enumerate(stage) if c.cmd.upper() == "RUN" and "poetry install" in " ".join(c.value)]


def _lock_copy_indexes(stage: list) -> list[int]:
    return [i for i, c in enumerate(stage) if c.cmd.upper() in ("COPY", "ADD")
            and any(v.rstrip("*").endswith("poetry.lock") for v in c.value[:-1])]


def _excludes_groups(line: str) -> bool:
    return "--only main" in line or "--only=main" in line or "--without" in line or "--no-dev" in line


def semantic_findings(before: str, after: str) -> list[tuple[str, str]]:
    """What a rewrite may break, by heuristics on BuildKit's reading of both files."""
    import posixpath
    import shlex

    old, new = _stages(before), _stages(after)
    if not old or not new:
        return []
    found: list[tuple[str, str]] = []
    final = new[-1]
    if len(new) > len(old) and not any(c.cmd.upper() == "RUN" and "poetry" in " ".join(c.value) for c in final):
        for command in final:
            if command.cmd.upper() in ("CMD", "ENTRYPOINT"):
                try:
                    words = list(command.value) if command.json else shlex.split(command.value[0])
                except ValueError:
                    continue
                if words and posixpath.basename(words[0]) == "poetry":
                    found.append(("runtime stage calls Poetry", command.original))
    old_ok = all(not _install_indexes(s) or not _lock_copy_indexes(s) or min(_lock_copy_indexes(s)) <
                 min(_install_indexes(s)) for s in old)
    for stage in new:
        locks, installs = _lock_copy_indexes(stage), _install_indexes(stage)
        if old_ok and locks and installs and min(installs) < min(locks):
            found.append(("install before the lock is copied", stage[min(installs)].original))
    if len(new) > len(old):
        wanted = set().union(*(_context_copy_destinations(s) for s in old))
        landed = _context_copy_destinations(final)
        if landed - wanted and wanted != {"/"}:  # a copy into the image root is moved to /app on purpose
            found.append(("code lands elsewhere", f"{sorted(landed - wanted)} (input: {sorted(wanted)})"))
    if "get-poetry.py" in before:
        for flag in ("--only", "--without"):
            if flag in after and flag not in before:
                found.append(("Poetry 1.2+ flags for get-poetry.py", f"`{flag}` added; get-poetry.py installs <= 1.1"))
    added_exclusion = [c for s in new for c in s if c.cmd.upper() == "RUN" and "poetry install" in " ".join(c.value)
                       and _excludes_groups(" ".join(c.value)) and c.original not in before]
    if added_exclusion:
        used = [c.original for s in old for c in s if c.cmd.upper() in ("CMD", "ENTRYPOINT", "RUN")
                and "install" not in " ".join(c.value) and any(tool in " ".join(c.value) + " " for tool in DEV_TOOLS)]
        if used:
            found.append(("dev tool the image runs is dropped", f"{used[0]} — but {added_exclusion[0].original}"))
        for stage in new:
            name = stage[0].value[-1].lower() if len(stage[0].value) >= 3 else ""
            if name in ("dev", "development", "test", "tests", "debug", "ci") and any(
                    c in stage for c in added_exclusion):
                found.append(("development stage trimmed", f"stage `{name}`: {added_exclusion[0].original}"))
    created_false = "virtualenvs.create false" in before or "POETRY_VIRTUALENVS_CREATE=false" in before
    if created_false and "POETRY_VIRTUALENVS_CREATE=1" in after and "VIRTUAL_ENV=" not in after:
        found.append(("virtualenv not on PATH", "virtualenvs.create false overridden without VIRTUAL_ENV/PATH"))
    return found


# --- CLI cross-check --------------------------------------------------------------------------------------
def cli_check(cases: list[CaseResult], count: int) -> tuple[list[tuple[str, str]], list[str]]:
    """Run the real CLI on up to `count` cases of varied status; return (case, problem) for disagreements."""
    by_status: dict[str, list[CaseResult]] = defaultdict(list)
    for case in cases:
        if case.dockerfile is not None and case.status != "crash":
            by_status[case.status].append(case)
    chosen: list[CaseResult] = []
    while len(chosen) < count and any(by_status.values()):
        for status in sorted(by_status):
            if by_status[status] and len(chosen) < count:
                chosen.append(by_status[status].pop(0))
    expected_exit = {"changed": 0, "unchanged": 0, "skipped": 0, "failed": 3, "input-error": 2}
    problems: list[tuple[str, str]] = []
    for case in chosen:
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "out.Dockerfile"
            completed = subprocess.run(
                [sys.executable, "-m", "poetry_docker_fix", "-q", "-o", str(out), str(case.dockerfile)],
                capture_output=True, cwd=REPO, check=False, timeout=120)
            want = expected_exit.get(case.status)
            if want is not None and completed.returncode != want:
                problems.append((case.name, f"CLI exit {completed.returncode}, API status {case.status} "
                                            f"(expected exit {want}); stderr: {completed.stderr.decode()[-200:]!r}"))
                continue
            if case.status in ("changed", "unchanged", "skipped"):
                written = out.read_bytes().decode("utf-8") if out.exists() else None
                if written != case.output_text:
                    problems.append((case.name, "CLI -o output differs from the API output"))
    return problems, [case.name for case in chosen]


# --- report -------------------------------------------------------------------------------------------------
def esc(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "–"


def render(cases: list[CaseResult], cli_problems: list[tuple[str, str]], cli_cases: list[str], corpus: Path,
           hadolint: str | None, elapsed: float, details: bool, show_diffs: int) -> str:
    total = len(cases)
    status_counts = Counter(case.status for case in cases)
    poetry_cases = [c for c in cases if c.uses_poetry]
    lines = [f"# poetry-docker-fix on a real-world corpus", "",
             f"Corpus: `{corpus}` — {total} cases ({len(poetry_cases)} mention Poetry, "
             f"{total - len(poetry_cases)} do not). "
             f"{sum(1 for c in cases if c.dockerfile and (c.dockerfile.parent / 'pyproject.toml').exists())} "
             f"with a pyproject.toml, {sum(1 for c in cases if c.dockerfile and (c.dockerfile.parent / 'poetry.lock').exists())} "
             f"with a poetry.lock. Run in {elapsed:.1f} s; hadolint: {'`' + hadolint + '`' if hadolint else 'not run'}.",
             "", "## Outcomes", "", "| outcome | all cases | share | cases mentioning Poetry | share |",
             "| --- | ---: | ---: | ---: | ---: |"]
    poetry_counts = Counter(c.status for c in poetry_cases)
    for status in ("changed", "unchanged", "skipped", "failed", "input-error", "crash", "no-dockerfile"):
        if status_counts.get(status) or status in ("changed", "unchanged", "skipped", "failed"):
            label = {"changed": "rewritten", "failed": "failed (internal error, exit 3)",
                     "input-error": "input error (exit 2)", "crash": "crash (exception)"}.get(status, status)
            lines.append(f"| {label} | {status_counts.get(status, 0)} | {pct(status_counts.get(status, 0), total)} "
                         f"| {poetry_counts.get(status, 0)} | {pct(poetry_counts.get(status, 0), len(poetry_cases))} |")

    failures = [(kind, case, detail) for case in cases for kind, detail in case.failures]
    failures += [("CLI disagrees", next((c for c in cases if c.name == name), None), detail)
                 for name, detail in cli_problems]
    lines += ["", "## Tool failures", "", "| failure class | cases |", "| --- | ---: |"]
    for kind in FAILURE_KINDS:
        lines.append(f"| {kind} | {sum(1 for k, _c, _d in failures if k == kind)} |")
    if failures:
        lines += ["", "| case | class | detail |", "| --- | --- | --- |"]
        for kind, case, detail in failures:
            name = case.name if case else "?"
            lines.append(f"| `{name}` | {kind} | {esc(detail)[:300]} |")

    semantic = [(kind, case, detail) for case in cases for kind, detail in case.semantic]
    lines += ["", "## What the rewrites may break (heuristic checks of rewritten files)", "",
              "| check | cases |", "| --- | ---: |"]
    lines += [f"| {kind} | {len({c.name for k, c, _d in semantic if k == kind})} |" for kind in SEMANTIC_KINDS]
    if semantic:
        lines += ["", "| case | check | detail |", "| --- | --- | --- |"]
        lines += [f"| `{case.name}` | {kind} | {esc(detail)[:200]} |" for kind, case, detail in semantic]

    skip_reasons = Counter(normalise_reason(c.reason or "") for c in cases if c.status == "skipped")
    lines += ["", "## Skip reasons", "", "| reason | cases |", "| --- | ---: |"]
    lines += [f"| {esc(reason)} | {count} |" for reason, count in skip_reasons.most_common()]
    unchanged_reasons = Counter(normalise_reason(c.reason or "(no reason given: the passes found nothing to do)") for c in cases
                                if c.status == "unchanged")
    lines += ["", "## Unchanged: why", "", "| reason | cases |", "| --- | ---: |"]
    lines += [f"| {esc(reason)} | {count} |" for reason, count in unchanged_reasons.most_common()]
    other = [(c.status, c.name, c.reason) for c in cases if c.status in ("input-error", "failed", "no-dockerfile")]
    if other:
        lines += ["", "## Input errors and internal errors", "", "| case | status | reason |", "| --- | --- | --- |"]
        lines += [f"| `{name}` | {status} | {esc(reason or '')[:300]} |" for status, name, reason in other]

    note_counts: Counter[tuple[str, str]] = Counter()
    for case in cases:
        for pass_name, note in set(case.notes):
            note_counts[(pass_name, normalise(note))] += 1
    lines += ["", "## What the passes held back (notes, grouped; a case counted once per note)", "",
              "| pass | note | cases |", "| --- | --- | ---: |"]
    lines += [f"| {p} | {esc(n)[:240]} | {count} |" for (p, n), count in note_counts.most_common(40)]

    change_counts = Counter(p for case in cases for p, _s in case.changes)
    lines += ["", "## Changes made, per pass", "", "| pass | changes |", "| --- | ---: |"]
    lines += [f"| {p} | {count} |" for p, count in change_counts.most_common()]

    unparseable_inputs = [c.name for c in cases if c.input_parses is False]
    if unparseable_inputs:
        lines += ["", f"Inputs BuildKit's parser itself rejects (not counted as tool failures): "
                      + ", ".join(f"`{n}`" for n in unparseable_inputs)]
    lines += ["", "## CLI cross-check", "",
              f"`python -m poetry_docker_fix -q -o OUT FILE` on {len(cli_cases)} cases "
              f"({', '.join(f'`{n}`' for n in cli_cases)}): "
              + ("output bytes and exit codes agree with the API." if not cli_problems else
                 f"{len(cli_problems)} disagreement(s), listed above.")]
    slow = sorted(cases, key=lambda c: c.seconds, reverse=True)[:3]
    lines += ["", "Slowest cases (engine only): " + ", ".join(f"`{c.name}` {c.seconds * 1000:.0f} ms" for c in slow)]

    if details:
        lines += ["", "## Every case", "", "| case | status | reason / changes | source |", "| --- | --- | --- | --- |"]
        for case in cases:
            what = case.reason or ", ".join(sorted({p for p, _s in case.changes})) or ""
            source = case.source.get("repo", "")
            if case.source.get("path"):
                source += f" `{case.source['path']}`"
            lines.append(f"| `{case.name}` | {case.status} | {esc(what)[:160]} | {source} |")
    if show_diffs:
        shown = [c for c in cases if c.status == "changed"][:show_diffs]
        for case in shown:
            diff = "".join(difflib.unified_diff(case.input_text.splitlines(True), case.output_text.splitlines(True),
                                                "before", "after"))
            lines += ["", f"### `{case.name}`", "", "```diff", diff.rstrip("\n"), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder with one sub-folder (build context) per case")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--no-hadolint", action="store_true", help="skip the hadolint comparison")
    parser.add_argument("--hadolint", help="hadolint binary (default: beside this Python, else on PATH)")
    parser.add_argument("--cli-check", type=int, default=8, metavar="N",
                        help="cross-check the CLI on N cases (0: none; default 8)")
    parser.add_argument("--details", action="store_true", help="add a table with every case")
    parser.add_argument("--show-diffs", type=int, default=0, metavar="N", help="append the diffs of N rewritten cases")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"{args.corpus}: not a folder")
    hadolint = None if args.no_hadolint else find_hadolint(args.hadolint)
    options, passes = Options(), select_passes()
    started = time.perf_counter()
    folders = sorted(p for p in args.corpus.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    cases = [run_case(folder, options, passes, hadolint) for folder in folders]
    cli_problems, cli_cases = cli_check(cases, args.cli_check) if args.cli_check else ([], [])
    elapsed = time.perf_counter() - started
    report = render(cases, cli_problems, cli_cases, args.corpus, hadolint, elapsed, args.details, args.show_diffs)
    sys.stdout.write(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    failed = any(case.failures for case in cases) or bool(cli_problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

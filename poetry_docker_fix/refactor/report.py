"""Reports for people and machines: the end summary, JSON, GitHub workflow annotations, SARIF 2.1.0."""

from __future__ import annotations

import inspect
import json
import os
from collections import Counter
from pathlib import Path

from .pipeline import Status
from .runner import FileReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def shown_path(path: Path) -> str:
    """A path a script can open from the current folder: relative when inside it, else absolute (`../x` too)."""
    if not path.is_absolute():
        lexical = os.path.normpath(path)
        if lexical != ".." and not lexical.startswith(".." + os.sep):
            return str(path)
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(absolute)


def display_name(path: Path) -> str:
    """`shown_path` without a leading / (for the a/ b/ of diff headers)."""
    return shown_path(path).lstrip("/")


def artifact_uri(path: Path) -> str:
    """SARIF artifactLocation.uri: a percent-encoded relative reference when inside the current folder (where
    code scanning resolves it against the checkout), else an absolute file: URI."""
    from urllib.parse import quote

    if str(path) == "-":
        return "-"
    shown = shown_path(path)
    if Path(shown).is_absolute():
        return Path(shown).as_uri()
    return quote(Path(shown).as_posix(), safe="/")


def summary(reports: list[FileReport], verb: str) -> str:
    """`2 would be rewritten, 5 unchanged, 3 skipped (2 × heredoc …; 1 × …), 1 not processed (input error, see
    above), 1 failed (internal error).`"""
    counts = Counter(report.status for report in reports)
    parts = [f"{counts[Status.CHANGED]} {verb}", f"{counts[Status.UNCHANGED]} unchanged"]
    if counts[Status.SKIPPED]:
        reasons = Counter(_reason_kind(r.refactoring.reason or "") for r in reports if r.status is Status.SKIPPED)
        grouped = "; ".join(f"{n} × {reason}" for reason, n in reasons.most_common())
        parts.append(f"{counts[Status.SKIPPED]} skipped ({grouped})")
    # Files the tool could not read (exit 2) are not failures of the tool (exit 3): the summary keeps them apart.
    errors = sum(1 for report in reports if report.error is not None)
    if errors:
        parts.append(f"{errors} not processed (input error{'s' if errors > 1 else ''}, see above)")
    if counts[Status.FAILED] - errors:
        parts.append(f"{counts[Status.FAILED] - errors} failed (internal error)")
    return ", ".join(parts) + "."


def _reason_kind(reason: str) -> str:
    """Group `line 12: heredoc (…)` and `line 3: heredoc (…)` together."""
    if reason.startswith("line ") and ": " in reason:
        return reason.split(": ", 1)[1]
    return reason


def _changes(report: FileReport) -> list[dict]:
    if report.refactoring is None:
        return []
    return [
        {"pass": outcome.name, "line": change.original_line, "summary": change.summary, "reason": change.reason,
         "safe": outcome.safe}
        for outcome in report.refactoring.outcomes for change in outcome.changes
    ]


# JSON's status for a file the tool could not read, or whose project it could not (exit code 2): apart from
# "failed", an internal error (exit code 3), as the text summary keeps "not processed" apart from "failed".
INPUT_ERROR = "error"


def _json_status(report: FileReport) -> str:
    return INPUT_ERROR if report.error is not None else report.status.value


def to_json(reports: list[FileReport]) -> str:
    files = []
    for report in reports:
        refactoring = report.refactoring
        entry = {
            "path": shown_path(report.path),
            "status": _json_status(report),
            "context": shown_path(report.context) if report.context else None,
            "reason": report.error if report.error else (refactoring.reason if refactoring else None),
            "passes_applied": sorted({change["pass"] for change in _changes(report)},
                                     key=lambda name: [c["pass"] for c in _changes(report)].index(name)),
            "changes": _changes(report),
            "notes": [{"pass": o.name, "note": note} for o in (refactoring.outcomes if refactoring else [])
                      for note in o.notes],
            "diff": report.unified_diff(),
        }
        files.append(entry)
    counts = Counter(_json_status(report) for report in reports)
    statuses = [Status.CHANGED.value, Status.UNCHANGED.value, Status.SKIPPED.value, INPUT_ERROR, Status.FAILED.value]
    return json.dumps({"files": files, "summary": {status: counts[status] for status in statuses}},
                      indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def to_github(reports: list[FileReport]) -> str:
    """`::warning file=…,line=…,title=…::message` lines: one per line of a file that passes would change, naming
    each pass and why. (GitHub shows at most 10 warnings per step: several passes often change one line, the
    install, and one annotation per change would use them up on the first file.)"""
    lines = []
    for report in reports:
        name = _escape_property(shown_path(report.path))
        if report.error is not None:
            lines.append(f"::error file={name}::{_escape_data(report.error)}")
            continue
        refactoring = report.refactoring
        if refactoring.status is Status.FAILED:
            lines.append(f"::error file={name}::{_escape_data(refactoring.reason or 'internal error')}")
        by_line: dict[int | None, list[dict]] = {}
        for change in _changes(report):
            by_line.setdefault(change["line"], []).append(change)
        for number, changes in sorted(by_line.items(), key=lambda item: item[0] or 0):
            passes = list(dict.fromkeys(change["pass"] for change in changes))
            title = _escape_property(f"poetry-docker-fix {' + '.join(passes)}")
            line = f",line={number}" if number else ""
            message = "\n".join(f"{c['pass']}: {c['summary']}: {c['reason']}" for c in changes)
            lines.append(f"::warning file={name}{line},title={title}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)


def to_sarif(reports: list[FileReport], version: str) -> str:
    from ..transforms import PASSES

    rules = [
        {"id": p.name, "name": p.__name__, "shortDescription": {"text": p.description},
         "fullDescription": {"text": p.doc().splitlines()[0] if p.doc() else p.description},
         "help": {"text": inspect.cleandoc(p.doc())}, "defaultConfiguration": {"level": "warning"}}
        for p in PASSES
    ]
    rules.append({"id": "input-error", "name": "InputError",
                  "shortDescription": {"text": "The file, or its project's pyproject.toml or poetry.lock, could not "
                                               "be read"},
                  "defaultConfiguration": {"level": "error"}})
    rules.append({"id": "internal-error", "name": "InternalError",
                  "shortDescription": {"text": "A bug in poetry-docker-fix: the file was left untouched"},
                  "defaultConfiguration": {"level": "error"}})
    results = []
    for report in reports:
        uri = artifact_uri(report.path)
        if report.error is not None or report.status is Status.FAILED:
            rule = "input-error" if report.error is not None else "internal-error"
            message = report.error or (report.refactoring.reason if report.refactoring else "failed")
            results.append({"ruleId": rule, "level": "error", "message": {"text": message},
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
            continue
        for change in _changes(report):
            region = {"startLine": change["line"]} if change["line"] else {}
            location = {"physicalLocation": {"artifactLocation": {"uri": uri}, **({"region": region} if region else {})}}
            results.append({"ruleId": change["pass"], "level": "warning",
                            "message": {"text": f"{change['summary']}: {change['reason']}"},
                            "locations": [location]})
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "poetry-docker-fix", "version": version,
                                "informationUri": "https://pypi.org/project/poetry-docker-fix/", "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

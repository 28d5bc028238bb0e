"""Which local top-level modules the app's code imports, found by reading it with libcst.

A narrowed COPY must never leave out code the app needs: starting from the entrypoint (and the project's own
packages), follow every `import x` / `from x import y` whose top-level name is a module or package in the build
context, transitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImportScan:
    local: set[str] = field(default_factory=set)  # top-level entries of the context: "helpers.py", "lib"
    unreadable: list[str] = field(default_factory=list)  # files libcst could not parse


def _top_level_names(source: str) -> set[str] | None:
    """Top-level names of the modules `source` imports; None when libcst cannot parse it."""
    if "import" not in source:
        return set()  # no import statement can be written without the word: nothing to parse
    import libcst as cst  # imported here: only narrow-copy needs it, and it is slow to import

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError:
        return None
    names: set[str] = set()
    for node in import_statements(module):
        if isinstance(node, cst.Import):
            for alias in node.names:
                names.add(_dotted(alias.name).split(".")[0])
        elif not node.relative and node.module is not None:
            names.add(_dotted(node.module).split(".")[0])
    return names


def import_statements(module) -> list:
    """Every `import` / `from ... import` statement of a libcst Module, wherever it is nested.

    Only statements are walked, never expressions: an import is a simple statement, so it sits in the module's
    body or in a suite (an indented block or a one-line `if x: import y`), and every suite belongs to a compound
    statement or one of its clauses (else, except, except*, finally, case). A CSTVisitor would reach the same
    statements through every expression node too, which costs as much again as parsing."""
    import libcst as cst

    clauses = tuple(getattr(cst, name) for name in ("BaseCompoundStatement", "Else", "ExceptHandler",
                                                     "ExceptStarHandler", "Finally", "MatchCase")
                    if hasattr(cst, name))
    found = []
    statements = list(module.body)
    while statements:
        node = statements.pop()
        if isinstance(node, cst.SimpleStatementLine):
            found.extend(small for small in node.body if isinstance(small, (cst.Import, cst.ImportFrom)))
        elif isinstance(node, clauses):
            for child in node.children:
                if isinstance(child, cst.IndentedBlock):
                    statements.extend(child.body)
                elif isinstance(child, cst.SimpleStatementSuite):
                    found.extend(small for small in child.body if isinstance(small, (cst.Import, cst.ImportFrom)))
                elif isinstance(child, clauses):
                    statements.append(child)
    return found


def _dotted(node: object) -> str:
    import libcst as cst

    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _python_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".py" else []
    skip = {"__pycache__", ".venv", "venv", "node_modules", ".git"}
    return sorted(p for p in path.rglob("*.py") if not skip.intersection(p.parts))


def local_entry_for(name: str, search_roots: list[Path], context: Path) -> str | None:
    """The context-relative top-level entry ("pkg", "mod.py", "src") that provides module `name`."""
    for root in search_roots:
        for candidate in (root / name, root / f"{name}.py"):
            if candidate.exists() and (candidate.is_file() or _python_files(candidate)):
                relative = candidate.relative_to(context)
                return relative.parts[0] if relative.parts else None
    return None


def scan_imports(start_files: list[Path], search_roots: list[Path], context: Path) -> ImportScan:
    """Follow imports from `start_files` through local modules under `search_roots` (folders of `context`)."""
    scan = ImportScan()
    seen_files: set[Path] = set()
    queue = list(start_files)
    while queue:
        current = queue.pop()
        if current in seen_files or not current.is_file():
            continue
        seen_files.add(current)
        try:
            source = current.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            scan.unreadable.append(str(current.relative_to(context)))
            continue
        names = _top_level_names(source)
        if names is None:
            scan.unreadable.append(str(current.relative_to(context)))
            continue
        for name in sorted(names):
            for root in search_roots:
                for candidate in (root / name, root / f"{name}.py"):
                    if candidate.exists():
                        files = _python_files(candidate)
                        if not files:
                            continue
                        relative = candidate.relative_to(context)
                        scan.local.add(relative.parts[0])
                        queue.extend(files)
    return scan

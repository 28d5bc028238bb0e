"""Which local top-level modules the app's code imports, found by reading it with libcst.

A narrowed COPY must never leave out code the app needs: starting from the entrypoint (and the project's own
packages), follow every `import x` / `from x import y` whose top-level name is a module or package in the build
context, transitively.

libcst is asked only about files that could change the answer. An import statement names its module, so a
file whose text (read as Python reads it) never contains the name of a local module the scan is looking for
cannot import one: it is not parsed (see `_source_if_it_could_import`). In a Django-style project (a package
of hundreds of modules and a top-level `manage.py` nothing imports) that is seconds of parsing saved.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator


@dataclass
class ImportScan:
    local: set[str] = field(default_factory=set)  # top-level entries of the context: "helpers.py", "lib"
    unreadable: list[str] = field(default_factory=list)  # files libcst could not parse


def _top_level_names(source: str) -> set[str] | None:
    """Top-level names of the modules `source` imports; None when libcst cannot parse it. Asked of the
    command's reader process when it has one (it imported libcst while this one started up, see
    import_reader), else parsed here."""
    if "import" not in source:
        return set()  # no import statement can be written without the word: nothing to parse
    from . import import_reader

    names = import_reader.top_level_names(source)
    if names is not import_reader.UNAVAILABLE:
        return names
    return parse_top_level_names(source)


PARSE_DEPTH = 1000  # Python frames libcst may use for one file (it recurses on deeply nested code)


def parse_top_level_names(source: str) -> set[str] | None:
    """`_top_level_names`, read with libcst in this process. libcst gets the same stack depth wherever it is
    called from (the reader process's shallow stack or the command's deep one), so a file nested deeply enough
    to exhaust it reads the same everywhere: as a file libcst cannot read."""
    import libcst as cst  # imported here: only narrow-copy needs it, and it is slow to import

    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + PARSE_DEPTH)
    try:
        module = cst.parse_module(source)
        names: set[str] = set()
        for node in import_statements(module):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    names.add(_dotted(alias.name).split(".")[0])
            elif not node.relative and node.module is not None:
                names.add(_dotted(node.module).split(".")[0])
        return names
    except (cst.ParserSyntaxError, UnicodeEncodeError, RecursionError):  # UnicodeEncodeError: a lone surrogate
        return None
    finally:
        sys.setrecursionlimit(limit)


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
    """`a.b.c` of a Name or Attribute node, read in a loop: a name of a thousand parts is valid Python, and
    recursing on it would depend on how deep the call stack already is."""
    import libcst as cst

    # Python reads identifiers NFKC-normalised: `import ｈｅｌｐｅｒｓ` (full-width letters) imports helpers.
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(unicodedata.normalize("NFKC", node.attr.value))
        node = node.value
    if not isinstance(node, cst.Name):
        return ""
    parts.append(unicodedata.normalize("NFKC", node.value))
    return ".".join(reversed(parts))


_SKIP = frozenset({"__pycache__", ".venv", "venv", "node_modules", ".git"})


def _python_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path] if path.suffix == ".py" else []
    return sorted(p for p in path.rglob("*.py") if not _SKIP.intersection(p.parts))


def _holds_python(folder: str) -> bool:
    """Whether a .py file lies anywhere below `folder` (the folders `_python_files` skips aside)."""
    for current, folders, files in os.walk(folder):
        if any(name.endswith(".py") for name in files) or any(name.endswith(".py") for name in folders):
            return True
        folders[:] = [name for name in folders if name not in _SKIP]
    return False


def importable_names(search_roots: list[Path], context: Path, known: Iterable[str] = ()) -> set[str]:
    """The top-level module names an import could resolve to under `search_roots` (as `scan_imports` resolves
    them: `name.py`, or a folder holding Python), leaving out those that belong to the `known` entries."""
    known = set(known)
    names: set[str] = set()
    for root in search_roots:
        try:
            children = list(os.scandir(root))
        except OSError:
            continue
        for child in children:
            if child.name.endswith(".py"):
                name = child.name[:-3]
            elif child.name in _SKIP:
                continue
            else:
                try:
                    holds = child.is_dir() and _holds_python(child.path)
                except OSError:  # a symlink loop, a folder it may not read: it might hold Python
                    holds = True
                if not holds:
                    continue
                name = child.name
            relative = Path(child.path).relative_to(context)
            if relative.parts and relative.parts[0] not in known:
                names.add(name)
    return names


def _encoding(data: bytes) -> str:
    """The encoding Python reads a source file in: its BOM or PEP 263 coding cookie, else UTF-8. Raises
    SyntaxError (as `tokenize.detect_encoding` does) for a cookie naming no codec."""
    if data.startswith(codecs.BOM_UTF8) or b"coding" in b"\n".join(data.split(b"\n", 2)[:2]):
        import tokenize

        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    return "utf-8"


def _source_if_it_could_import(names: Iterable[str]):
    """A reader `data -> str | None`: the source text Python would read from `data` (bytes), or None when that
    text cannot import any of the modules `names`. Raises UnicodeDecodeError, SyntaxError or LookupError when
    Python could not read the file either.

    An import statement spells its module's name, and Python reads identifiers NFKC-normalised after decoding
    the file as its coding cookie says (`# coding: unicode_escape` makes `import \\u0074ests` import tests). So:
    an ASCII file read as UTF-8 can import a module only if the name is one of its words (no escapes exist in
    identifiers, NFKC leaves ASCII alone); any other file is decoded, NFKC-normalised, and looked through for
    the name with no word character next to it (an identifier may begin or end with characters, such as
    combining marks, that regular expressions do not count as word characters, so \b would miss it)."""
    names = sorted({unicodedata.normalize("NFKC", name) for name in names if name.isidentifier()})
    ascii_names = [name for name in names if name.isascii()]
    in_ascii = re.compile(rb"\b(?:" + b"|".join(re.escape(n.encode()) for n in ascii_names) + rb")\b") \
        if ascii_names else None
    # Not \b: a name may begin or end with an identifier character that is not \w (a combining mark), where \b
    # finds no boundary. A \w character next to the name would make it part of a longer identifier, so these
    # lookarounds never miss an import; at worst they let a file through that imports nothing wanted.
    in_text = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names) + r")(?!\w)") if names else None

    def read(data: bytes) -> str | None:
        encoding = _encoding(data)
        if encoding == "utf-8" and data.isascii():
            if in_ascii is None or in_ascii.search(data) is None:
                return None
            text = data.decode("ascii")
        else:
            text = data.decode(encoding)
            if in_text is None or in_text.search(unicodedata.normalize("NFKC", text)) is None:
                return None
        return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as read_text has them

    return read


def scan_imports(start_files: list[Path], search_roots: list[Path], context: Path,
                 known: Iterable[str] = ()) -> ImportScan:
    """Follow imports from `start_files` through local modules under `search_roots` (folders of `context`).

    `known`: top-level entries of the context the caller copies anyway (whose files are among `start_files`).
    Finding more imports of those changes nothing, so only files that mention another local module are read
    with libcst; with no other local module at all, nothing is read."""
    scan = ImportScan()
    wanted = importable_names(search_roots, context, known)
    if not wanted:
        return scan
    source_if_it_could_import = _source_if_it_could_import(wanted)
    seen_files: set[Path] = set()
    queue = list(start_files)
    while queue:
        current = queue.pop()
        if current in seen_files or not current.is_file():
            continue
        seen_files.add(current)
        try:
            source = source_if_it_could_import(current.read_bytes())
        except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
            scan.unreadable.append(str(current.relative_to(context)))
            continue
        if source is None:
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


class TooManyFiles(Exception):
    """The context holds more Python files than `first_importer` reads through."""


SCAN_LIMIT = 20_000  # Python files first_importer reads through


def first_importer(context: Path, modules: Iterable[str],
                   skip: Callable[[str], bool] = lambda name: False) -> str | None:
    """The first Python file of the build context (its path relative to `context`, in walk order) that imports
    one of the top-level `modules`, read as `scan_imports` reads (only files that spell a name are parsed);
    None when none does. Virtualenvs, caches and node_modules are not the project's code and are not read.
    Top-level entries `skip` names are not read either. Raises TooManyFiles past SCAN_LIMIT files, rather
    than guess."""
    source_if_it_could_import = _source_if_it_could_import(modules)
    wanted = set(modules)
    for file in _context_python_files(context, skip):
        path = Path(file)
        try:
            source = source_if_it_could_import(path.read_bytes())
        except (OSError, UnicodeDecodeError, SyntaxError, LookupError):
            continue  # Python could not import it either
        if source is None:
            continue
        names = _top_level_names(source)
        if names is None or names & wanted:  # unparsable: it might
            return str(path.relative_to(context))
    return None


def _context_python_files(context: Path, skip: Callable[[str], bool]) -> Iterator[str]:
    """The Python files of the context, in walk order: not in virtualenvs (any folder holding pyvenv.cfg) or
    caches, not in the top-level entries `skip` names. Raises TooManyFiles past SCAN_LIMIT files."""
    seen = 0
    for current, folders, files in os.walk(context):
        if current != str(context) and "pyvenv.cfg" in files:
            folders[:] = []
            continue
        top = current == str(context)
        folders[:] = sorted(name for name in folders if name not in _SKIP and not (top and skip(name)))
        for name in sorted(files):
            if not name.endswith(".py") or (top and skip(name)):
                continue
            seen += 1
            if seen > SCAN_LIMIT:
                raise TooManyFiles(SCAN_LIMIT)
            yield os.path.join(current, name)


# `"notes.md"`, `'docs/help.txt'`: notes.md, docs. Leading `./` and `../` are skipped (`Path(__file__).parent /
# "../CHANGELOG.md"` from inside a package names the top-level CHANGELOG.md), and a component after an f-string
# placeholder counts (`f"{BASE_DIR}/templates"`).
_PATH_HEAD = re.compile(r"""(?:["']|\}/)(?:\.{1,2}/)*([^"'/\\\s{}]+)(?=["'/])""")


def python_sources(context: Path, skip: Callable[[str], bool] = lambda name: False) -> list[tuple[str, str]]:
    """(path relative to `context`, text) of the Python files of the context, in walk order, read as
    `first_importer` reads: no virtualenvs or caches, no top-level entry `skip` names, and TooManyFiles past
    SCAN_LIMIT files."""
    sources: list[tuple[str, str]] = []
    prefix = len(os.path.join(str(context), ""))
    for path in _context_python_files(context, skip):
        try:
            with open(path, "rb") as stream:
                sources.append((path[prefix:], stream.read().decode("utf-8", errors="replace")))
        except OSError:
            continue
    return sources


def path_heads(sources: list[tuple[str, str]]) -> dict[str, str]:
    """The first path component of every string literal that starts with one (`open("notes.md")`,
    `Path(__file__).parent / "docs"`, `"docs/help.txt"`) in these sources, each with the first file that writes
    it. A textual check: an app that builds a name from parts is not seen, and a literal that is no path counts
    (which only keeps a COPY)."""
    found: dict[str, str] = {}
    for relative, text in sources:
        if "'" in text or '"' in text:
            for head in _PATH_HEAD.findall(text):
                found.setdefault(head, relative)
    return found

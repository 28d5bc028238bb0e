"""The engine's parts: document round-trips, edits, versions, project facts, imports, entrypoints."""

from __future__ import annotations

import pytest

from poetry_docker_fix.refactor import entrypoint
from poetry_docker_fix.refactor.document import Document, DocumentError, expand
from poetry_docker_fix.refactor.edits import Edit, EditConflict, apply_edits
from poetry_docker_fix.refactor.imports import ImportScan, importable_names, scan_imports
from poetry_docker_fix.refactor.project import load_project
from poetry_docker_fix.refactor.versions import Version, newest_release_satisfying, satisfies
from tests.helpers import CLASSIC, LOCK_1_1, LOCK_2_5, make_project


@pytest.mark.parametrize("text", [
    "FROM a\nRUN b\n", "FROM a\r\nRUN b\r\n", "\ufeffFROM a\nRUN b", "", "FROM a", "\n\nFROM a\n\n",
    "from a\nrun b \\\n  # c\n  && d\n",
])
def test_document_round_trips_bytes(text):
    assert Document.from_text(text).to_text() == text


def test_document_rejects_mixed_line_endings():
    with pytest.raises(DocumentError):
        Document.from_text("FROM a\r\nRUN b\nRUN c\r\n")


def test_instructions_keep_comment_lines_inside_continuations_in_their_range():
    document = Document.from_text("FROM a\nRUN b \\\n  # c\n  && d\nCMD e\n")
    run = document.instructions[1]
    assert (run.keyword, run.start, run.end) == ("RUN", 1, 3)
    assert "# c" not in run.value and document.raw(run)[1] == "  # c"


def test_stages_and_env():
    document = Document.from_text("ARG V=1\nFROM a AS b\nENV X=1 Y=\"two words\"\nARG V\nFROM c\nWORKDIR /w\n")
    assert [(s.image, s.name) for s in document.stages] == [("a", "b"), ("c", None)]
    assert document.stage_env(document.stages[0]) == {"V": "1", "X": "1", "Y": "two words"}
    assert document.stages[1].workdir_before(99) == "/w"
    assert expand("${V}-$X", {"V": "1", "X": "2"}) == "1-2" and expand("$NOPE", {}) is None


def test_keyword_case_follows_the_file():
    assert Document.from_text("from a\nrun b\nCOPY c d\n").kw("ENV") == "env"
    assert Document.from_text("FROM a\nrun b\nCOPY c d\n").kw("ENV") == "ENV"


def test_edits_apply_bottom_up_and_keep_insert_order():
    lines = ["a", "b", "c"]
    edits = [Edit.insert(1, ["x"]), Edit.insert(1, ["y"]), Edit.replace(2, 2, ["C"]), Edit.delete(0, 0)]
    assert apply_edits(lines, edits) == ["x", "y", "b", "C"]


def test_overlapping_edits_are_a_bug():
    with pytest.raises(EditConflict):
        apply_edits(["a", "b", "c"], [Edit.replace(0, 1, ["x"]), Edit.replace(1, 2, ["y"])])
    with pytest.raises(EditConflict):
        apply_edits(["a", "b", "c"], [Edit.replace(0, 2, ["x"]), Edit.insert(1, ["y"])])


@pytest.mark.parametrize(("version", "constraint", "expected"), [
    ("2.1.4", ">=2.0,<3.0", True), ("3.0.0", ">=2.0,<3.0", False), ("2.5.1", "^2.1", True),
    ("1.8.5", "^2.1", False), ("2.1.9", "~2.1", True), ("2.2.0", "~2.1", False), ("2.1.3", "2.1.*", True),
    ("1.8.5", ">=1.8 || >=2.1", True), ("2.0.0", "==2.0.0", True),
])
def test_version_constraints(version, constraint, expected):
    assert satisfies(Version.parse(version), constraint) is expected


def test_newest_release_for_a_range():
    assert str(newest_release_satisfying(">=1.8,<2")) == "1.8.5"
    assert newest_release_satisfying(">=99") is None


def test_project_facts(tmp_path):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry.group.docs]\noptional = true\n'
                 '[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n[tool.poetry.scripts]\napp = "app.main:run"\n',
                 lock=LOCK_2_5, files={".dockerignore": "# c\n*.md\n!KEEP.md\n**/__pycache__\n"})
    project = load_project(tmp_path)
    assert str(project.lock_writer) == "2.5.1" and project.lock_version == "2.1"
    assert project.groups == {"dev": False, "docs": True}
    assert project.scripts == {"app": "app.main:run"}
    assert [p.path for p in project.packages] == ["app"]
    assert project.is_ignored("README.md") and not project.is_ignored("KEEP.md")
    assert project.is_ignored("app/__pycache__") and not project.is_ignored("app")
    assert project.existing_readmes == []  # README.md exists but .dockerignore leaves it out


def test_lock_without_version_header_gives_a_range_hint(tmp_path):
    make_project(tmp_path, lock=LOCK_1_1)
    version, reason = load_project(tmp_path).target_poetry()
    assert version is None and "1.1–1.2" in reason


def test_src_layout_default_package(tmp_path):
    make_project(tmp_path, files={"app/__init__.py": None, "app/main.py": None, "src/app/__init__.py": ""})
    project = load_project(tmp_path)
    assert [(p.include, p.source_dir) for p in project.packages] == [("app", "src")]


def test_import_scan_follows_local_modules_transitively(tmp_path):
    (tmp_path / "main.py").write_text("import a\nfrom b.c import d\nimport os, json\nfrom . import rel\n")
    (tmp_path / "a.py").write_text("import e\n")
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "__init__.py").write_text("")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "c.py").write_text("x = 1\n")
    (tmp_path / "unused.py").write_text("")
    scan = scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path)
    assert scan.local == {"a.py", "b", "e"} and scan.unreadable == []


EVERY_PLACE_AN_IMPORT_CAN_BE = """\
import a1, a2.sub as x
from b1.c import d
from . import relative
from .e import f
if cond: import c1
if cond:
    import c2
elif other:
    import c3
else:
    import c4
try:
    import d1
except ImportError:
    import d2
else:
    import d4
finally:
    import d5
try:
    pass
except* ValueError:
    import d3
for i in range(3):
    import e1
else:
    import e2
while cond:
    import f1
else:
    import f2
with ctx() as handle, other():
    import g1
@decorator(lambda: __import__("not_an_import_statement"))
def fn():
    def inner():
        import h1
    class Inside:
        import h2
async def coro():
    async with ctx():
        import i1
    async for item in it:
        import i2
class K(Base):
    import j1; import j2
match command:
    case [x, y]:
        import k1
    case _:
        if deep:
            while deeper:
                import k2
value = [n for n in range(3)]
"""


def test_import_statements_are_found_wherever_they_are_nested():
    import libcst as cst

    from poetry_docker_fix.refactor.imports import _top_level_names, import_statements

    module = cst.parse_module(EVERY_PLACE_AN_IMPORT_CAN_BE)
    seen = []

    class Everything(cst.CSTVisitor):  # the slow, obviously complete way: every node of the tree
        def visit_Import(self, node):
            seen.append(node)

        def visit_ImportFrom(self, node):
            seen.append(node)

    module.visit(Everything())
    assert {id(node) for node in import_statements(module)} == {id(node) for node in seen}
    assert len(seen) == 26
    assert _top_level_names(EVERY_PLACE_AN_IMPORT_CAN_BE) == {
        "a1", "a2", "b1", "c1", "c2", "c3", "c4", "d1", "d2", "d3", "d4", "d5", "e1", "e2", "f1", "f2", "g1", "h1",
        "h2", "i1", "i2", "j1", "j2", "k1", "k2"}


def test_import_scan_reports_unparsable_files(tmp_path):
    (tmp_path / "main.py").write_text("import helpers\ndef broken(:\n")
    (tmp_path / "helpers.py").write_text("")
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path).unreadable == ["main.py"]


def _without_libcst(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "libcst", None)  # importing it now would raise


def test_import_scan_reads_only_files_that_name_a_local_module(tmp_path, monkeypatch):
    # Neither file spells `helpers`, so neither can import it: libcst is not asked (nor loaded), and the
    # syntax error no longer hides what the scan needs to know.
    (tmp_path / "main.py").write_text("import os\nimport json as helpers_json\ndef broken(:\n")
    (tmp_path / "other.py").write_text("# my_helpers, helpers2: other names\nimport sys\n")
    (tmp_path / "helpers.py").write_text("")
    _without_libcst(monkeypatch)
    scan = scan_imports([tmp_path / "main.py", tmp_path / "other.py"], [tmp_path], tmp_path,
                        known={"main.py", "other.py"})
    assert scan.local == set() and scan.unreadable == []


def test_import_scan_skips_files_that_only_name_known_entries(tmp_path, monkeypatch):
    # A Django-style project: the package is copied anyway (known); only `manage` is worth looking for.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "__init__.py").write_text("")
    (tmp_path / "site" / "views.py").write_text("from site.models import Thing\ndef broken(:\n")
    (tmp_path / "manage.py").write_text("import site\n")
    _without_libcst(monkeypatch)
    scan = scan_imports([tmp_path / "site" / "views.py"], [tmp_path], tmp_path, known={"site"})
    assert scan.local == set() and scan.unreadable == []


def test_import_scan_with_nothing_else_local_reads_nothing(tmp_path, monkeypatch):
    (tmp_path / "main.py").write_text("import main\ndef broken(:\n")
    _without_libcst(monkeypatch)
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"}) == ImportScan()


@pytest.mark.parametrize("source", [
    "import helpers\n",
    "import os, helpers as h\n",
    "from helpers import VALUE\n",
    "from \\\n    helpers import VALUE\n",
    "import helpers.sub\n",
    "if True: import helpers\n",
    "# café\nimport helpers\n",
    "import \uff48\uff45\uff4c\uff50\uff45\uff52\uff53\n",  # full-width letters: Python imports `helpers`
])
def test_import_scan_still_finds_every_spelling_of_an_import(tmp_path, source):
    (tmp_path / "main.py").write_text(source, encoding="utf-8")
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "unused.py").write_text("")
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"}).local == {"helpers.py"}


@pytest.mark.parametrize(("cookie", "body"), [
    # Pure ASCII bytes that Python decodes into an import of `tests` (a review found these).
    ("unicode_escape", b"import \\u0074ests\n"),
    ("utf-7", b"import +AHQ-ests\n"),
    ("latin-1", b"import tests  # caf\xe9\n"),
])
def test_import_scan_reads_files_as_their_coding_cookie_says(tmp_path, cookie, body):
    (tmp_path / "main.py").write_bytes(f"# coding: {cookie}\n".encode() + body)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    scan = scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"})
    assert scan.local == {"tests"} and scan.unreadable == []


def test_import_scan_reports_a_cookie_naming_no_codec(tmp_path):
    (tmp_path / "main.py").write_bytes(b"# coding: no-such-codec\nimport helpers\n")
    (tmp_path / "helpers.py").write_text("")
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"}).unreadable == ["main.py"]


@pytest.mark.parametrize("name", [
    "\u0939\u093f\u0902\u0926\u0940",  # Hindi: ends in a vowel sign, which regular expressions do not count as \w
    "\u2118util",  # script capital P: an identifier start that is not \w
    "foo\u00b7",  # middle dot: an identifier character that is not \w
])
def test_import_scan_finds_modules_whose_names_do_not_end_in_word_characters(tmp_path, name):
    (tmp_path / "main.py").write_text(f"import {name}\n", encoding="utf-8")
    (tmp_path / f"{name}.py").write_text("", encoding="utf-8")
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"}).local == {f"{name}.py"}


def test_import_scan_survives_a_symlink_loop_in_the_context(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "main.py").write_text("import helpers\n")
    (tmp_path / "helpers.py").write_text("")
    assert scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path, known={"main.py"}).local == {"helpers.py"}


def test_import_scan_counts_a_folder_named_like_a_module_as_python(tmp_path):
    (tmp_path / "pkg" / "sub.py").mkdir(parents=True)  # `import pkg` works: a namespace package
    (tmp_path / "main.py").write_text("import pkg\n")
    assert "pkg" in importable_names([tmp_path], tmp_path, known={"main.py"})


def test_import_scan_looks_for_namespace_packages_and_src_layout_modules(tmp_path):
    # A folder with Python only below it is still importable (a namespace package); src/ is a search root.
    (tmp_path / "ns" / "deep").mkdir(parents=True)
    (tmp_path / "ns" / "deep" / "mod.py").write_text("")
    (tmp_path / "src" / "lib").mkdir(parents=True)
    (tmp_path / "src" / "lib" / "__init__.py").write_text("")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "data.json").write_text("{}")
    (tmp_path / "main.py").write_text("import ns.deep.mod\nimport lib\nimport data\n")
    roots = [tmp_path, tmp_path / "src"]
    assert importable_names(roots, tmp_path, known={"main.py"}) == {"ns", "lib", "src"}  # src: a namespace too
    assert scan_imports([tmp_path / "main.py"], roots, tmp_path, known={"main.py"}).local == {"ns", "src"}


def test_import_scan_skips_files_that_import_nothing(tmp_path, monkeypatch):
    # A file without the word `import` cannot import anything: libcst is not even asked (nor loaded).
    (tmp_path / "main.py").write_text("VALUE = 1\ndef broken(:\n")
    _without_libcst(monkeypatch)
    scan = scan_imports([tmp_path / "main.py"], [tmp_path], tmp_path)
    assert scan.local == set() and scan.unreadable == []


@pytest.mark.parametrize(("lines", "modules", "files", "poetry_run"), [
    (['CMD ["poetry", "run", "python", "-m", "pkg.main"]'], ["pkg.main"], [], True),
    (["CMD python app.py --flag"], [], ["app.py"], False),
    (['ENTRYPOINT ["uvicorn"]', 'CMD ["web.app:app", "--host", "0.0.0.0"]'], ["web.app"], [], False),
    (['CMD ["sh", "-c", "poetry run gunicorn svc.wsgi:application"]'], ["svc.wsgi"], [], True),
    (['CMD ["poetry", "run", "greet"]'], ["greeter.cli"], [], True),
])
def test_entrypoint_analysis(tmp_path, lines, modules, files, poetry_run):
    make_project(tmp_path, pyproject=CLASSIC + '\n[tool.poetry.scripts]\ngreet = "greeter.cli:main"\n')
    document = Document.from_text("FROM a\n" + "\n".join(lines) + "\n")
    entry = entrypoint.analyse(document, load_project(tmp_path))
    assert (entry.modules, entry.files, entry.uses_poetry_run) == (modules, files, poetry_run)


def test_may_hold_answers_from_the_context_listing_and_defers_to_the_disk_otherwise(tmp_path):
    from poetry_docker_fix.refactor.project import load_project

    make_project(tmp_path, files={"bin/start.sh": "", "start.sh": ""})
    project = load_project(tmp_path)
    assert [project.may_hold(p) for p in ("start.sh", "bin/start.sh", "bin/none", "python", "-m", "/opt/x")] == \
        [True, True, True, False, False, False]
    assert all(project.may_hold(p) for p in ("../elsewhere", "./start.sh", ""))  # only the disk can tell


@pytest.mark.parametrize(("lock", "version", "names"), [
    ('[[package]]\nname = "Six"\nversion = "1"\n\n[[package]]\nname = "zope.interface"\n\n[metadata]\n'
     'lock-version = "2.0"\ncontent-hash = "x"\n', "2.0", {"six", "zope_interface"}),
    ('[metadata]\nlock-version = "1.1"\n\n[metadata.files]\nsix = [\n    {file = "six.whl"},\n]\n', "1.1", set()),
    ('name = "first-line"\n[metadata]   \nlock-version = "2.1"\npython-versions = "[3.11]"\n', "2.1", {"first_line"}),
    ('[[package]]\r\nname = "a"\r\n[metadata]\r\nlock-version = "2.0"', "2.0", {"a"}),  # CRLF, no final newline
    ('[metadatax]\n[metadata]\n\n\nlock-version = "2.0"\n[other]\nlock-version = "9"\n', "2.0", set()),
])
def test_the_lock_is_read_for_its_lock_version_and_package_names(tmp_path, lock, version, names):
    from poetry_docker_fix.refactor.project import load_project

    make_project(tmp_path, lock=lock)
    project = load_project(tmp_path)
    assert project.lock_version == version and project.locked_packages == frozenset(names)


def test_locks_answers_as_the_full_set_of_locked_names_does(tmp_path):
    """multi-stage asks about a few packages with one search instead of normalising every locked name: the
    answers must be the full set's, for any spelling Poetry may have written."""
    from poetry_docker_fix.refactor.project import load_project

    spelled = ["Psycopg2", "psycopg-binary", "python_ldap", "Python.Magic", "mysqlclient-extra", "psycopg",
               "py--curl", "PyCurl"]
    lock = "".join(f'[[package]]\nname = "{name}"\n\n' for name in spelled)
    make_project(tmp_path, lock=lock + '[metadata]\nlock-version = "2.0"\n')
    asked = ("psycopg2", "python-ldap", "python-magic", "mysqlclient", "psycopg", "psycopg-binary", "psycopg-c",
             "pycurl", "py-curl", "absent")
    searched = load_project(tmp_path).locks(*asked)
    full = load_project(tmp_path)
    expected = {name for name in full.locked_packages if name in {a.replace("-", "_") for a in asked}}
    assert searched == expected == {"psycopg2", "python_ldap", "python_magic", "psycopg", "psycopg_binary",
                                    "pycurl", "py_curl"}
    assert full.locks(*asked) == expected  # once the full set is known, it answers
    make_project(tmp_path, lock='[metadata]\nlock-version = "2.0"\n')
    assert load_project(tmp_path).locks("six") == frozenset()
    # Unicode case folding (`ſ` is a long s, `K` the Kelvin sign) against .lower(), which the full set uses.
    lock = '[[package]]\nname = "setuptoolſ"\n\n[[package]]\nname = "\u212aeyring"\n\n[metadata]\nlock-version = "2.0"\n'
    make_project(tmp_path, lock=lock)
    full = load_project(tmp_path).locked_packages
    assert load_project(tmp_path).locks("setuptools", "keyring") == {"keyring"} == full & {"setuptools", "keyring"}


@pytest.mark.parametrize("body", [
    'lock-version = "2.0"\npython-versions = "^3.11"\ncontent-hash = "0"\n',
    'lock-version = "2.0"\n\n   \ncontent-hash = "0"',  # blank lines, no final newline
    'lock-version = "2.0"\nlock-version = "2.1"\n',  # a key twice: invalid TOML
    'lock-version = "2.0"python-versions = "x"\n',  # two pairs on a line: invalid TOML
    'lock-version = "2.\\u0030"\n',  # an escape: only tomllib reads it
    'lock-version = 2\n', 'lock-version = "2.0"  # a comment\n', '  lock-version = "2.0"\n',
    'content-hash = "x"\n', 'lock-version = "2.0\tx"\n', 'lock-version = "2.0"\r\n',
])
def test_the_metadata_fast_path_reads_what_tomllib_reads(tmp_path, body):
    """Poetry's [metadata] is `key = "text"` lines, read without tomllib; anything else goes to tomllib, so
    the answer (or the error) is always tomllib's."""
    import tomllib

    from poetry_docker_fix.refactor.project import ProjectError, _lock_version

    try:
        value = tomllib.loads(body).get("lock-version")
        expected = str(value) if value is not None else None
    except tomllib.TOMLDecodeError:
        expected = ProjectError
    try:
        found = _lock_version(tmp_path / "poetry.lock", "[metadata]\n" + body)
    except ProjectError:
        found = ProjectError
    assert found == expected


@pytest.mark.parametrize(("lock", "error"), [('[[package]]\nname = "a"\n', "no \\[metadata\\] table"),
                                             ('[metadata]\nlock-version = \n', "not valid TOML in \\[metadata\\]")])
def test_a_lock_without_a_readable_metadata_table_is_an_input_error(tmp_path, lock, error):
    from poetry_docker_fix.refactor.project import ProjectError, load_project

    make_project(tmp_path, lock=lock)
    with pytest.raises(ProjectError, match=error):
        load_project(tmp_path)


def test_package_names_normalise_as_pep_503_says():
    import random
    import re

    from poetry_docker_fix.refactor.project import normalise_name

    rng = random.Random(3)
    names = ["Zope.Interface", "typing_extensions", "a--b", "a-_.b", "___", "", "A.B-C_D", "x__", "-x-"]
    names += ["".join(rng.choice("aB-_.9") for _ in range(rng.randint(0, 12))) for _ in range(2000)]
    assert [normalise_name(n) for n in names] == [re.sub(r"[-_.]+", "_", n).lower() for n in names]


def test_a_dockerignore_with_a_byte_order_mark_reads_its_first_pattern(tmp_path):
    """Saved with a BOM, `*` read as `\ufeff*` matched nothing: the tool copied a README Docker did not send (a
    real build: "/README.md" not found)."""
    make_project(tmp_path)
    (tmp_path / ".dockerignore").write_bytes(b"\xef\xbb\xbf*\n!pyproject.toml\n!poetry.lock\n!app\n")
    project = load_project(tmp_path)
    assert project.is_ignored("README.md") and not project.is_ignored("app")


@pytest.mark.parametrize(("patterns", "ignored", "kept"), [
    ("./README.md\n", ["README.md"], ["app"]),  # Docker cleans the pattern: a real build lacked README.md
    ("*.md\n!./README.md\n", ["CHANGES.md"], ["README.md"]),
    ("docs//api/\n", ["docs/api/x.md"], ["docs/index.md"]),
    ("//README.md\n", ["README.md"], []),
    ("/app/../README.md\n", ["README.md"], ["app"]),
    # An exception inside a left-out folder: Docker still sends it, so the folder is not all gone (a QA build).
    ("conf\n!conf/app.ini\n", ["conf/other.ini"], ["conf", "conf/app.ini"]),
    ("conf/\n!conf/*.ini\n", [], ["conf", "conf/app.ini"]),
    # `!**/*.py` brings back .py files inside folders only, not every left-out file (a review found README.md kept).
    ("*\n!pyproject.toml\n!app\n!**/*.py\n", ["README.md", "notes.txt"], ["app", "pyproject.toml"]),
])
def test_dockerignore_patterns_are_cleaned_as_docker_cleans_them(tmp_path, patterns, ignored, kept):
    make_project(tmp_path, files={".dockerignore": patterns})
    project = load_project(tmp_path)
    assert all(project.is_ignored(path) for path in ignored)
    assert not any(project.is_ignored(path) for path in kept)

"""Property tests over generated Dockerfiles: whatever the input, the pipeline behaves.

Inputs mix FROM/RUN/COPY/ADD/ENV/ARG/WORKDIR/CMD/ENTRYPOINT/EXPOSE/LABEL/USER with Poetry-ish RUNs
(`pip install poetry`, the official installer, `poetry config virtualenvs.create false`, `poetry install` with
random flags, `poetry export`), continuations with comments and blank lines inside, parser directives (escape,
syntax), CRLF, a BOM, unicode in comments and values, odd spacing, keyword case, JSON and shell forms, heredocs.
Half of them are shaped like a naive Poetry build so the passes really run.

Properties (for `refactor(text, Context(project, Options()), select_passes())`):

- no exception escapes, and the status is changed / unchanged / skipped — `failed` (an internal error: a pass
  that did not converge or produced an unparseable file) is a finding;
- skipped and unchanged files come back byte for byte;
- lines no pass may touch survive verbatim: every comment line (unless it sits inside, or directly above, an
  instruction a pass may rewrite: a RUN of pip/poetry/curl/rm, a COPY/ADD of the whole context, FROM,
  CMD/ENTRYPOINT, ENV, WORKDIR) and every line of EXPOSE / LABEL / USER / HEALTHCHECK / STOPSIGNAL / VOLUME
  instructions. They appear in the output at least as often as in the input and, when the output has as many
  stages as the input (nothing was moved to a runtime stage), in the same order;
- idempotent: the output run through the pipeline again comes back unchanged;
- the output has as many stages as the input, or exactly one more;
- CRLF in, CRLF out (no bare LF), a BOM stays a BOM;
- BuildKit's parser (the `dockerfile` package) accepts the output whenever it accepted the input, and a file
  the tool changes is one whose instruction boundaries it reads as BuildKit does (a blank line inside a
  continuation, for instance, does not end the instruction for BuildKit).

`test_minimal_examples_found_by_fuzzing` replays the smallest failing inputs found so far, so they fail
deterministically until the engine is fixed.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from poetry_docker_fix.refactor.document import Document
from poetry_docker_fix.refactor.facts import Context, Options
from poetry_docker_fix.refactor.pipeline import Status, refactor, select_passes
from poetry_docker_fix.refactor.project import load_project
from tests.helpers import CLASSIC, LOCK_1_8, LOCK_2_5, make_project

dockerfile = pytest.importorskip("dockerfile", reason="the `dockerfile` package (BuildKit's parser) is a dev dependency")

PEP621 = """\
[project]
name = "svc"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["six"]

[tool.poetry]
package-mode = false

[tool.poetry.group.test.dependencies]
pytest = "*"
"""


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("fuzz")
    classic = make_project(base / "classic", CLASSIC, LOCK_1_8, files={"data/rows.csv": "1,2\n"})
    pep621 = make_project(base / "pep621", PEP621, LOCK_2_5, files={"svc.py": "print('svc')\n", "app/__init__.py": None})
    return {"classic": load_project(classic), "pep621": load_project(pep621), "none": None}


# --- building blocks ----------------------------------------------------------------------------------------------
SAFE_TEXT = st.text(alphabet=st.sampled_from(list("abcxyzABC _-.:/=éßü日本語🐍øΣ\u00a0")), max_size=14)
ODD_TEXT = st.text(alphabet=st.sampled_from(list("ab é🐍\u2028\x85\x0c\t$`'")), max_size=10)  # comments only


def keyword(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name.upper()] * 6 + [name.lower(), name.capitalize()])


SPACE = st.sampled_from([" "] * 8 + ["  ", "\t", " \t "])
INDENT = st.sampled_from([""] * 10 + [" ", "    ", "\t"])


@st.composite
def comment(draw) -> str:
    return draw(INDENT) + "#" + draw(st.sampled_from(["", " "])) + draw(st.one_of(SAFE_TEXT, ODD_TEXT))


@st.composite
def continued(draw, head: str, segments: list[str], escape: str = "\\") -> list[str]:
    """`head seg1 seg2 …` on one line, or split over continuation lines with comments/blank lines inside."""
    if len(segments) < 2 or draw(st.booleans()):
        return [head + " ".join(segments)]
    lines = [head + segments[0] + " " + escape]
    for index, segment in enumerate(segments[1:], 1):
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            lines.append(draw(st.sampled_from(["comment"] * 6 + ["", "   "])).replace("comment", draw(comment())))
        last = index == len(segments) - 1
        lines.append(draw(st.sampled_from(["    ", "  ", "\t", ""])) + segment + ("" if last else " " + escape))
    return lines


POETRY_VERSION = st.sampled_from(["1.1.15", "1.4.2", "1.8.5", "2.1.4", "${POETRY_VERSION}", "$POETRY_VERSION"])
INSTALL_FLAGS = ["--no-root", "--only main", "--no-dev", "--without dev", "--no-interaction", "--no-ansi", "--sync",
                 "--only-root", "-n", "--with test", "--no-cache", "-vvv", "--compile", "--without=dev,test"]


@st.composite
def poetry_command(draw) -> str:
    kind = draw(st.sampled_from(["pip", "pip", "pipx", "installer", "config", "config", "install", "install",
                                 "install", "export", "other", "rm", "run"]))
    if kind == "pip":
        pin = draw(st.sampled_from(["", "==", "~=", ">="]))
        spec = f"poetry{pin}{draw(POETRY_VERSION)}" if pin else "poetry"
        quote = draw(st.sampled_from(["", "'", '"']))
        pip = draw(st.sampled_from(["pip", "pip3", "python -m pip", "python3 -m pip", "/usr/local/bin/pip"]))
        extra = draw(st.sampled_from(["", " --no-cache-dir", " -U", " --upgrade pip setuptools"]))
        return f"{pip} install{extra} {quote}{spec}{quote}"
    if kind == "pipx":
        return "pipx install poetry" + draw(st.sampled_from(["", "==1.8.5"]))
    if kind == "installer":
        version = draw(st.sampled_from(["", " --version 1.8.5", " --version $POETRY_VERSION"]))
        env = draw(st.sampled_from(["", "POETRY_HOME=/opt/poetry ", "POETRY_VERSION=1.7.1 "]))
        return f"curl -sSL https://install.python-poetry.org | {env}python3 -{version}"
    if kind == "config":
        setting = draw(st.sampled_from(["virtualenvs.create false", "virtualenvs.create true",
                                        "virtualenvs.in-project true", "virtualenvs.create false --local",
                                        "cache-dir /tmp/pc", "installer.max-workers 4"]))
        return f"poetry config {setting}"
    if kind == "install":
        flags = draw(st.lists(st.sampled_from(INSTALL_FLAGS), max_size=3, unique=True))
        return " ".join(["poetry install", *flags]).strip()
    if kind == "export":
        return "poetry export -f requirements.txt --output requirements.txt --without-hashes"
    if kind == "rm":
        return draw(st.sampled_from(["rm -rf $POETRY_CACHE_DIR", "rm -rf /root/.cache/pypoetry",
                                     "rm -rf /var/lib/apt/lists/*"]))
    if kind == "run":
        return draw(st.sampled_from(["poetry run pytest", "poetry run python manage.py collectstatic --noinput"]))
    return draw(st.sampled_from(["apt-get update && apt-get install -y --no-install-recommends gcc",
                                 "echo 'héllo 🐍' > /tmp/x", "useradd -m app", "cd /app", "mkdir -p /app",
                                 "true"]))


@st.composite
def run_instruction(draw, escape: str) -> list[str]:
    kw = draw(keyword("RUN")) + draw(SPACE)
    form = draw(st.sampled_from(["shell"] * 8 + ["exec", "heredoc", "mount"]))
    if form == "exec":
        words = draw(st.sampled_from([["poetry", "install"], ["poetry", "install", "--no-root"],
                                      ["pip", "install", "poetry"], ["python", "-m", "pip", "install", "poetry"]]))
        return [kw + json.dumps(words)]
    if form == "heredoc":
        return [kw + "<<EOF", draw(poetry_command()), draw(poetry_command()), "EOF"]
    commands = draw(st.lists(poetry_command(), min_size=1, max_size=3))
    segments: list[str] = []
    for index, command in enumerate(commands):
        segments.append(("&& " if index else "") + command)
    if form == "mount":
        kw += draw(st.sampled_from(["--mount=type=cache,target=/root/.cache ",
                                    "--mount=type=cache,target=/tmp/poetry_cache "]))
    return draw(continued(kw, segments, escape))


@st.composite
def copy_instruction(draw) -> list[str]:
    kw = draw(st.sampled_from(["COPY"] * 5 + ["ADD", "copy"])) + draw(SPACE)
    body = draw(st.sampled_from([". .", ". /app", ". /app/", "./ ./", "pyproject.toml poetry.lock ./",
                                 "pyproject.toml poetry.lock* /app/", "--chown=1000:1000 . .", "app ./app",
                                 "README.md ./", '["pyproject.toml", "poetry.lock", "./"]', "--from=builder /x /x",
                                 ". app/"]))
    return [kw + body]


@st.composite
def env_instruction(draw, escape: str) -> list[str]:
    kw = draw(keyword("ENV")) + draw(SPACE)
    pairs = draw(st.lists(st.sampled_from([
        "POETRY_VIRTUALENVS_CREATE=false", "POETRY_VIRTUALENVS_IN_PROJECT=1", "POETRY_VIRTUALENVS_IN_PROJECT=true",
        "POETRY_CACHE_DIR=/tmp/poetry_cache", "POETRY_NO_INTERACTION=1", "POETRY_VERSION=1.8.5",
        "POETRY_HOME=/opt/poetry", 'PATH="/opt/poetry/bin:$PATH"', "PYTHONUNBUFFERED=1", 'GREETING="héllo wörld"',
        "EMPTY=", "PYTHONDONTWRITEBYTECODE=1"]), min_size=1, max_size=4, unique=True))
    if len(pairs) == 1 and draw(st.booleans()):  # legacy `ENV KEY value`
        name, _, value = pairs[0].partition("=")
        return [kw + name + " " + (value or '""')]
    return draw(continued(kw, pairs, escape))


@st.composite
def simple_instruction(draw) -> list[str]:
    kind = draw(st.sampled_from(["ARG", "WORKDIR", "CMD", "ENTRYPOINT", "EXPOSE", "LABEL", "USER", "HEALTHCHECK",
                                 "STOPSIGNAL", "VOLUME"]))
    kw = draw(keyword(kind)) + draw(SPACE)
    if kind == "ARG":
        return [kw + draw(st.sampled_from(["POETRY_VERSION=1.8.5", "POETRY_VERSION", "PY=3.11", "BASE"]))]
    if kind == "WORKDIR":
        return [kw + draw(st.sampled_from(["/app", "/app", "/srv/app", "app", "/", "/code/", "$APP_HOME", "/."]))]
    if kind in ("CMD", "ENTRYPOINT"):
        argv = draw(st.sampled_from([["poetry", "run", "python", "-m", "app.main"], ["python", "-m", "app.main"],
                                     ["poetry", "run"], ["poetry", "run", "uvicorn", "app.main:app"],
                                     ["sh", "-c", "poetry run python -m app.main"], ["/usr/local/bin/poetry", "run"]]))
        if draw(st.booleans()):
            return [kw + json.dumps(argv, ensure_ascii=draw(st.booleans()))]
        return [kw + " ".join(argv)]
    if kind == "EXPOSE":
        return [kw + draw(st.sampled_from(["8000", "80/tcp 443", "${PORT}", "5000/udp"]))]
    if kind == "LABEL":
        value = draw(SAFE_TEXT).replace('"', "")
        return [kw + f'maintainer="{value}" org.opencontainers.image.title="svc"']
    if kind == "USER":
        return [kw + draw(st.sampled_from(["app", "1000:1000", "root", "nobody"]))]
    if kind == "HEALTHCHECK":
        return [kw + "--interval=30s CMD curl -f http://localhost/ || exit 1"]
    if kind == "STOPSIGNAL":
        return [kw + "SIGTERM"]
    return [kw + '["/data"]']


@st.composite
def stage_body(draw, escape: str, naive: bool) -> list[str]:
    lines: list[str] = []
    if naive:  # the classic naive shape, randomly decorated below
        blocks = [[draw(keyword("RUN")) + draw(SPACE) + draw(poetry_command().filter(lambda c: "install" in c
                                                                                     and "poetry" in c))]]
        blocks += [[draw(keyword("WORKDIR")) + " /app"], draw(copy_instruction()),
                   draw(run_instruction(escape).filter(lambda ls: any("poetry install" in l for l in ls)))]
        extra = draw(st.lists(st.one_of(run_instruction(escape), env_instruction(escape), simple_instruction(),
                                        copy_instruction()), max_size=4))
        positions = draw(st.lists(st.integers(0, len(blocks)), min_size=len(extra), max_size=len(extra)))
        for block, position in sorted(zip(extra, positions), key=lambda pair: -pair[1]):
            blocks.insert(position, block)
        blocks.append([draw(keyword("CMD")) + ' ["poetry", "run", "python", "-m", "app.main"]'])
    else:
        blocks = draw(st.lists(st.one_of(run_instruction(escape), env_instruction(escape), simple_instruction(),
                                         copy_instruction()), max_size=8))
    for block in blocks:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.one_of(comment(), st.just(""))))
        lines.extend(draw(INDENT) + line if i == 0 else line for i, line in enumerate(block))
        if draw(st.integers(0, 15)) == 0 and not lines[-1].lstrip().startswith("#") and lines[-1].strip() \
                and "<<" not in "".join(block) and not lines[-1].endswith(escape):
            lines[-1] += " " + escape  # a dangling continuation: BuildKit joins it with the next instruction
            lines.append(draw(st.sampled_from(["", "", "# after a dangling continuation"])))
    return lines


@st.composite
def dockerfiles(draw) -> str:
    escape_directive = draw(st.sampled_from([None] * 14 + ["\\", "`"]))
    escape = escape_directive or "\\"
    lines: list[str] = []
    if draw(st.integers(0, 5)) == 0:
        lines.append(draw(st.sampled_from(["# syntax=docker/dockerfile:1", "#syntax=docker/dockerfile:1.4",
                                           "# SYNTAX = docker/dockerfile:1"])))
    if escape_directive:
        lines.append(draw(st.sampled_from(["# escape=", "#escape=", "# ESCAPE = "])) + escape_directive)
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(keyword("ARG")) + " " + draw(st.sampled_from(["PY=3.11", "BASE=python:3.11-slim",
                                                                        "POETRY_VERSION=1.8.5"])))
    naive = draw(st.sampled_from([True, True, False]))
    stage_count = draw(st.sampled_from([1, 1, 1, 2, 3]))
    for index in range(stage_count):
        image = draw(st.sampled_from(["python:3.11", "python:3.11-slim", "python:3.12-alpine", "python:3.10-buster",
                                      "ubuntu:22.04", "${BASE}", "python:${PY}-slim", "python"]))
        alias = draw(st.sampled_from(["", " AS builder", " as base", f" AS stage{index}"]))
        if index and draw(st.booleans()):
            image = draw(st.sampled_from(["builder", "base", "stage0"]))
        lines.append(draw(keyword("FROM")) + draw(SPACE) + image + alias)
        lines.extend(draw(stage_body(escape, naive and index == stage_count - 1)))
    newline = draw(st.sampled_from(["\n", "\n", "\n", "\r\n"]))
    text = newline.join(lines)
    if draw(st.integers(0, 6)):
        text += newline
    if draw(st.integers(0, 12)) == 0:
        text = "\ufeff" + text
    return text


# --- the properties -----------------------------------------------------------------------------------------------
EDITABLE_KEYWORDS = {"FROM", "CMD", "ENTRYPOINT", "ENV", "WORKDIR", "ARG"}
KEPT_KEYWORDS = {"EXPOSE", "LABEL", "USER", "HEALTHCHECK", "STOPSIGNAL", "VOLUME"}


def split_lines(text: str) -> tuple[list[str], str]:
    body = text[1:] if text.startswith("\ufeff") else text
    newline = "\r\n" if "\r\n" in body else "\n"
    if body.endswith(newline):
        body = body[: -len(newline)]
    return (body.split(newline) if body else []), newline


def editable(keyword: str, raw: str) -> bool:
    lowered = raw.lower()
    if keyword in EDITABLE_KEYWORDS:
        return True
    if keyword == "RUN":
        return any(word in lowered for word in ("pip", "poetry", "curl", "rm ", "mkdir", "cd "))
    if keyword in ("COPY", "ADD"):
        return True  # narrow-copy may rewrite any context copy
    return keyword not in KEPT_KEYWORDS


def protected_lines(text: str) -> list[str]:
    """Input lines no pass may alter or drop (see the module docstring), in input order."""
    document = Document.from_text(text)
    lines = document.lines
    owner: dict[int, tuple[str, str]] = {}
    for instruction in document.instructions:
        raw = "\n".join(lines[instruction.start: instruction.end + 1])
        for number in range(instruction.start, instruction.end + 1):
            owner[number] = (instruction.keyword, raw)
        above = instruction.start - 1
        while above >= 0 and lines[above].lstrip().startswith("#"):
            owner.setdefault(above, (instruction.keyword, raw))
            above -= 1
    directives = set()
    for number, line in enumerate(lines):
        if line.lstrip().startswith("#") and "=" in line and number == len(directives):
            directives.add(number)
    kept: list[str] = []
    for number, line in enumerate(lines):
        if number in directives:
            continue
        keyword, raw = owner.get(number, ("", ""))
        is_comment = line.lstrip().startswith("#")
        if is_comment and (not keyword or not editable(keyword, raw)):
            kept.append(line)
        elif keyword in KEPT_KEYWORDS and not is_comment and line.strip():
            kept.append(line)
    return kept


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    iterator = iter(haystack)
    return all(any(needle == item for item in iterator) for needle in needles)


def buildkit_accepts(text: str) -> bool:
    try:
        dockerfile.parse_string(text)
    except Exception:
        return False
    return True


def stage_count(text: str) -> int:
    return sum(1 for command in dockerfile.parse_string(text) if command.cmd.upper() == "FROM")


def _note(message: str) -> None:
    try:
        note(message)
    except InvalidArgument:  # outside a Hypothesis test (the replayed findings): nothing to attach it to
        pass


def check(text: str, project) -> None:
    _note(f"input:\n{text}")
    context = Context(project, Options())
    refactoring = refactor(text, context, select_passes())
    _note(f"status: {refactoring.status.value} ({refactoring.reason})\noutput:\n{refactoring.output}")
    assert refactoring.status in (Status.CHANGED, Status.UNCHANGED, Status.SKIPPED), \
        f"status failed: {refactoring.reason}"
    output = refactoring.output
    if refactoring.status is not Status.CHANGED:
        assert output == text
        return

    # lines no pass may touch
    before_lines, newline = split_lines(text)
    after_lines, _ = split_lines(output)
    kept = protected_lines(text)
    missing = Counter(kept) - Counter(after_lines)
    assert not missing, f"lines lost or altered: {sorted(missing)}"

    # line endings and BOM
    if newline == "\r\n":
        assert "\n" not in output.replace("\r\n", ""), "bare LF in a CRLF file"
    assert output.startswith("\ufeff") == text.startswith("\ufeff")

    # idempotence
    again = refactor(output, context, select_passes())
    assert again.status in (Status.UNCHANGED, Status.SKIPPED) and again.output == output, \
        f"not idempotent ({again.status.value}: {again.reason}):\n{again.output}"

    # BuildKit's parser, instruction boundaries, stage count, order of the kept lines
    if buildkit_accepts(text):
        theirs = [command.cmd.upper() for command in dockerfile.parse_string(text)]
        ours = [instruction.keyword for instruction in Document.from_text(text).instructions]
        assert ours == theirs, f"the tool rewrote a file whose instructions it reads differently from BuildKit: " \
                               f"{ours} vs {theirs}"
        assert buildkit_accepts(output), "BuildKit's parser rejects the output"
        before, after = stage_count(text), stage_count(output)
        assert after in (before, before + 1), f"{before} stages became {after}"
        if after == before:
            assert is_subsequence(kept, after_lines), "kept lines out of order"


NAIVE_EXAMPLE = textwrap.dedent("""\
    FROM python:3.11
    # install Poetry
    RUN pip install poetry
    WORKDIR /app
    COPY . .
    RUN poetry config virtualenvs.create false \\
        # the comment inside a continuation stays
        && poetry install --no-interaction
    EXPOSE 8000
    LABEL maintainer="José 🐍"
    CMD ["poetry", "run", "python", "-m", "app.main"]
    """)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(text=dockerfiles(), which=st.sampled_from(["classic", "classic", "pep621", "none"]))
@example(text=NAIVE_EXAMPLE, which="classic")
@example(text=NAIVE_EXAMPLE.replace("\n", "\r\n"), which="pep621")
@example(text="\ufeffFROM python:3.11\r\nRUN pip install poetry\r\nCOPY . .\r\nRUN poetry install\r\n", which="classic")
@example(text="# escape=`\nFROM python:3.11\nRUN pip install poetry && `\n    poetry install\n", which="classic")
def test_pipeline_properties(projects, text, which):
    check(text, projects[which])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("FROMRUNCOPY poetryinstall.\\\n\r#=`\"'[]-{}$é")), max_size=120))
def test_arbitrary_text_never_raises(projects, text):
    """Not Dockerfiles at all: the pipeline still answers with a status and never raises."""
    refactoring = refactor(text, Context(projects["classic"], Options()), select_passes())
    assert refactoring.status in (Status.CHANGED, Status.UNCHANGED, Status.SKIPPED), refactoring.reason
    if refactoring.status is not Status.CHANGED:
        assert refactoring.output == text


MINIMAL_FINDINGS = [
    pytest.param("FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN poetry install\n",
                 id="poetry-from-the-base-image"),
    pytest.param("FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN poetry install\nRUN pip install poetry\n",
                 id="install-before-poetry-is-installed"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nEXPOSE 8000\n"
                 "RUN poetry install\n", id="EXPOSE-between-code-COPY-and-install"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
                 'CMD ["python", "-m", "app.main"]\nRUN poetry install\n', id="CMD-between-code-COPY-and-install"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
                 "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nRUN poetry install\n", id="in-project-ENV-after-code-COPY"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
                 "RUN poetry config virtualenvs.create false && poetry config virtualenvs.create false "
                 "&& poetry install\n", id="config-repeated-in-one-RUN"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
                 "RUN poetry install --no-dev --without=dev,test\n", id="no-dev-with-without"),
    pytest.param("FROM python:3.11\nRUN pip install poetry==1.8.5\nWORKDIR /app\nCOPY . .\nRUN echo start \\\n\n"
                 "RUN poetry install\n", id="blank-line-after-a-continuation"),
]


@pytest.mark.parametrize("text", MINIMAL_FINDINGS)
def test_minimal_examples_found_by_fuzzing(projects, text):
    """The smallest inputs the generator above found that break a property (see the report of issue 5)."""
    check(text, projects["classic"])

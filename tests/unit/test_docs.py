"""README.md and docs/*.md name repository files, make targets, Python functions and LAMBDA_*
variables. Code moves faster than prose, so each of those names is checked against the repository
here: a rename or removal that leaves the docs behind fails `make test` instead of misleading the
next reader. Pure Python (pathlib, re, ast); nothing of the project is imported, so no Spark."""

from __future__ import annotations

import ast
import functools
import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = {
    p.relative_to(REPO).as_posix(): p.read_text()
    for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
}

FENCE = re.compile(r"^[ \t]*```.*?^[ \t]*```[^\n]*$", re.M | re.S)
SPAN = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
EXTS = "py|sh|sql|md|ya?ml|toml|txt|json|cfg|conf|xml|png|log|jsonl"
FILE = re.compile(rf"[\w.-]*\w\.(?:{EXTS})")
DOTTED = re.compile(r"(?<![\w./$-])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?![\w./<*:-])")
# In docs a family (`LAMBDA_TEST_*`) or a fragment after a full name (`LAMBDA_RETAIN_RAW_DAYS` /
# `_AIRFLOW_DAYS`); in code only whole names, not the families comments write (LAMBDA_CHAOS_*).
DOC_VAR = re.compile(r"(?<!\w)LAMBDA_[A-Z0-9_]*\*?|(?<=`)_[A-Z][A-Z0-9_]*(?=`)")
CODE_VAR = re.compile(r"\bLAMBDA_[A-Z0-9_]*[A-Z0-9]\b")

# Runtime paths, not repository files: environment-relative ($LAMBDA_HOME/...), the untracked
# .local/, absolute paths and URL paths, URLs of any scheme, and placeholders or globs.
RUNTIME_PREFIXES = ("$", ".local/", "/", "~", "http", "file:")
PLACEHOLDER = re.compile(r"[<*{]|://")
# Files the product writes at run time: logs, lineage events, generated configuration.
RUNTIME_SUFFIXES = (".log", ".jsonl")
RUNTIME_NAMES = {"airflow.cfg", "airflow_connections.json", "pg_hba.conf", "spark-defaults.conf"}
# Where the docs' short forms live: `telemetry/x.py` is spark_apps/telemetry/x.py, a bare `x.sh`
# is one of include/scripts, a bare `x.sql` is anywhere under sql/; other bare names anywhere.
SHORT_ROOTS = {"telemetry": "spark_apps"}
BARE_HOMES = {".sh": "include/scripts", ".sql": "sql"}
# A path whose first folder is not one of the repository's is under $LAMBDA_HOME (logs/, secrets/).
TOP = {p.name for p in REPO.iterdir()} - {".git", ".local"}
CODE_DIRS = ("spark_apps", "include", "dags", "plugins")  # the product: what it reads is documented
# Python modules the docs may name as `module.name`; not dags/: `lambda_hourly.compute_hour` is a
# DAG's task (dag_id.task_id, as lineage names it), not a function of dags/lambda_hourly.py.
MODULE_DIRS = ("spark_apps", "include")
REPO_FILES = [f for d in TOP for f in [REPO / d, *(REPO / d).rglob("*")] if f.is_file()]


def code_bits(text: str) -> list[str]:
    """Inline code spans (whitespace-normalized: spans wrap lines) and fenced blocks."""
    spans = SPAN.findall(FENCE.sub("", text))
    return [" ".join(s.split()) for s in spans] + FENCE.findall(text)


def words(text: str) -> set[str]:
    return {w.strip("()[],;'\"|") for bit in code_bits(text) for w in bit.split()}


def report(offenders: set[tuple[str, str]], what: str) -> str:
    lines = [f"  {doc}: {ref}" for doc, ref in sorted(offenders)]
    return f"{len(lines)} {what}:\n" + "\n".join(lines)


@functools.cache
def anchors(doc: Path) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation but '-' and '_' dropped, spaces to '-'."""
    found, seen = set(), defaultdict(int)
    for title in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", doc.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", title).lower())
        slug = slug.replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def missing_path(word: str, base: Path) -> str | None:
    """Why ``word`` (a path, maybe with #anchor) names nothing in the repository, else None."""
    path, _, anchor = word.partition("#")
    if path and "/" not in path and not FILE.fullmatch(path):
        return None  # not a path: a table, a flag, prose
    if path.startswith(RUNTIME_PREFIXES) or PLACEHOLDER.search(path) or path in RUNTIME_NAMES:
        return None
    if path.endswith(RUNTIME_SUFFIXES):
        return None
    if not path:
        target = base  # a same-file #anchor
    elif base.is_dir() and "/" in path:
        first = path.split("/")[0]
        if first not in TOP and first not in SHORT_ROOTS:
            return None
        target = REPO / SHORT_ROOTS.get(first, "") / path
    elif base.is_dir():
        home = REPO / BARE_HOMES.get(Path(path).suffix, "")
        hits = [f for f in REPO_FILES if f.name == path and f.is_relative_to(home)]
        return None if hits else "no such file"
    else:
        target = base.parent / path  # a link resolves against its own file, as on GitHub
    if not target.exists():
        return "no such file"
    if anchor and anchor not in anchors(target):
        return f"no heading #{anchor} in {target.relative_to(REPO)}"
    return None


def test_named_paths_and_anchors_exist():
    offenders = set()
    for doc, text in DOCS.items():
        refs = [(w, REPO) for w in words(text)]  # backticks: repository-relative
        refs += [(ln, REPO / doc) for ln in LINK.findall(FENCE.sub("", text))]
        for ref, base in refs:
            if why := missing_path(ref, base):
                offenders.add((doc, f"{ref} ({why})"))
    assert not offenders, report(offenders, "paths or anchors the docs name do not exist")


def test_make_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([\w.-]+)\s*:(?!=)", makefile, re.M))
    offenders = {
        (doc, f"make {t}")
        for doc, text in DOCS.items()
        for bit in code_bits(text)  # only code: prose says "make sure"
        for t in re.findall(r"(?<![\w-])make\s+(\w[\w-]*)", bit)
        if t not in targets
    }
    assert not offenders, report(offenders, "make targets the docs name are not in the Makefile")


@functools.cache
def modules() -> dict[str, list[Path]]:
    """Dotted module name -> files, with every short form: telemetry.speed.summary is also
    speed.summary and summary (the docs use these)."""
    index = defaultdict(list)
    for root in MODULE_DIRS:
        for py in (REPO / root).rglob("*.py"):
            parts = py.relative_to(REPO / root).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            for i in range(len(parts)):
                index[".".join(parts[i:])].append(py)
    return index


@functools.cache
def defined(py: Path) -> set[str]:
    """Names bound at module level (also inside if/try/with), imports included: ``m.name`` works."""
    names, stack = set(), list(ast.parse(py.read_text()).body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.ExceptHandler):
            stack.extend(ast.iter_child_nodes(node))
    return names


def test_named_modules_and_functions_exist():
    offenders = set()
    for doc, text in DOCS.items():
        for bit in code_bits(text):
            for word in set(DOTTED.findall(bit)):
                parts = word.split(".")
                if FILE.fullmatch(word):
                    continue  # a file name, checked as a path
                for n in range(len(parts), 0, -1):
                    if files := modules().get(".".join(parts[:n])):
                        break
                else:
                    continue  # not the project's: spark.sql.shuffle.partitions, a table.column
                if n < len(parts) and not any(parts[n] in defined(f) for f in files):
                    where = ", ".join(str(f.relative_to(REPO)) for f in files)
                    offenders.add((doc, f"{word} (no {parts[n]} in {where})"))
    assert not offenders, report(offenders, "Python names the docs use are not defined")


def doc_variables() -> dict[str, set[str]]:
    """LAMBDA_* names per doc; `LAMBDA_X_A` / `_B` (a fragment after a full name on its line)
    means LAMBDA_X_B. A name ending in '*' or '_' is a family: a prefix."""
    found = defaultdict(set)
    for doc, text in DOCS.items():
        for line in text.splitlines():
            last = None
            for name in DOC_VAR.findall(line):
                if name.startswith("_") and last:
                    name = "_".join(last.split("_")[:2]) + name
                elif name.startswith("LAMBDA_"):
                    last = name
                found[doc].add(name.rstrip("*"))
    return found


def profile_variables(text: str) -> list[str]:
    """The overrides a `run_profile NAME ...` call reads (include/scripts/run_profile.sh builds
    their names: LAMBDA_<NAME>_HOME, LAMBDA_<NAME>_KAFKA_PORT, ...)."""
    helper = (REPO / "include" / "scripts" / "run_profile.sh").read_text()
    settings = ["HOME", *re.findall(r"\b([A-Z_]+_PORT):", helper)]
    return [
        f"LAMBDA_{name.upper()}_{setting}"
        for name in re.findall(r"^run_profile (\w+) ", text, re.M)
        for setting in settings
    ]


def code_variables(*dirs: str) -> dict[str, str]:
    """LAMBDA_* names in those folders (or files) -> the first file naming each."""
    found = {}
    for d in dirs:
        for f in sorted([REPO / d] if (REPO / d).is_file() else (REPO / d).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f != Path(__file__).resolve():
                text = f.read_text(errors="ignore")
                for name in [*CODE_VAR.findall(text), *profile_variables(text)]:
                    found.setdefault(name, f.relative_to(REPO).as_posix())
    return found


def test_documented_variables_are_read():
    # also docker/ and docker-compose.yaml: the compose file reads LAMBDA_AIRFLOW_JWT_SECRET
    read = code_variables(*CODE_DIRS, "tests", "Makefile", ".ci", "docker", "docker-compose.yaml")
    # A family must have a member; a fragment with no full name before it must end one.
    offenders = {
        (doc, name + ("*" if name.endswith("_") else ""))
        for doc, names in doc_variables().items()
        for name in names
        if name not in read
        and not (name.endswith("_") and any(r.startswith(name) for r in read))
        and not (name.startswith("_") and any(r.endswith(name) for r in read))
    }
    assert not offenders, report(offenders, "LAMBDA_* variables the docs name are read nowhere")


def test_product_variables_are_documented():
    named = set().union(*doc_variables().values())
    # `LAMBDA_TEST_*` covers its members; the bare `LAMBDA_*` covers nothing.
    families = tuple(n for n in named if n.endswith("_") and n != "LAMBDA_")
    offenders = {
        (where, name)
        for name, where in code_variables(*CODE_DIRS).items()
        if name not in named and not name.startswith(families)
    }
    assert not offenders, report(offenders, "LAMBDA_* variables the code reads are in no doc")

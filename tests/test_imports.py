"""The house, drawn from its imports (issue 19): nothing below the command line imports it, no module
takes another package's private name, and no two modules import each other (directly or round a
circle), counting the imports made inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "python" / "rem"
NATIVE = {"rem._rem"}  # the Rust extension: a module without a .py file


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _imports() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """(module -> the REM modules it imports, [(module, from, private name)])."""
    mods = _modules()
    deps: dict[str, set[str]] = {}
    private = []
    for m, p in mods.items():
        is_pkg = p.name == "__init__.py"
        got: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.split(".") if is_pkg else m.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if not target.startswith("rem"):
                    continue
                for a in node.names:
                    full = f"{target}.{a.name}"
                    if full in NATIVE:
                        continue
                    got.add(full if full in mods else target)
                    pkg_of = ".".join(target.split(".")[:2])
                    if a.name.startswith("_") and pkg_of != ".".join(m.split(".")[:2]):
                        private.append((m, target, a.name))
            elif isinstance(node, ast.Import):
                got |= {a.name for a in node.names if a.name.startswith("rem") and a.name not in NATIVE}
        deps[m] = {d for d in got if d in mods and d != m}
    return deps, private


def _cycles(deps: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return out


def test_nothing_below_the_command_line_imports_it():
    deps, _ = _imports()
    below = {m: sorted(d for d in ds if d.startswith("rem.cli")) for m, ds in deps.items()
             if not m.startswith("rem.cli") and m != "rem.__main__"}
    assert {m: d for m, d in below.items() if d} == {}


def test_no_module_takes_another_packages_private_name():
    _, private = _imports()
    assert private == []


def test_no_import_cycles():
    deps, _ = _imports()
    assert _cycles(deps) == []


def test_the_walker_sees_what_it_checks():
    """The checks above would pass on an empty graph: the walker must find the real imports."""
    deps, _ = _imports()
    assert "rem.store" in deps["rem.dream.persist"] and "rem.links" in deps["rem.corrections"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]


def test_every_exception_class_lives_in_exceptions_and_is_exported():
    """One place for REM's errors (issue 19): every exception class the package defines is in rem.exceptions and
    exported by ``rem``; lookups that find nothing raise NotFoundError with what was looked for."""
    import rem
    from rem import exceptions

    defined = []
    for p in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "").endswith(("Error", "Exception", "Refused"))
                                                      or getattr(b, "attr", "").endswith("Error") for b in node.bases):
                defined.append((p.name, node.name))
    signals = {("notes.py", "PassOver")}  # the notes importer's internal "skip this file" signal, caught where raised
    assert all(f == "exceptions.py" for f, n in defined if (f, n) not in signals), defined
    defined = [d for d in defined if d not in signals]
    classes = {n for _, n in defined}
    assert classes <= set(exceptions.__all__) and classes <= set(rem.__all__), classes - set(rem.__all__)
    e = exceptions.NotFoundError("moment", "abcd1234")
    assert (e.kind, e.ref) == ("moment", "abcd1234") and isinstance(e, exceptions.QueryError)


def _loaded_by(argv: list[str], tmp_path: Path) -> set[str]:
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "REM_CONFIG": str(tmp_path / "none.toml"),
           "REM_DB": str(tmp_path / "x.duckdb")}
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "rem", *argv], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return {line.split("|")[-1].strip() for line in p.stderr.splitlines() if line.startswith("import time:") and "|" in line}


HEAVY = ("pyarrow", "duckdb", "numpy", "jsonschema", "tantivy", "wordllama", "instructor", "openai", "rem.ingest",
         "rem.search", "rem.store", "rem.api", "rem.dream")


def test_rem_help_loads_none_of_the_heavy_parts(tmp_path):
    """`rem --help` starts like a small tool (issue 25): no DuckDB, pyarrow, numpy, jsonschema, importers,
    search stack or model client is imported to print the help."""
    loaded = _loaded_by(["--help"], tmp_path)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert heavy == [], heavy
    assert "rem.cli" in loaded


def test_rem_query_loads_the_database_but_not_pyarrow_the_importers_or_search(tmp_path):
    """`rem query` prints DuckDB's rows as they come (issue 25): no pyarrow (nor numpy), importers, search stack
    or model client — in every output format, on a table with times and lists."""
    for fmt in ("--json", "--table", "--csv", "--nl"):
        loaded = _loaded_by(["query", "select 1 as one, now() as t, [1, 2] as l", fmt], tmp_path)
        assert "duckdb" in loaded
        extra = sorted(m for m in loaded if m.split(".")[0] in ("pyarrow", "numpy") or m.startswith(
            ("jsonschema", "tantivy", "wordllama", "instructor", "openai", "rem.ingest", "rem.search", "rem.dream")))
        assert extra == [], (fmt, extra)


def _calls(name: str) -> set[str]:
    """The REM modules that call a function or method named ``name``."""
    out = set()
    for m, p in _modules().items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
                if called == name:
                    out.add(m)
    return out


def test_the_config_file_is_read_once_per_entry_point_and_handed_down():
    """Settings are resolved at the entry points — a command (rem.cli.common.Ctx), a fleet worker, and a
    Store made without settings (the Python API's default) — and handed down with the Store: no module
    below them reads the config file."""
    assert _calls("load_file") == {"rem.config"}
    assert _calls("load") >= {"rem.cli.common"}
    settings_loaders = {m for m in _calls("load") if "Settings.load" in (_modules()[m].read_text(encoding="utf-8"))}
    assert settings_loaders == {"rem.cli.common", "rem.fleet.worker", "rem.store.connection", "rem.config"}

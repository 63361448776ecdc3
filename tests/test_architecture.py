"""The shape of the code (DESIGN.md §6, STYLE.md "Points we hold to" 1, 4, 5), checked with ``ast``.

The core (``bot/``) holds the rules and the database; the Telegram edge (``handlers/``)
parses, calls one service and renders. Only the composition root, ``bot/app.py``, knows
both. Importing any of it does nothing but define things.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = sorted((ROOT / "bot").rglob("*.py"))
HANDLERS = sorted((ROOT / "handlers").glob("*.py"))
COMPOSITION_ROOT = ROOT / "bot" / "app.py"
#: The only package that speaks to the database driver and holds SQL.
STORAGE = ROOT / "bot" / "storage"
#: The composition root and its Telegram plumbing (the inbox-keeping bot, the sender).
TELEGRAM_SIDE = {COMPOSITION_ROOT, ROOT / "bot" / "durable.py"}
#: Start the app (cli -> app) or run as ``python -m bot``: entry points, not core.
ENTRY_POINTS = {ROOT / "bot" / "cli.py", ROOT / "bot" / "__main__.py"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imports_of(path: Path) -> set[str]:
    """Every module the file imports, at the top or inside a function, as absolute names.

    ``from handlers import render`` counts as importing ``handlers`` and ``handlers.render``.
    """
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def roots(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def string_literals(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_the_layout_is_what_the_design_fixes():
    assert COMPOSITION_ROOT in BOT
    assert {"domain.py", "lifecycle.py", "services.py", "app.py"} <= {p.name for p in BOT}
    assert (ROOT / "bot" / "storage" / "__init__.py") in BOT
    assert (ROOT / "bot" / "amazon" / "__init__.py") in BOT
    assert (ROOT / "bot" / "importing" / "__init__.py") in BOT
    assert (ROOT / "handlers" / "__init__.py") in HANDLERS


# ---------------------------------------------------------------------------------------
# Who may import what


@pytest.mark.parametrize("path", [p for p in BOT if p not in TELEGRAM_SIDE], ids=rel)
def test_only_the_composition_root_imports_telegram(path):
    assert "telegram" not in roots(imports_of(path))


def test_the_composition_root_does_import_telegram():
    # Guards the test above against an import scanner that sees nothing.
    assert "telegram" in roots(imports_of(COMPOSITION_ROOT))
    assert "aiosqlite" in roots(imports_of(ROOT / "bot" / "storage" / "db.py"))


@pytest.mark.parametrize("path", BOT + HANDLERS, ids=rel)
def test_only_storage_speaks_to_the_database_driver(path):
    if path.is_relative_to(STORAGE):
        return
    assert not roots(imports_of(path)) & {"aiosqlite", "sqlite3"}


def local_graph() -> dict[str, set[str]]:
    """Module -> the modules it may load (a submodule loads its packages' ``__init__`` too)."""
    files = {module_name(p): p for p in BOT + HANDLERS}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for imported in imports_of(path):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                edges.add(".".join(parts[:i]))
        graph[name] = edges
    return graph


def reaches(start: str, target_root: str) -> list[str] | None:
    """The import chain from ``start`` to a module of ``target_root``, if there is one."""
    graph = local_graph()
    seen = {start}
    todo = [[start]]
    while todo:
        chain = todo.pop(0)
        for nxt in sorted(graph.get(chain[-1], ())):
            if nxt.split(".")[0] == target_root:
                return [*chain, nxt]
            if nxt in graph and nxt not in seen:
                seen.add(nxt)
                todo.append([*chain, nxt])
    return None


@pytest.mark.parametrize(
    "path",
    [p for p in BOT if p not in TELEGRAM_SIDE and p not in ENTRY_POINTS],
    ids=rel,
)
def test_the_core_does_not_reach_telegram_even_through_the_edge(path):
    """The edge depends on the core, never the reverse (bot/app.py)."""
    assert reaches(module_name(path), "telegram") is None, reaches(module_name(path), "telegram")


@pytest.mark.parametrize("path", HANDLERS, ids=rel)
def test_handlers_do_not_import_the_database_or_the_machine(path):
    imported = imports_of(path)
    assert not roots(imported) & {"aiosqlite", "sqlite3", "transitions"}
    # They call services; the lifecycle table is for the desk to fire, not the edge to consult.
    assert "bot.lifecycle" not in imported


# ---------------------------------------------------------------------------------------
# Amazon, and the importer beside it (STYLE.md point 13)

#: Packages whose ``__init__`` is a face: it only imports from its own modules and re-exports.
FACES = [ROOT / "bot" / "amazon" / "__init__.py", ROOT / "bot" / "importing" / "__init__.py",
         ROOT / "bot" / "storage" / "__init__.py"]  # fmt: skip


@pytest.mark.parametrize("path", FACES, ids=rel)
def test_a_package_face_only_re_exports(path):
    package = module_name(path)
    body = [
        node for node in tree(path).body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    imports = [node for node in body if isinstance(node, ast.ImportFrom)]
    assert all(node.module and node.module.startswith(package + ".") for node in imports)
    exported = {alias.asname or alias.name for node in imports for alias in node.names}
    (names,) = [node for node in body if isinstance(node, ast.Assign)]
    assert [t.id for t in names.targets if isinstance(t, ast.Name)] == ["__all__"]
    assert set(ast.literal_eval(names.value)) == exported
    assert len(body) == len(imports) + 1, "nothing but imports and __all__"


def package_reaches(start: str, target: str) -> list[str] | None:
    """An import chain from any module of package ``start`` to any module of package ``target``."""
    graph = local_graph()
    for module in sorted(m for m in graph if m == start or m.startswith(start + ".")):
        seen = {module}
        todo = [[module]]
        while todo:
            chain = todo.pop(0)
            for nxt in sorted(graph.get(chain[-1], ())):
                if nxt == target or nxt.startswith(target + "."):
                    return [*chain, nxt]
                if nxt in graph and nxt not in seen:
                    seen.add(nxt)
                    todo.append([*chain, nxt])
    return None


def test_amazon_never_imports_the_importer():
    """bot.importing reads what bot.amazon reads; the sync is given the importer, so the two
    packages never import each other both ways (the old importing <-> returns cycle)."""
    assert package_reaches("bot.importing", "bot.amazon") is not None  # guards the scanner
    assert package_reaches("bot.amazon", "bot.importing") is None, package_reaches("bot.amazon", "bot.importing")


@pytest.mark.parametrize(
    ("what", "defined_in"),
    [("InvoiceUnconfirmed", "bot/amazon/model.py"),  # Amazon's statuses as goods states
     ("[0-9]{3}-[0-9]{7}-[0-9]{7}", "bot/domain.py")],  # an Amazon order id
)  # fmt: skip
def test_amazons_statuses_and_the_order_id_are_written_once(what, defined_in):
    found = sorted({rel(p) for p in BOT for _line, text in string_literals(p) if what in text})
    assert found == [defined_in]


def test_money_is_read_by_one_number_grammar():
    """Digit groups and decimal marks are read in bot/amounts.py alone: the chat's amounts
    (bot/parsing.py) and the files' money cells (bot/amazon/cells.py) both call it."""
    readers = sorted(rel(p) for p in BOT if any(isinstance(node, ast.FunctionDef) and node.name == "read_number"
                                               for node in ast.walk(tree(p))))  # fmt: skip
    assert readers == ["bot/amounts.py"]
    for user in ("parsing.py", "amazon/cells.py"):
        assert "bot.amounts.read_number" in imports_of(ROOT / "bot" / user), user


def test_amazons_tables_are_reached_through_the_stores_public_methods():
    used = {node.attr for node in ast.walk(tree(ROOT / "bot" / "amazon" / "accounts.py"))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "store"}  # fmt: skip
    assert used and used <= {"fetchall", "fetchone", "transaction"}, used


# ---------------------------------------------------------------------------------------
# No SQL at the edge


SQL = [
    re.compile(r"\bSELECT\b[\s\S]*\bFROM\b"),
    re.compile(r"\bINSERT\s+(OR\s+\w+\s+)?INTO\b"),
    re.compile(r"\bUPDATE\s+\w+\s+SET\b"),
    re.compile(r"\bDELETE\s+FROM\b"),
    re.compile(r"\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW)\b"),
    re.compile(r"\bPRAGMA\s+\w+"),
    # lower-case SQL is still SQL; prose rarely has this exact shape
    re.compile(r"(?i)\binsert\s+into\s+\w+\s*\("),
    re.compile(r"(?i)\bdelete\s+from\s+\w+\s+where\b"),
    re.compile(r"(?i)\bupdate\s+\w+\s+set\s+\w+\s*="),
    re.compile(r"(?i)\bselect\s+[\w\s,*().]+?\s+from\s+\w+\s+(where|order\s+by|group\s+by|limit|join)\b"),
]


def looks_like_sql(text: str) -> bool:
    return any(p.search(text) for p in SQL)


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("SELECT order_id FROM orders WHERE team_id = ?", True),
        ("select goods from orders where order_id = ?", True),
        ("INSERT INTO events (team_id) VALUES (?)", True),
        ("UPDATE orders SET goods = ? WHERE order_id = ?", True),
        ("update orders set goods = 'shipped'", True),
        ("DELETE FROM confirmations", True),
        ("delete from confirmations where token = ?", True),
        ("Select an order from the list, then update the tracking number.", False),
        ("Refunds never exceed the order total; delete the draft from your phone.", False),
        ("Order {order} shipped via {carrier}.", False),
    ],
)
def test_the_sql_detector_tells_sql_from_sentences(text, sql):
    assert looks_like_sql(text) is sql


@pytest.mark.parametrize("path", HANDLERS, ids=rel)
def test_handlers_hold_no_sql(path):
    found = [(line, text) for line, text in string_literals(path) if looks_like_sql(text)]
    assert found == []


#: The storage layer's SQL outside the storage package: Amazon's own tables (a team's Selling
#: Partner API connection, shipments to confirm), on the same connections.
STORAGE_MODULES = {ROOT / "bot" / "amazon" / "accounts.py"}


@pytest.mark.parametrize(
    "path", [p for p in BOT if not p.is_relative_to(STORAGE) and p not in STORAGE_MODULES], ids=rel
)
def test_only_storage_holds_sql_in_the_core(path):
    found = [(line, text) for line, text in string_literals(path) if looks_like_sql(text)]
    assert found == []


@pytest.mark.parametrize("path", HANDLERS, ids=rel)
def test_handlers_use_the_stores_methods_not_its_connection(path):
    raw = {"execute", "executemany", "executescript", "transaction", "reader", "cursor", "commit",
           "rollback", "_writer", "_reader", "_fetchall", "_fetchone"}  # fmt: skip
    used = {(node.lineno, node.attr) for node in ast.walk(tree(path)) if isinstance(node, ast.Attribute)
            and node.attr in raw}  # fmt: skip
    assert used == set()


# ---------------------------------------------------------------------------------------
# No import-time side effects


IMPORT_EVERYTHING = r"""
import importlib, json, os, pkgutil, sys, threading
root = sys.argv[1]
sys.path.insert(0, root)
events = []

def audit(event, args):
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            return
        path = os.path.abspath(os.fsdecode(path))
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            flags is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND))
        events.append(["open", path, "w" if writing else "r"])
    elif event.startswith(("socket.", "sqlite3.", "subprocess.", "os.system", "os.exec", "os.fork",
                           "os.spawn", "os.posix_spawn", "os.remove", "os.rename", "os.mkdir",
                           "os.truncate", "os.chmod", "shutil.", "urllib.", "http.", "ftplib.",
                           "smtplib.", "webbrowser.")):
        events.append([event, repr(args)[:200], ""])

sys.addaudithook(audit)
import bot.app, handlers
names = []
for package in ("bot", "handlers"):
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if info.name.endswith(".__main__"):  # running it is its purpose
            continue
        importlib.import_module(info.name)
        names.append(info.name)
print(json.dumps({
    "events": events,
    "modules": names,
    "threads": [t.name for t in threading.enumerate()],
    "prefixes": sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}),
}))
"""


@pytest.fixture(scope="module")
def bare_import(tmp_path_factory) -> tuple[dict, Path]:
    """Import every module in a fresh interpreter: no token, no settings, nothing but PATH."""
    cwd = tmp_path_factory.mktemp("bare")
    done = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT_EVERYTHING, str(ROOT)],
        cwd=cwd,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), cwd


def test_every_module_imports_without_a_token(bare_import):
    report, _ = bare_import
    expected = {module_name(p) for p in BOT + HANDLERS if p.name != "__main__.py"}
    expected -= {"bot", "handlers"}
    assert expected <= set(report["modules"])


def test_importing_opens_no_socket_and_no_database(bare_import):
    report, _ = bare_import
    assert [e for e in report["events"] if e[0] != "open"] == []


def test_importing_writes_no_file_and_reads_nothing_of_ours_but_code(bare_import):
    report, cwd = bare_import
    opened = [(path, how) for kind, path, how in report["events"] if kind == "open"]
    assert [path for path, how in opened if how == "w"] == []
    libraries = (*report["prefixes"], "/usr/share/zoneinfo/")
    # A virtual environment inside the checkout (as CI makes it) holds libraries, not ours.
    ours = [
        p for p, _ in opened if p.startswith(str(ROOT) + "/") and not p.startswith(libraries) and ".egg-info/" not in p
    ]  # package metadata of an editable install
    assert [p for p in ours if not p.endswith((".py", ".pyc")) and not Path(p).is_dir()] == [], (
        "catalogs, migrations and settings are read when the app starts, not on import"
    )
    # python-telegram-bot loads UTC from the system time-zone database when imported.
    elsewhere = [p for p, _ in opened if not p.startswith(str(ROOT) + "/") and not p.startswith(libraries)]
    assert elsewhere == []
    assert list(cwd.iterdir()) == [], "no database or log file appears where the bot was imported"


def test_importing_starts_no_thread(bare_import):
    report, _ = bare_import
    assert report["threads"] == ["MainThread"]

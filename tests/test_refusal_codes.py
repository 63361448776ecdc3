"""Refusal codes are a type: each has its sentence in every language, and none is a bare string.

A person is told why something was not done in a sentence with its advice
(``bot.texts.refusals``), never by its code; so is a team about a row of a report that was
not applied. The codes are the members of the enums in ``bot.refusal_codes``, the
sentences are in one registry per kind (``REFUSALS``, ``ROW_ERRORS``), and these tests
make a missing or untranslated sentence, or a code written as a loose string, fail here
rather than show up in a chat.
"""

from __future__ import annotations

import ast
import string
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot import i18n, lifecycle
from bot.amazon import RowError
from bot.domain import Refusal
from bot.importing.returns import ROW_ERROR_FOR
from bot.refusal_codes import REFUSAL_ENUMS, FileCode, LookupCode, RowErrorCode
from bot.texts.refusals import REFUSALS, ROW_ERRORS, refusal, row_error

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "handlers").rglob("*.py"))
#: Where the codes are defined and given their sentences: not where they are used.
DEFINITIONS = {ROOT / "bot" / "refusal_codes.py", ROOT / "bot" / "texts" / "refusals.py"}
CODE_ENUMS: dict[str, type[StrEnum]] = {e.__name__: e for e in (*REFUSAL_ENUMS, RowErrorCode)}
REFUSAL_CODES = [member for enum in REFUSAL_ENUMS for member in enum]
ROW_ERROR_CODES = list(RowErrorCode)
#: The calls that take a code: ``Refusal(code, **params)``, ``BadRow(code, **params)``,
#: ``RowError(line, code, params)``; the position of the code in each.
CODE_ARGUMENT = {"Refusal": 0, "BadRow": 0, "RowError": 1}
#: Parameters given to a refusal after it was raised, whatever its code (``params.setdefault``),
#: and why. Reviewed by hand: a new one fails test_parameters_added_later_are_the_known_ones.
ADDED_LATER = {
    "order": "bot/lifecycle.py: a guard's refusal names the order it refused",
    "team": "handlers/amazon.py: a refusal of the sync names the team",
}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def code_id(code: StrEnum) -> str:
    return f"{type(code).__name__}.{code.name}"


def key(code: StrEnum) -> tuple[type[StrEnum], str]:
    """A code told from its namesake in another enum: members are strings, so
    ``RefundCode.bad_amount == RowErrorCode.bad_amount`` and they hash alike."""
    return type(code), code.value


# --- every member has a sentence, translated in every catalog ------------------------


def test_a_code_is_its_own_string_and_is_written_once() -> None:
    # The name is the value, so a member hashes, compares and logs like the string it was.
    for member in [*REFUSAL_CODES, *ROW_ERROR_CODES]:
        assert member.name == member.value, code_id(member)
    values = [member.value for member in REFUSAL_CODES]
    assert len(values) == len(set(values)), sorted(v for v in values if values.count(v) > 1)


@pytest.mark.parametrize("code", REFUSAL_CODES, ids=code_id)
def test_every_refusal_code_has_a_sentence(code: StrEnum) -> None:
    assert code in REFUSALS, f"{code_id(code)} has no sentence in bot/texts/refusals.py REFUSALS"


@pytest.mark.parametrize("code", ROW_ERROR_CODES, ids=code_id)
def test_every_row_error_code_has_a_sentence(code: RowErrorCode) -> None:
    assert code in ROW_ERRORS, f"{code_id(code)} has no sentence in bot/texts/refusals.py ROW_ERRORS"


def test_the_registries_are_keyed_by_the_members_and_hold_nothing_else() -> None:
    assert all(isinstance(code, REFUSAL_ENUMS) for code in REFUSALS), [c for c in REFUSALS if type(c) is str]
    assert all(type(code) is RowErrorCode for code in ROW_ERRORS), [c for c in ROW_ERRORS if type(c) is str]
    assert len(REFUSALS) == len(REFUSAL_CODES)
    assert len(ROW_ERRORS) == len(ROW_ERROR_CODES)


@cache
def catalog(locale: str) -> Catalog:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


@pytest.mark.parametrize("locale", i18n.LOCALES)
@pytest.mark.parametrize(("registry", "sentences"), [("REFUSALS", REFUSALS), ("ROW_ERRORS", ROW_ERRORS)])
def test_every_sentence_is_translated_in_every_catalog(locale: str, registry: str, sentences: dict) -> None:
    problems = []
    for code, sentence in sentences.items():
        message = catalog(locale).get(sentence)
        if message is None:
            problems.append(f"{code_id(code)}: not in the catalog (run python tools/catalogs.py)")
        elif not (isinstance(message.string, str) and message.string.strip()):
            problems.append(f"{code_id(code)}: not translated")
    assert not problems, f"{locale}, {registry}:\n" + "\n".join(problems)


def test_the_codes_import_nothing_of_the_app() -> None:
    # The domain and the lifecycle lean on them (tests/test_lifecycle.py allows it for that).
    module = ast.parse((ROOT / "bot" / "refusal_codes.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(module) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(module) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "enum", "typing"}, imported


# --- no code is a loose string --------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """Where a code is given (or, with ``code`` None, a code chosen at run time) and with which parameters."""

    path: Path
    line: int
    code: StrEnum | None
    params: frozenset[str]


def aliases(module: ast.Module) -> dict[str, type[StrEnum]]:
    """The code enums by the names the module reads them under (``LC = LifecycleCode``)."""
    found = dict(CODE_ENUMS)
    for node in module.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in CODE_ENUMS:
            found.update({t.id: CODE_ENUMS[node.value.id] for t in node.targets if isinstance(t, ast.Name)})
    return found


def members(expr: ast.expr, enums: dict[str, type[StrEnum]]) -> list[StrEnum] | None:
    """The codes ``expr`` may be (``Enum.member``, or either side of an ``if``); None when computed."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in enums:
        return [enums[expr.value.id][expr.attr]]
    if isinstance(expr, ast.IfExp):
        body, orelse = members(expr.body, enums), members(expr.orelse, enums)
        return None if body is None or orelse is None else body + orelse
    return None


def strings(expr: ast.expr) -> Iterator[str]:
    """Loose strings where a code should be: a literal, an f-string, either side of an ``if``."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        yield expr.value
    elif isinstance(expr, ast.JoinedStr):
        yield ast.unparse(expr)
    elif isinstance(expr, ast.IfExp):
        yield from strings(expr.body)
        yield from strings(expr.orelse)
    elif isinstance(expr, ast.BoolOp):
        for value in expr.values:
            yield from strings(value)


def callee(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def code_argument(node: ast.Call) -> ast.expr | None:
    position = CODE_ARGUMENT[callee(node)]
    if len(node.args) > position and not isinstance(node.args[position], ast.Starred):
        return node.args[position]
    return next((kw.value for kw in node.keywords if kw.arg == "code"), None)


def dict_keys(expr: ast.expr | None) -> set[str]:
    if isinstance(expr, ast.Dict):
        return {k.value for k in expr.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return set()


@cache
def sites() -> tuple[Site, ...]:
    """Every place in bot/ and handlers/ that gives a refusal or a row error its code."""
    found = []
    for path in SOURCES:
        if path in DEFINITIONS:
            continue
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        enums = aliases(module)
        for node in ast.walk(module):
            if isinstance(node, ast.Call) and callee(node) in CODE_ARGUMENT:
                expr = code_argument(node)
                if expr is None:
                    continue
                params = {kw.arg for kw in node.keywords if kw.arg and kw.arg != "code"}
                if callee(node) == "RowError":
                    params = {"line"} | dict_keys(node.args[2] if len(node.args) > 2 else None)
                codes = members(expr, enums)
                for code in codes if codes is not None else [None]:
                    found.append(Site(path, node.lineno, code, frozenset(params)))
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                # fit_row: (RowErrorCode.short_row, {"expected": …, "got": …}) for RowError(line, *problem)
                codes = members(node.elts[0], enums)
                if codes and isinstance(node.elts[1], ast.Dict):
                    found.extend(Site(path, node.lineno, code, frozenset({"line"} | dict_keys(node.elts[1])))
                                 for code in codes)  # fmt: skip
    return tuple(found)


def test_the_scan_sees_the_codes_given() -> None:
    # The scan itself is checked: it finds the calls, through an alias too.
    coded = [s for s in sites() if s.code is not None]
    assert len(coded) > 130
    assert any(rel(s.path) == "bot/lifecycle.py" and s.code is lifecycle.LifecycleCode.not_allowed for s in coded)
    assert any(rel(s.path) == "bot/amazon/cells.py" and s.code is RowErrorCode.short_row for s in coded)


def test_no_refusal_or_row_error_is_given_a_bare_string() -> None:
    loose = []
    for path in SOURCES:
        if path in DEFINITIONS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Call) and callee(node) in CODE_ARGUMENT:
                expr = code_argument(node)
                if expr is not None:
                    loose += [f"{rel(path)}:{node.lineno}: {callee(node)}({text!r}…)" for text in strings(expr)]
    assert not loose, "codes are members of the enums in bot/refusal_codes.py:\n" + "\n".join(loose)


def references(enums_in: dict[str, type[StrEnum]], module: ast.Module) -> Iterator[StrEnum]:
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in enums_in:
            enum = enums_in[node.value.id]
            if node.attr in enum.__members__:
                yield enum[node.attr]


def test_every_code_is_used_somewhere() -> None:
    # A code nothing gives is a sentence nobody reads: remove both.
    used: set[tuple[type[StrEnum], str]] = set()
    for path in SOURCES:
        if path not in DEFINITIONS:
            module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            used.update(map(key, references(aliases(module), module)))
    unused = [code_id(c) for c in [*REFUSAL_CODES, *ROW_ERROR_CODES] if key(c) not in used]
    assert not unused, unused


# --- each sentence asks only for parameters its code is given -------------------------


def test_parameters_added_later_are_the_known_ones() -> None:
    added: dict[str, list[str]] = defaultdict(list)
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "params"
                    and node.args and isinstance(node.args[0], ast.Constant)):  # fmt: skip
                added[str(node.args[0].value)].append(f"{rel(path)}:{node.lineno}")
    assert set(added) == set(ADDED_LATER), dict(added)


@cache
def parameters() -> dict[tuple[type[StrEnum], str], set[str]]:
    """The parameter names each code is given anywhere (a sentence may use any of them)."""
    given: dict[tuple[type[StrEnum], str], set[str]] = defaultdict(set)
    for site in sites():
        if site.code is not None:
            given[key(site.code)] |= site.params
        elif rel(site.path) == "bot/lifecycle.py":
            # refusal_for: the code comes from the lifecycle's table of refusals.
            for by_state in lifecycle.REFUSALS.values():
                for state_code in by_state.values():
                    given[key(state_code)] |= site.params
    for refusal_code_ in REFUSAL_CODES:
        given[key(refusal_code_)] |= set(ADDED_LATER)
    # A row error names its line; the returns importer reports the lifecycle's refusal of a
    # row as the row error that says so, with the refusal's parameters.
    for row_code in ROW_ERROR_CODES:
        given[key(row_code)].add("line")
    for refused, row in ROW_ERROR_FOR.items():
        given[key(row)] |= given[key(refused)]
    for names in given.values():
        if "currency" in names:
            names.add("currency_name")  # the renderer names the currency
    return given


def placeholders(sentence: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(sentence) if name}


@pytest.mark.parametrize(
    ("code", "sentence"), [pytest.param(c, s, id=code_id(c)) for c, s in [*REFUSALS.items(), *ROW_ERRORS.items()]]
)
def test_a_sentence_asks_only_for_what_its_code_is_given(code: StrEnum, sentence: str) -> None:
    given = parameters()[key(code)]
    missing = placeholders(sentence) - given
    assert not missing, f"{code_id(code)}: the sentence asks for {sorted(missing)}, given {sorted(given)}"


# --- what a person sees ------------------------------------------------------------------


def test_a_string_is_taken_as_its_member_and_a_stranger_is_refused() -> None:
    # As written before the enums (and in older tests): the type says member, a string still works.
    by_string = Refusal("unknown_order", ref="6689831")  # type: ignore[arg-type]
    assert by_string.code is LookupCode.unknown_order
    assert by_string == Refusal(LookupCode.unknown_order, ref="6689831")
    assert repr(by_string) == "Refusal('unknown_order', {'ref': '6689831'})"
    with pytest.raises(ValueError, match="is not a refusal code"):
        Refusal("no_such_code")  # type: ignore[arg-type]


def test_a_code_without_a_sentence_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(REFUSALS, FileCode.file_empty)
    monkeypatch.delitem(ROW_ERRORS, RowErrorCode.short_row)
    with i18n.using("en"):
        text = refusal(Refusal(FileCode.file_empty))
        line = row_error(RowError(7, RowErrorCode.short_row, {"expected": 27, "got": 5}))
    assert "file_empty" not in text and text.startswith("Sorry, something went wrong")
    assert line == "line 7: skipped"

"""Which characters belong to one script only, from OpenCC's character tables.

OpenCC (``opencc-python-reimplemented`` ships its dictionaries as text) maps every
Simplified character to its Traditional forms (``STCharacters``), every Traditional one to
its Simplified forms (``TSCharacters``), and OpenCC's Traditional to Taiwan's standard forms
(``TWVariants``). A character is *Simplified-only* when it is a key of the S→T table but no
table ever gives it as a Traditional or a Taiwan form (发, 单, 货: yes; 干, 后, 台, 里, 群:
no, Taiwan writes them too). A character is *Traditional-only* when it is a Traditional or a
Taiwan form that no table gives as a Simplified form (發, 單, 裡, 羣: yes; 於, 著… only in
some senses, so no). Characters the same in both scripts are in neither set.

A curated list would miss characters nobody thought of; the tables cover all of them and are
kept by OpenCC. The languages' own names (简体中文 on a Traditional screen, the /lang buttons)
are shown as each language names itself, so they are left out before looking.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import opencc

from bot.i18n import LANGUAGE_NAMES

_DICTIONARY = Path(opencc.__file__).resolve().parent / "dictionary"


def _table(name: str) -> dict[str, list[str]]:
    table = {}
    for line in (_DICTIONARY / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, values = line.split("\t", 1)
            table[key] = values.split()
    return table


@cache
def only() -> dict[str, frozenset[str]]:
    """``{"zh_Hans": Simplified-only characters, "zh_Hant": Traditional-only characters}``."""
    st, ts, tw = _table("STCharacters.txt"), _table("TSCharacters.txt"), _table("TWVariants.txt")
    taiwan = {c for forms in tw.values() for c in forms}
    traditional_forms = {c for forms in st.values() for c in forms} | taiwan | set(ts)
    simplified_forms = {c for forms in ts.values() for c in forms} | set(st)
    return {
        "zh_Hans": frozenset(c for c in st if len(c) == 1) - traditional_forms,
        "zh_Hant": frozenset({c for c in ts if len(c) == 1} | taiwan) - simplified_forms,
    }


def foreign(text: str, locale: str) -> list[str]:
    """The characters of ``text`` that belong only to the other Chinese script than ``locale``'s."""
    other = only()["zh_Hant" if locale == "zh_Hans" else "zh_Hans"]
    for name in LANGUAGE_NAMES.values():
        text = text.replace(name, "")
    return [c for c in text if c in other]


@cache
def not_taiwan() -> dict[str, str]:
    """Traditional forms Taiwan writes otherwise (OpenCC's TWVariants): 裏 → 裡, 着 → 著, 羣 → 群."""
    return {key: forms[0] for key, forms in _table("TWVariants.txt").items() if len(key) == 1}

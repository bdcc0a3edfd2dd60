"""Skip regular expressions that cannot match: a literal prefilter for rule lists (docs/performance.md).

`required_literals(pattern)` reads the parsed pattern and returns a set of strings such that every
match of the pattern contains at least one of them, or None when it cannot tell (the rule then always
runs). `Gate` puts the literals of many rules into one Aho-Corasick automaton, so a single pass over a
message says which rules are worth running. The answer is exact by construction: a skipped rule is
one that has no match in the text.
"""
from __future__ import annotations

import re
from re import _constants as c  # the parser's node codes
from re import _parser

import ahocorasick

_REPEATS = {c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT}
_ZERO_WIDTH = {c.AT, c.ASSERT, c.ASSERT_NOT}
_SMALL_CLASS = 8
_MAX_PRODUCT = 256  # adjacent exact pieces are joined ("(kill|hang) myself") while the set stays small


def _best(options: list[frozenset[str]]) -> frozenset[str] | None:
    """Of several sets that are each required, the most selective: longest shortest literal, then fewest."""
    options = [o for o in options if o and "" not in o]
    if not options:
        return None
    return max(options, key=lambda s: (min(map(len, s)), -len(s)))


def _sequence(items) -> tuple[frozenset[str] | None, bool]:
    """(required literals, exact): exact means the sequence matches exactly one of the literals."""
    options: list[frozenset[str]] = []
    run: set[str] = {""}
    exact = True
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue  # anchors and look-arounds consume nothing: neighbours still join
        if op is c.LITERAL:
            found, node_exact = frozenset({chr(av)}), True
        else:
            found, node_exact = _node(op, av)
        if node_exact and found is not None and len(run) * len(found) <= _MAX_PRODUCT:
            run = {a + b for a in run for b in found}
            continue
        options.append(frozenset(run))
        run = {""}
        exact = False
        if node_exact and found is not None:
            run = set(found)  # too many to join: this piece starts the next run
        elif found:
            options.append(found)
    options.append(frozenset(run))
    if exact:
        return frozenset(run), True
    return _best(options), False


def _node(op, av) -> tuple[frozenset[str] | None, bool]:
    if op is c.BRANCH:
        union: set[str] = set()
        exact = True
        for branch in av[1]:
            found, branch_exact = _sequence(branch)
            if not found:
                return None, False  # one branch with no requirement: the alternation has none
            union |= found
            exact = exact and branch_exact
        return frozenset(union), exact
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return (None, False) if add_flags & re.IGNORECASE else _sequence(sub)
    if op in _REPEATS:
        low, high, sub = av
        if low < 1:
            return None, False
        found, exact = _sequence(sub)
        return found, exact and low == high == 1
    if op is c.IN and 0 < len(av) <= _SMALL_CLASS and all(kind is c.LITERAL for kind, _ in av):
        return frozenset(chr(code) for _, code in av), True
    return None, False  # any char, categories, back-references: no requirement


def required_literals(pattern: str) -> frozenset[str] | None:
    parsed = _parser.parse(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    found, _exact = _sequence(parsed)
    return found or None


class Gate:
    """Which of `patterns` could match a text, found in one pass."""

    def __init__(self, patterns: list[str]):
        required = [required_literals(pattern) for pattern in patterns]
        self.always = frozenset(i for i, literals in enumerate(required) if literals is None)
        owners: dict[str, set[int]] = {}
        for index, literals in enumerate(required):
            for literal in literals or ():
                owners.setdefault(literal, set()).add(index)
        self.automaton = ahocorasick.Automaton()
        for literal, indices in owners.items():
            self.automaton.add_word(literal, frozenset(indices))
        if owners:
            self.automaton.make_automaton()
        self.empty = not owners

    def candidates(self, text: str) -> frozenset[int]:
        if self.empty:
            return self.always
        found = set(self.always)
        for _, indices in self.automaton.iter(text):
            found |= indices
        return frozenset(found)

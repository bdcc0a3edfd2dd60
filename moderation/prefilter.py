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
_SMALL_CLASS = 8


def _best(options: list[frozenset[str]]) -> frozenset[str] | None:
    """Of several sets that are each required, the most selective: longest shortest literal, then fewest."""
    if not options:
        return None
    return max(options, key=lambda s: (min(map(len, s)), -len(s)))


def _sequence(items) -> frozenset[str] | None:
    options, run = [], []
    for op, av in list(items) + [(None, None)]:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            options.append(frozenset({"".join(run)}))
            run = []
        if op is None:
            break
        found = _node(op, av)
        if found:
            options.append(found)
    return _best(options)


def _node(op, av) -> frozenset[str] | None:
    if op is c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            found = _sequence(branch)
            if not found:
                return None  # one branch with no requirement: the alternation has none
            union |= found
        return frozenset(union)
    if op is c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = av
        return None if add_flags & re.IGNORECASE else _sequence(sub)
    if op in _REPEATS:
        low, _high, sub = av
        return _sequence(sub) if low >= 1 else None
    if op is c.IN and 0 < len(av) <= _SMALL_CLASS and all(kind is c.LITERAL for kind, _ in av):
        return frozenset(chr(code) for _, code in av)
    return None  # any char, categories, anchors, look-arounds, back-references: no requirement


def required_literals(pattern: str) -> frozenset[str] | None:
    parsed = _parser.parse(pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None
    return _sequence(parsed)


class Gate:
    """Which of `patterns` could match a text, found in one pass."""

    def __init__(self, patterns: list[str]):
        self.always = frozenset(i for i, p in enumerate(patterns) if required_literals(p) is None)
        owners: dict[str, set[int]] = {}
        for index, pattern in enumerate(patterns):
            for literal in required_literals(pattern) or ():
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

"""Prompt templates in the syntax of dynamicprompts: parse, count, and expand them, always within bounds.

    {a|b|c}            one option                 {0.5::a|2::b|c}    weighted (random picks only)
    {2$$a|b|c}         two distinct options       {2$$ and $$a|b|c}  joined by " and " (default ", ")
    {1-3$$a|b|c}       one to three ({-2$$…} = 1-2, {2-$$…} = 2 to all; {|a} has an empty option)
    __colours__        one entry of the caller's list "colours"; __colours*__ draws from every matching list
    ${v=value}         defines v, evaluated again at each use; ${v=!value} evaluated once, where defined
    ${v}  ${v:dflt}    uses v; undefined there, v is an *input* the caller fills in (or the default applies)
    \\{ \\} \\| \\$ \\_    the literal character

Where the syntax leaves room, these are the rules:
- Text is kept exactly, whitespace included; `|`, `$` and `__` that start nothing are plain text outside { }.
- {k$$…} picks distinct options and writes them in option order; k is cut to the number of options, and a
  random pick draws k evenly from the range. {k$$__list__}, a variant whose only option is a wildcard, picks
  among the list's entries. Weights steer random picks only; a combination uses each option once.
- List entries and the values a caller gives are templates themselves (a value without syntax is plain
  text). A glob's `*` stays within one path segment, `**` crosses `/`; matching lists are used in name
  order, their entries one after another. Duplicate entries are kept (they weigh a random pick).
- Variables are defined only at the top level of the prompt. A value sees the variables defined before it,
  so `${a={${a}|b}}` extends an earlier a. A template's own definition wins over a value the caller gives.
- count() counts combinations, not distinct strings: options multiply, {k$$…} sums over its subsets the
  product of the members' counts (C(n, k) for plain options), a range sums over k, a wildcard sums its
  entries' counts. A non-immediate variable counts again at each use, an immediate one once where it is
  defined; an input counts its given value or its default at each use, and 1 when it has neither.
- expand_all lists combinations in a stable order (earlier parts vary slowest); expand_random's pick j is
  expand_random(seed=seed + j, n=1), so a job can store its own pick seed.

Bounded: the text (MAX_TEMPLATE_CHARS), nesting, options per { }, lists and variables within one another
(10 deep, which also stops a list that uses itself), the length of one prompt, and the work of one expansion
are all capped; count() is arithmetic, so a template of billions of combinations is counted at once.
Errors are TemplateError (a ValueError) whose message says where; TooMany refuses a cap before expanding.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

MAX_TEMPLATE_CHARS = 4000
MAX_COMBINATIONS = 10_000  # the most expand_all lists, and the most picks expand_random makes, in one call
_MAX_OUTPUT_CHARS = 10_000  # one expanded prompt
_MAX_TOTAL_CHARS = 20_000_000  # all the prompts of one call together
_MAX_NESTING = 10  # { } and ${ } inside one another, within one text
_MAX_OPTIONS = 1000  # in one { }, the entries of a {k$$__list__} included
_MAX_DEPTH = 10  # lists and variables resolved inside one another
_MAX_STEPS = 100_000  # parts visited by one expansion
_MAX_TOTAL_STEPS = 3_000_000  # by one call: a few seconds at worst
_MAX_WEIGHT = 1_000_000.0
# beyond it a count is refused: variables that multiply each other could otherwise fill the memory
_MAX_COUNT = 10**1000
_SEPARATOR = ", "
_ESCAPED = frozenset("{}|$_")
_NAME = r"[A-Za-z0-9*/-][A-Za-z0-9_*/-]*?"
_WILDCARD = re.compile(rf"__({_NAME})__")
_SYNTAX = re.compile(rf"[{{}}]|\$\{{|\\[{{}}|$_]|__{_NAME}__")
_VARIABLE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)\s*")
_BOUND = re.compile(r"\s*(\d*)\s*(-?)\s*(\d*)\s*\$\$")
_CUSTOM_SEPARATOR = re.compile(r"([^${}\\]*)\$\$")
_WEIGHT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*::")
_BAD_COUNT = "a $$ count goes first in { } and is a number or a range, like {2$$a|b|c} or {1-3$$a|b|c},"


class TemplateError(ValueError):
    """The template cannot be parsed or expanded; the message says where, `position` is 0-based."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


class TooMany(TemplateError):
    """More combinations than the caller's cap, refused before any is expanded."""

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(f"This template makes {count:,} combinations; at most {cap:,} can be listed.", 0)
        self.count = count
        self.cap = cap


@dataclass(frozen=True)
class Variable:
    """An input of a template: the caller fills it in; `default` is None when it must."""

    name: str
    default: str | None


# --- the parsed form: nodes compare by identity, so they key the counting memo cheaply


@dataclass(frozen=True, eq=False)
class _Text:
    text: str
    pos: int


@dataclass(frozen=True, eq=False)
class _Seq:
    parts: tuple[_Part, ...]


@dataclass(frozen=True, eq=False)
class _Option:
    weight: float
    body: _Seq


@dataclass(frozen=True, eq=False)
class _Variant:
    options: tuple[_Option, ...]
    low: int
    high: int | None  # None: as many as there are options
    separator: str
    pos: int


@dataclass(frozen=True, eq=False)
class _Wildcard:
    name: str
    pos: int


@dataclass(frozen=True, eq=False)
class _Use:
    name: str
    default: _Seq | None
    default_text: str | None
    pos: int


@dataclass(frozen=True, eq=False)
class _Define:
    name: str
    value: _Seq
    immediate: bool
    pos: int


_Part: TypeAlias = _Text | _Variant | _Wildcard | _Use | _Define


@dataclass(frozen=True)
class Template:
    """A parsed template; equal when the text is."""

    text: str
    _root: _Seq = field(repr=False, compare=False)


class _Problem(Exception):
    """An error on its way out: `pos` is relative to the text it arose in until `absolute`."""

    def __init__(self, reason: str, pos: int, *, placed: bool = False, absolute: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.pos = reason, pos
        self.placed = placed  # the reason needs no location inside nested texts
        self.absolute = absolute  # pos is in the template's own text already

    def used_at(self, label: str, text: str, site: int) -> _Problem:
        if self.absolute:
            return self
        reason = self.reason if self.placed else f"{self.reason} {_at(text, self.pos)} in {label}, used"
        return _Problem(reason, site, placed=self.placed)


def _at(text: str, pos: int) -> str:
    column = pos - text.rfind("\n", 0, pos)
    if "\n" not in text:
        return f"at column {column}"
    return f"at line {text.count(chr(10), 0, pos) + 1}, column {column}"


def _missing(use: _Use) -> _Problem:
    return _Problem(f"no value for ${{{use.name}}} (fill it in, or write ${{{use.name}:default}})", use.pos)


def _public(text: str, problem: _Problem) -> TemplateError:
    reason = problem.reason if problem.absolute else f"{problem.reason} {_at(text, problem.pos)}"
    return TemplateError(reason, problem.pos)


# --- parsing

_TOP, _OPTION, _BRACED = range(3)


class _Parser:
    def __init__(self, text: str, *, defines: bool) -> None:
        self.text, self.i, self.defines = text, 0, defines

    def template(self) -> _Seq:
        if len(self.text) > MAX_TEMPLATE_CHARS:
            raise _Problem(f"the text is longer than {MAX_TEMPLATE_CHARS:,} characters", MAX_TEMPLATE_CHARS)
        return self.sequence(_TOP, 0)

    def sequence(self, context: int, depth: int) -> _Seq:
        text, parts, literal, start = self.text, list[_Part](), list[str](), self.i
        while self.i < len(text):
            char, after = text[self.i], text[self.i + 1 : self.i + 2]
            if char == "}" and context == _TOP:
                raise _Problem("unmatched } (write \\} for a brace)", self.i)
            if char == "}" or (char == "|" and context == _OPTION):
                break
            if char == "$" and after == "$" and context == _OPTION:
                raise _Problem(_BAD_COUNT, self.i)
            wildcard = _WILDCARD.match(text, self.i) if char == "_" else None
            if char in "{_$" and (char != "_" or wildcard) and (char != "$" or after == "{"):
                if literal:
                    parts.append(_Text("".join(literal), start))
                    literal.clear()
                if wildcard:
                    parts.append(_Wildcard(wildcard[1], self.i))
                    self.i = wildcard.end()
                elif char == "{":
                    parts.append(self.variant(depth + 1))
                else:
                    parts.append(self.variable(depth + 1, context))
                continue
            if not literal:
                start = self.i
            escaped = char == "\\" and after in _ESCAPED and after != ""
            literal.append(after if escaped else char)
            self.i += 2 if escaped else 1
        if literal:
            parts.append(_Text("".join(literal), start))
        return _Seq(tuple(parts))

    def variant(self, depth: int) -> _Variant:
        text, start = self.text, self.i
        if depth > _MAX_NESTING:
            raise _Problem(f"{{ }} and ${{ }} nest more than {_MAX_NESTING} deep", start)
        self.i += 1
        high: int | None
        low, high, separator = 1, 1, _SEPARATOR
        if bound := _BOUND.match(text, self.i):
            low, high = self.bounds(bound)
            self.i = bound.end()
            if custom := _CUSTOM_SEPARATOR.match(text, self.i):
                separator, self.i = custom[1], custom.end()
        options: list[_Option] = []
        while True:
            weight = 1.0
            if found := _WEIGHT.match(text, self.i):
                weight = float(found[1])
                if not weight <= _MAX_WEIGHT:
                    raise _Problem(f"a weight is at most {_MAX_WEIGHT:,.0f}", self.i)
                self.i = found.end()
            options.append(_Option(weight, self.sequence(_OPTION, depth)))
            if len(options) > _MAX_OPTIONS:
                raise _Problem(f"more than {_MAX_OPTIONS:,} options in the {{ }} opened", start)
            if self.i >= len(text):
                raise _Problem("unclosed { opened", start)
            self.i += 1
            if text[self.i - 1] == "}":
                return _Variant(tuple(options), low, high, separator, start)

    def bounds(self, bound: re.Match[str]) -> tuple[int, int | None]:
        low, dash, high = bound.groups()
        if not (low or high) or (not dash and not low):
            raise _Problem(_BAD_COUNT, bound.start())
        if not dash:
            return int(low), int(low)
        lowest, highest = int(low or 1), int(high) if high else None
        if highest is not None and lowest > highest:
            raise _Problem(f"the count {lowest}-{highest} runs backwards", bound.start())
        return lowest, highest

    def variable(self, depth: int, context: int) -> _Use | _Define:
        text, start = self.text, self.i
        if depth > _MAX_NESTING:
            raise _Problem(f"{{ }} and ${{ }} nest more than {_MAX_NESTING} deep", start)
        named = _VARIABLE.match(text, self.i + 2)
        if not named or not named[1]:
            raise _Problem("a variable name (letters, digits, _ or -) goes after ${", start)
        name, self.i = named[1], named.end()
        marker = text[self.i : self.i + 1]
        self.i += 1
        if marker == "}":
            return _Use(name, None, None, start)
        if marker == ":":
            at = self.i
            default = self.sequence(_BRACED, depth)
            self.close(start)
            return _Use(name, default, text[at : self.i - 1], start)
        if marker != "=":
            raise _Problem(f"=, : or }} goes after ${{{name}", self.i - 1)
        if context != _TOP or not self.defines:
            where = "{ }, ${ }, a list entry or a value"
            raise _Problem(
                f"${{{name}=…}} can be defined only at the top level of the prompt, not in {where},", start
            )
        immediate = text.startswith("!", self.i)
        self.i += immediate
        value = self.sequence(_BRACED, depth)
        self.close(start)
        return _Define(name, value, immediate, start)

    def close(self, start: int) -> None:
        if self.i >= len(self.text):
            raise _Problem("unclosed ${ opened", start)
        self.i += 1


# --- what the parts refer to: lists, values, scopes


@dataclass(eq=False)
class _Source:
    """A list entry or a caller's value: a text of its own, parsed when first needed."""

    label: str
    chain: str  # how it shows in a "nested too deep" message
    text: str
    parsed: _Seq | None = None

    def __post_init__(self) -> None:
        self.plain = len(self.text) <= MAX_TEMPLATE_CHARS and not has_syntax(self.text)


@dataclass(frozen=True, eq=False)
class _Choice:
    weight: float
    body: _Seq
    source: _Source | None  # None: an option written in place
    site: int


class _Scope:
    """The variables defined so far: one object per point of the prompt in every walk, so it keys the memo."""

    def __init__(self, names: Mapping[str, tuple[_Define, _Scope]]) -> None:
        self.names = names  # each with the scope its value is evaluated in
        self.after: dict[_Define, _Scope] = {}

    def bind(self, define: _Define) -> _Scope:
        if define not in self.after:
            self.after[define] = _Scope({**self.names, define.name: (define, self)})
        return self.after[define]


class _Run:
    """One call's lists, values and caches, and the way into nested texts."""

    def __init__(self, text: str, lists: Mapping[str, Sequence[str]], values: Mapping[str, str]) -> None:
        self.text, self.lists, self.values = text, lists, values
        self.start = _Scope({})
        self.resolved: dict[str, list[_Source]] = {}
        self.given: dict[str, _Source] = {}
        self.choices: dict[_Variant | _Wildcard, list[_Choice]] = {}
        self.weighed: dict[_Variant, tuple[list[float], list[float]]] = {}
        self.chain: list[str] = []

    def entries(self, wildcard: _Wildcard) -> list[_Source]:
        name = wildcard.name
        if name not in self.resolved:
            if "*" in name:
                pattern = re.compile(
                    "".join(
                        ".*" if piece == "**" else "[^/]*" if piece == "*" else re.escape(piece)
                        for piece in re.split(r"(\*\*|\*)", name)
                    )
                )
                names = sorted(key for key in self.lists if pattern.fullmatch(key))
                if not names:
                    raise _Problem(f"no list matches __{name}__", wildcard.pos)
            elif name in self.lists:
                names = [name]
            else:
                raise _Problem(f"unknown list __{name}__", wildcard.pos)
            self.resolved[name] = [
                _Source(f"entry {index} of __{found}__", f"__{found}__", entry)
                for found in names
                for index, entry in enumerate(self.lists[found], 1)
            ]
        if not self.resolved[name]:
            raise _Problem(f"the list __{name}__ is empty", wildcard.pos)
        return self.resolved[name]

    def options(self, node: _Variant | _Wildcard) -> list[_Choice]:
        if node not in self.choices:
            if isinstance(node, _Variant) and len(node.options) == 1 and _sole_wildcard(node.options[0]):
                inner = node.options[0].body.parts[0]
                assert isinstance(inner, _Wildcard)
                self.choices[node] = [_Choice(1.0, _Seq(()), s, inner.pos) for s in self.entries(inner)]
                if len(self.choices[node]) > _MAX_OPTIONS:
                    raise _Problem(f"more than {_MAX_OPTIONS:,} options in the {{ }} opened", node.pos)
            elif isinstance(node, _Variant):
                self.choices[node] = [_Choice(o.weight, o.body, None, node.pos) for o in node.options]
            else:
                self.choices[node] = [_Choice(1.0, _Seq(()), s, node.pos) for s in self.entries(node)]
        return self.choices[node]

    def weights(self, variant: _Variant) -> tuple[list[float], list[float]]:
        """The options' weights and their running totals (none when all weigh the same)."""
        if variant not in self.weighed:
            weights = [choice.weight for choice in self.options(variant)]
            sums = list(itertools.accumulate(weights)) if len(set(weights)) > 1 else []
            self.weighed[variant] = weights, sums
        return self.weighed[variant]

    def value(self, name: str) -> _Source | None:
        if name not in self.given and name in self.values:
            self.given[name] = _Source(f"the value of ${{{name}}}", f"${{{name}}}", self.values[name])
        return self.given.get(name)

    def within(self, source: _Source | None, site: int, depth: int) -> _Within:
        return _Within(self, source, site, depth)


def _sole_wildcard(option: _Option) -> bool:
    return len(option.body.parts) == 1 and isinstance(option.body.parts[0], _Wildcard)


class _Within:
    """Entering a nested text (a list entry, a value) or a variable's value: depth, chain and error places."""

    def __init__(self, run: _Run, source: _Source | None, site: int, depth: int, chain: str = "") -> None:
        self.run, self.source, self.site, self.depth, self.chain = run, source, site, depth, chain

    def __enter__(self) -> _Seq | None:
        label = self.source.chain if self.source else self.chain
        if self.depth >= _MAX_DEPTH:
            path = " → ".join([*self.run.chain, label][:4])
            reason = f"{path} → … nest more than {_MAX_DEPTH} deep (a list or value that uses itself?)"
            raise _Problem(reason, self.site, placed=True)
        if self.source and self.source.parsed is None:
            try:
                self.source.parsed = _Parser(self.source.text, defines=False).template()
            except _Problem as problem:
                raise problem.used_at(self.source.label, self.source.text, self.site) from None
        self.run.chain.append(label)
        return self.source.parsed if self.source else None

    def __exit__(self, *exc: object) -> None:
        self.run.chain.pop()
        error = exc[1]
        if isinstance(error, _Problem) and self.source:
            raise error.used_at(self.source.label, self.source.text, self.site) from None
        if isinstance(error, _Problem) and not error.absolute:  # a variable's value: in the prompt's own text
            reason = f"{error.reason} {_at(self.run.text, error.pos)}"
            raise _Problem(reason, error.pos, absolute=True) from None


# --- counting: memoised on (node, scope, depth), so shared parts are counted once


class _Counter:
    def __init__(self, run: _Run, *, strict: bool) -> None:
        self.run, self.strict = run, strict  # strict: an input without a value or default is an error
        self.memo: dict[tuple[object, _Scope, int], int] = {}
        self.lists: dict[tuple[object, _Scope, int], list[int]] = {}
        self.sums: dict[tuple[object, _Scope, int], list[int]] = {}
        self.tables: dict[tuple[object, _Scope, int], list[list[int]]] = {}

    def seq(self, seq: _Seq, scope: _Scope, depth: int) -> int:
        key = (seq, scope, depth)
        if key not in self.memo:
            total = 1
            for part in seq.parts:
                total = _bounded(total * self.part(part, scope, depth), part)
                if isinstance(part, _Define):
                    scope = scope.bind(part)
            self.memo[key] = total
        return self.memo[key]

    def part(self, part: _Part, scope: _Scope, depth: int) -> int:
        if isinstance(part, _Text):
            return 1
        if isinstance(part, _Define):
            return self.seq(part.value, scope, depth) if part.immediate else 1
        key = (part, scope, depth)
        if key not in self.memo:
            if isinstance(part, _Variant):
                self.memo[key] = self.variant(part, scope, depth)
            elif isinstance(part, _Wildcard):
                self.memo[key] = self.cumulative(part, scope, depth)[-1]
            else:
                self.memo[key] = self.use(part, scope, depth)
        return self.memo[key]

    def counts(self, node: _Variant | _Wildcard, scope: _Scope, depth: int) -> list[int]:
        key = (node, scope, depth)
        if key not in self.lists:
            self.lists[key] = [self.choice(c, scope, depth) for c in self.run.options(node)]
        return self.lists[key]

    def cumulative(self, node: _Variant | _Wildcard, scope: _Scope, depth: int) -> list[int]:
        key = (node, scope, depth)
        if key not in self.sums:
            total, sums = 0, []
            for each in self.counts(node, scope, depth):
                total += each
                sums.append(total)
            self.sums[key] = sums
            _bounded(total, node)
        return self.sums[key]

    def choice(self, choice: _Choice, scope: _Scope, depth: int) -> int:
        if choice.source is None:
            return self.seq(choice.body, scope, depth)
        if choice.source.plain:
            return 1
        with self.run.within(choice.source, choice.site, depth) as body:
            assert body is not None
            return self.seq(body, scope, depth + 1)

    def variant(self, variant: _Variant, scope: _Scope, depth: int) -> int:
        counts = self.counts(variant, scope, depth)
        low, high = _range(variant, len(counts))
        if all(each == 1 for each in counts):
            return _bounded(sum(math.comb(len(counts), k) for k in range(low, high + 1)), variant)
        ways = [1] + [0] * high  # ways[k]: the k-subsets so far, each weighted by its members' counts
        for each in counts:
            for k in range(high, 0, -1):
                ways[k] = min(ways[k] + each * ways[k - 1], _MAX_COUNT + 1)  # kept small, refused below
        return _bounded(sum(ways[low : high + 1]), variant)

    def table(self, variant: _Variant, scope: _Scope, depth: int) -> list[list[int]]:
        """ways[j][k]: the k-subsets of options j.., each weighted by its members' counts (count <= cap)."""
        key = (variant, scope, depth)
        if key not in self.tables:
            counts = self.counts(variant, scope, depth)
            high = _range(variant, len(counts))[1]
            ways = [[1] + [0] * high for _ in range(len(counts) + 1)]
            for j in range(len(counts) - 1, -1, -1):
                for k in range(1, high + 1):
                    ways[j][k] = ways[j + 1][k] + counts[j] * ways[j + 1][k - 1]
            self.tables[key] = ways
        return self.tables[key]

    def use(self, use: _Use, scope: _Scope, depth: int) -> int:
        if bound := scope.names.get(use.name):
            define, home = bound
            if define.immediate:
                return 1
            with _Within(self.run, None, use.pos, depth, f"${{{use.name}}}"):
                return self.seq(define.value, home, depth + 1)
        if value := self.run.value(use.name):
            with self.run.within(value, use.pos, depth) as body:
                assert body is not None
                return self.seq(body, scope, depth + 1)
        if use.default is not None:
            return self.seq(use.default, scope, depth)
        if self.strict:
            raise _missing(use)
        return 1


def _first_above(sums: Sequence[float], target: float) -> int:
    """The first index whose running total passes the target (binary search)."""
    low, high = 0, len(sums) - 1
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if sums[middle] <= target else (low, middle)
    return low


def _bounded(total: int, part: _Part) -> int:
    if total > _MAX_COUNT:
        raise _Problem("the template makes more than 10^1000 combinations", part.pos)
    return total


def _range(variant: _Variant, n: int) -> tuple[int, int]:
    high = n if variant.high is None else min(variant.high, n)
    return min(variant.low, high), high


# --- expanding: one combination by its index (expand_all), or by random picks (expand_random)


class _Random:
    """SplitMix64 seeded through BLAKE2: small, and the same picks on every Python version."""

    def __init__(self, seed: int) -> None:
        self.state = int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=8).digest(), "big")

    def bits(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        width = (n - 1).bit_length()
        while width:
            value = 0
            for _ in range((width + 63) // 64):
                value = (value << 64) | self.bits()
            value >>= -width % 64
            if value < n:
                return value
        return 0

    def pick(self, weights: Sequence[float], sums: Sequence[float], k: int) -> list[int]:
        """k distinct indices, as if drawn one by one in proportion to the weights left, in index order.

        `sums` are the running totals of the weights, or empty when the weights are all the same.
        """
        if k == 1 and sums and sums[-1] > 0:
            return [_first_above(sums, (self.bits() >> 11) / 2**53 * sums[-1])]
        indices = list(range(len(weights)))
        if not sums or sums[-1] <= 0:  # evenly: a partial Fisher-Yates shuffle
            for i in range(k):
                j = i + self.below(len(indices) - i)
                indices[i], indices[j] = indices[j], indices[i]
            return sorted(indices[:k])

        def key(index: int) -> tuple[bool, float]:  # Efraimidis-Spirakis; weight 0 goes last
            draw = ((self.bits() >> 11) + 1) / 2**53
            weight = weights[index]
            return (weight > 0, math.log(draw) / weight if weight > 0 else draw)

        keys = {index: key(index) for index in indices}
        return sorted(sorted(indices, key=keys.__getitem__, reverse=True)[:k])


class _Buffer:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def add(self, text: str, pos: int) -> None:
        self.length += len(text)
        if self.length > _MAX_OUTPUT_CHARS:
            raise _Problem(f"the prompt comes out longer than {_MAX_OUTPUT_CHARS:,} characters", pos)
        self.parts.append(text)


class _Expander:
    def __init__(self, run: _Run, counter: _Counter) -> None:
        self.run, self.counter = run, counter
        self.random = _Random(0)
        self.fixed: dict[_Define, str] = {}
        self.steps = self.total_steps = self.total_chars = 0

    def one(self, root: _Seq, index: int | None, seed: int = 0) -> str:
        """Combination `index`, or (None) random picks from `seed`."""
        self.random, self.fixed, self.steps, out = _Random(seed), {}, 0, _Buffer()
        self.seq(root, self.run.start, 0, index, out)
        self.total_chars += out.length
        if self.total_chars > _MAX_TOTAL_CHARS:
            raise _Problem(f"the prompts come out longer than {_MAX_TOTAL_CHARS:,} characters together", 0)
        return "".join(out.parts)

    def seq(self, seq: _Seq, scope: _Scope, depth: int, index: int | None, out: _Buffer) -> None:
        scopes, counts = [], []
        for part in seq.parts:
            scopes.append(scope)
            counts.append(1 if index is None else self.counter.part(part, scope, depth))
            if isinstance(part, _Define):
                scope = scope.bind(part)
        rest = math.prod(counts)
        for part, here, each in zip(seq.parts, scopes, counts, strict=True):
            rest //= each
            digit = None if index is None else index // rest % each  # earlier parts vary slowest
            self.part(part, here, depth, digit, out)

    def charge(self, steps: int, pos: int) -> None:
        self.steps += steps
        self.total_steps += steps
        if self.steps > _MAX_STEPS or self.total_steps > _MAX_TOTAL_STEPS:
            reason = "expanding this takes too many steps (lists or variables that repeat each other?)"
            raise _Problem(reason, pos)

    def part(self, part: _Part, scope: _Scope, depth: int, index: int | None, out: _Buffer) -> None:
        self.charge(1, part.pos)
        if isinstance(part, _Text):
            out.add(part.text, part.pos)
        elif isinstance(part, _Define):
            if part.immediate:
                value = _Buffer()
                self.seq(part.value, scope, depth, index, value)
                self.fixed[part] = "".join(value.parts)
        elif isinstance(part, _Variant):
            self.variant(part, scope, depth, index, out)
        elif isinstance(part, _Wildcard):
            choices = self.run.options(part)
            if index is None:
                self.choice(choices[self.random.below(len(choices))], scope, depth, None, out)
            else:
                sums = self.counter.cumulative(part, scope, depth)
                at = _first_above(sums, index)
                self.choice(choices[at], scope, depth, index - (sums[at - 1] if at else 0), out)
        else:
            self.use(part, scope, depth, index, out)

    def choice(self, choice: _Choice, scope: _Scope, depth: int, index: int | None, out: _Buffer) -> None:
        if choice.source is None:
            self.seq(choice.body, scope, depth, index, out)
            return
        if choice.source.plain:
            out.add(choice.source.text, choice.site)
            return
        with self.run.within(choice.source, choice.site, depth) as body:
            assert body is not None
            self.seq(body, scope, depth + 1, index, out)

    def variant(self, variant: _Variant, scope: _Scope, depth: int, index: int | None, out: _Buffer) -> None:
        choices = self.run.options(variant)
        low, high = _range(variant, len(choices))
        picked: Sequence[tuple[int, int | None]]
        if index is None:
            k = low + self.random.below(high - low + 1)
            self.charge(len(choices) if k > 1 else 1, variant.pos)  # picking several is linear in the options
            weights, sums = self.run.weights(variant)
            picked = [(at, None) for at in self.random.pick(weights, sums, k)]
        else:
            picked = self.subset(variant, scope, depth, low, index)
        for number, (at, digit) in enumerate(picked):
            if number:
                out.add(variant.separator, variant.pos)
            self.choice(choices[at], scope, depth, digit, out)

    def subset(
        self, variant: _Variant, scope: _Scope, depth: int, low: int, index: int
    ) -> list[tuple[int, int]]:
        """The index-th combination: by size, then subsets in lexicographic order, then their members."""
        counts, ways = self.counter.counts(variant, scope, depth), self.counter.table(variant, scope, depth)
        size = low
        while index >= ways[0][size]:
            index -= ways[0][size]
            size += 1
        if size == 1:  # the usual { } : straight to the option
            sums = self.counter.cumulative(variant, scope, depth)
            at = _first_above(sums, index)
            return [(at, index - (sums[at - 1] if at else 0))]
        self.charge(len(counts), variant.pos)
        picked: list[tuple[int, int]] = []
        for j in range(len(counts)):
            if size == 0:
                break
            with_j = counts[j] * ways[j + 1][size - 1]
            if index < with_j:
                digit, index = divmod(index, ways[j + 1][size - 1])
                picked.append((j, digit))
                size -= 1
            else:
                index -= with_j
        return picked

    def use(self, use: _Use, scope: _Scope, depth: int, index: int | None, out: _Buffer) -> None:
        if bound := scope.names.get(use.name):
            define, home = bound
            if define.immediate:
                out.add(self.fixed[define], use.pos)
                return
            with _Within(self.run, None, use.pos, depth, f"${{{use.name}}}"):
                self.seq(define.value, home, depth + 1, index, out)
        elif value := self.run.value(use.name):
            with self.run.within(value, use.pos, depth) as body:
                assert body is not None
                self.seq(body, scope, depth + 1, index, out)
        elif use.default is not None:
            self.seq(use.default, scope, depth, index, out)
        else:
            raise _missing(use)


# --- the public functions

_NO_VALUES: Mapping[str, str] = {}


def has_syntax(text: str) -> bool:
    """Whether the text uses any template syntax; when not, it is its own only expansion."""
    return _SYNTAX.search(text) is not None


def parse(text: str) -> Template:
    """The parsed template; TemplateError names the place of a syntax error."""
    try:
        return Template(text, _Parser(text, defines=True).template())
    except _Problem as problem:
        raise _public(text, problem) from None


def variables(template: Template) -> list[Variable]:
    """The inputs: variables used where none is defined, in order of first use.

    A variable's default is the first one written for it, or None (it must be filled in) when one of its
    uses has none.
    """
    found: dict[str, Variable] = {}

    def walk(seq: _Seq, defined: frozenset[str]) -> None:
        for part in seq.parts:
            if isinstance(part, _Variant):
                for option in part.options:
                    walk(option.body, defined)
            elif isinstance(part, _Define):
                walk(part.value, defined)
                defined |= {part.name}
            elif isinstance(part, _Use) and part.name not in defined:
                known = found.get(part.name)
                if known is None or (known.default is not None and part.default_text is None):
                    found[part.name] = Variable(part.name, part.default_text)
                if part.default is not None:
                    walk(part.default, defined)

    walk(template._root, frozenset())
    return list(found.values())


def wildcards(template: Template) -> list[str]:
    """The list names the template refers to, globs as written, in order of first appearance."""
    names: dict[str, None] = {}

    def walk(seq: _Seq) -> None:
        for part in seq.parts:
            if isinstance(part, _Wildcard):
                names.setdefault(part.name)
            elif isinstance(part, _Variant):
                for option in part.options:
                    walk(option.body)
            elif isinstance(part, _Define):
                walk(part.value)
            elif isinstance(part, _Use) and part.default is not None:
                walk(part.default)

    walk(template._root)
    return list(names)


def count(
    template: Template, lists: Mapping[str, Sequence[str]], values: Mapping[str, str] = _NO_VALUES
) -> int:
    """The exact number of combinations, by arithmetic; an input with neither value nor default counts 1."""
    run = _Run(template.text, lists, values)
    try:
        return _Counter(run, strict=False).seq(template._root, run.start, 0)
    except _Problem as problem:
        raise _public(template.text, problem) from None


def expand_random(
    template: Template,
    lists: Mapping[str, Sequence[str]],
    values: Mapping[str, str] = _NO_VALUES,
    *,
    seed: int,
    n: int = 1,
) -> list[str]:
    """n random prompts; pick j depends only on the template, lists, values and seed + j."""
    if not 0 <= n <= MAX_COMBINATIONS:
        raise ValueError(f"Ask for 0 to {MAX_COMBINATIONS:,} prompts; got {n}.")
    run = _Run(template.text, lists, values)
    counter = _Counter(run, strict=True)
    try:
        counter.seq(template._root, run.start, 0)  # every list and input checked, whichever the picks
        expander = _Expander(run, counter)
        return [expander.one(template._root, None, seed + j) for j in range(n)]
    except _Problem as problem:
        raise _public(template.text, problem) from None


def expand_all(
    template: Template,
    lists: Mapping[str, Sequence[str]],
    values: Mapping[str, str] = _NO_VALUES,
    *,
    cap: int,
) -> list[str]:
    """Every combination in a stable order; TooMany, before any work, when there are more than `cap`."""
    if not 0 <= cap <= MAX_COMBINATIONS:
        raise ValueError(f"The cap is 0 to {MAX_COMBINATIONS:,}; got {cap}.")
    run = _Run(template.text, lists, values)
    counter = _Counter(run, strict=True)
    try:
        total = counter.seq(template._root, run.start, 0)
        if total > cap:
            raise TooMany(total, cap)
        expander = _Expander(run, counter)
        return [expander.one(template._root, index) for index in range(total)]
    except _Problem as problem:
        raise _public(template.text, problem) from None

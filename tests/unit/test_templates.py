"""Prompt templates (dynamicprompts syntax): parsing, counting, expanding, and the bounds on them."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from studio.domain.templates import (
    MAX_COMBINATIONS,
    MAX_TEMPLATE_CHARS,
    TemplateError,
    TooMany,
    Variable,
    count,
    expand_all,
    expand_random,
    has_syntax,
    parse,
    variables,
    wildcards,
)

LISTS: dict[str, list[str]] = {
    "animals": ["cat", "dog", "{red|grey} fox"],
    "colours/warm": ["red", "yellow"],
    "colours/cold": ["blue"],
    "colours/warm/deep": ["crimson"],
    "seasons": ["summer", "winter"],
}
FAST = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])  # fmt: skip


def every(text: str, lists: Mapping[str, Sequence[str]] = LISTS, values: Mapping[str, str] = {}) -> list[str]:
    return expand_all(parse(text), lists, values, cap=MAX_COMBINATIONS)


def counted(text: str, lists: Mapping[str, Sequence[str]] = LISTS, values: Mapping[str, str] = {}) -> int:
    return count(parse(text), lists, values)


def failure(action: Callable[[], object]) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        action()
    return caught.value


# --- parsing and plain text


def test_plain_prompts_need_no_machinery_and_come_back_unchanged() -> None:
    plain = "a lighthouse at dusk, 50% off | $5, snake_case __init, C:\\path, Mona Lisa \\(painting\\)"
    assert not has_syntax(plain)
    assert every(plain) == [plain]
    assert counted(plain) == 1
    for syntax in ["{a|b}", "a}", "__animals__", "${v}", "\\{", "\\_"]:
        assert has_syntax(syntax), syntax


def test_templates_are_equal_when_their_text_is() -> None:
    assert parse("{a|b}") == parse("{a|b}")
    assert parse("{a|b}").text == "{a|b}"


def test_escapes_write_the_literal_characters() -> None:
    assert every(r"\{a\|b\} costs \$5 and \_\_animals\_\_") == ["{a|b} costs $5 and __animals__"]
    assert every(r"{a\|b|c}") == ["a|b", "c"]
    assert every(r"\x \(y\)") == [r"\x \(y\)"]  # a backslash before anything else stays


def test_outside_braces_bars_dollars_and_stray_underscores_are_text() -> None:
    assert every("a | b $$ c $ d __ e _x_") == ["a | b $$ c $ d __ e _x_"]


# --- variants


def test_variants_pick_one_option_and_keep_whitespace_and_empty_options() -> None:
    assert every("{summer|autumn|winter} is coming") == [
        "summer is coming", "autumn is coming", "winter is coming",
    ]  # fmt: skip
    assert every("a{ big|} cat") == ["a big cat", "a cat"]
    assert every("{|a}") == ["", "a"]
    assert every("x{}y") == ["xy"]


def test_several_picks_are_distinct_in_option_order_with_a_separator() -> None:
    assert every("{2$$a|b|c}") == ["a, b", "a, c", "b, c"]
    assert every("{2$$ and $$a|b|c}") == ["a and b", "a and c", "b and c"]
    assert every("{4$$a|b|c}") == ["a, b, c"]  # no more than there are
    assert every("{0-1$$a}") == ["", "a"]


def test_ranges_and_their_omitted_bounds() -> None:
    assert every("{1-2$$a|b|c}") == ["a", "b", "c", "a, b", "a, c", "b, c"]
    assert every("{-2$$a|b|c}") == every("{1-2$$a|b|c}")
    assert every("{2-$$a|b|c}") == ["a, b", "a, c", "b, c", "a, b, c"]
    assert every("{ 1 - 2 $$a|b}") == ["a", "b", "a, b"]


def test_weights_steer_random_picks_but_combinations_use_each_option_once() -> None:
    template = parse("{0.5::a|2::b|c}")
    assert expand_all(template, {}, cap=10) == ["a", "b", "c"]
    assert count(template, {}) == 3
    picks = Counter(expand_random(parse("{9::a|1::b}"), {}, seed=0, n=2000))
    assert 0.86 < picks["a"] / 2000 < 0.94
    assert "a" not in expand_random(parse("{0::a|b|c}"), {}, seed=0, n=300)
    pairs = Counter(expand_random(parse("{2$$0.1::a|b|c}"), {}, seed=3, n=3000))
    assert 0.83 < pairs["b, c"] / 3000 < 0.9  # as if drawn one by one: 2 * (1/2.1) * (1/1.1) = 0.866
    sizes = Counter(len(pick) for pick in expand_random(parse("{0-2$$a|b}"), {}, seed=5, n=3000))
    assert all(sizes[length] > 900 for length in (0, 1))
    assert sizes[4] > 900


def test_nested_variants_pick_level_by_level() -> None:
    assert every("{a|{b|{c|d}}}!") == ["a!", "b!", "c!", "d!"]
    picks = Counter(expand_random(parse("{a|{b|{c|d}}}"), {}, seed=1, n=2000))
    assert 0.45 < picks["a"] / 2000 < 0.55  # an option's own options share its chance
    assert every("{2$${a|b}|c|d}") == ["a, c", "a, d", "b, c", "b, d", "c, d"]


# --- wildcards


def test_wildcards_draw_entries_which_may_hold_syntax_themselves() -> None:
    assert every("a __animals__") == ["a cat", "a dog", "a red fox", "a grey fox"]
    nested = {
        "people": ["__europe__", "{Basotho|Namibian}"],
        "europe": ["Finnish", "__nordic__"],
        "nordic": ["Sami"],
    }
    assert every("__people__", nested) == ["Finnish", "Sami", "Basotho", "Namibian"]


def test_globs_draw_from_every_matching_list_in_name_order() -> None:
    assert every("__colours/*__") == ["blue", "red", "yellow"]
    assert every("__colours/**__") == ["blue", "red", "yellow", "crimson"]
    assert every("__*s__") == ["cat", "dog", "red fox", "grey fox", "summer", "winter"]
    assert "no list matches __shapes*__ at column 1" in str(failure(lambda: every("__shapes*__")))


def test_a_variant_of_one_wildcard_picks_among_its_entries() -> None:
    assert every("{2$$__colours/*__}") == ["blue, red", "blue, yellow", "red, yellow"]
    assert counted("{2$$__animals__}") == 1 * 1 + 1 * 2 + 1 * 2


def test_list_entries_see_the_prompts_variables() -> None:
    lists = {"coats": ["a ${season:spring} coat"]}
    assert every("${season=!__seasons__}${season}: __coats__", {**LISTS, **lists}) == [
        "summer: a summer coat", "winter: a winter coat",
    ]  # fmt: skip
    assert every("__coats__", lists) == ["a spring coat"]


# --- variables


def test_a_variable_is_evaluated_at_each_use_unless_immediate() -> None:
    assert every("${s={a|b}}${s} ${s}") == ["a a", "a b", "b a", "b b"]
    assert every("${s=!{a|b}}${s} ${s}") == ["a a", "b b"]
    assert every("${s=!__seasons__}In ${s}, ${s} shirts") == [
        "In summer, summer shirts", "In winter, winter shirts",
    ]  # fmt: skip
    assert every("${ s = x }${ s }") == [" x "]  # spaces around a name go, a value is kept as written


def test_a_value_sees_the_variables_defined_before_it() -> None:
    assert every("${a=x}${a={${a}|y}}${a}") == ["x", "y"]
    assert every("${a=x}${b=${a}}${a=y}${b}") == ["x"]


def test_inputs_take_the_callers_values_or_their_defaults() -> None:
    template = parse("a ${subject} in ${place:the woods}")
    assert variables(template) == [Variable("subject", None), Variable("place", "the woods")]
    assert expand_all(template, {}, {"subject": "fox"}, cap=5) == ["a fox in the woods"]
    assert expand_all(template, {}, {"subject": "fox", "place": "snow"}, cap=5) == ["a fox in snow"]
    assert expand_all(template, {}, {"subject": "{fox|cat}"}, cap=5) == [
        "a fox in the woods",
        "a cat in the woods",
    ]
    assert expand_all(template, {}, {"subject": r"\{fox\}"}, cap=5) == ["a {fox} in the woods"]
    assert expand_all(parse("${x=mine}${x}"), {}, {"x": "theirs"}, cap=5) == ["mine"]  # a definition wins


def test_an_input_without_value_or_default_is_an_error_naming_it_but_counts_one() -> None:
    template = parse("a ${subject} here")
    assert count(template, {}) == 1
    error = failure(lambda: expand_random(template, {}, seed=1))
    assert "${subject}" in str(error)
    assert "at column 3" in str(error)
    assert error.position == 2
    # even where the random picks would not reach it
    assert failure(lambda: expand_random(parse("{a|${x}}"), {}, seed=1)).position == 3


def test_variables_lists_the_inputs_in_order_of_first_use() -> None:
    template = parse("${late} ${x=1}${x} ${y:2} ${y} ${z:one} ${z:two} ${w=${inner:i}}${later}${late=2}")
    assert variables(template) == [
        Variable("late", None), Variable("y", None), Variable("z", "one"), Variable("inner", "i"),
        Variable("later", None),
    ]  # fmt: skip


def test_wildcards_lists_the_names_as_written() -> None:
    assert wildcards(parse("__a__ {__b*__|${x:__c__}} ${v=__d/e__} __a__")) == ["a", "b*", "c", "d/e"]


# --- counting


def test_counts_follow_the_combinations() -> None:
    cases = {
        "{a|b} {c|d|e}": 6,
        "{2$$a|b|c|d}": 6,
        "{1-3$$a|b|c|d}": 14,
        "{2$${a|b}|c|d}": 5,
        "__animals__ __colours/*__": 12,
        "${s={a|b}}${s}${s}${s}": 8,
        "${s=!{a|b}}${s}${s}${s}": 2,
        "${s={a|b}}": 1,  # never used
        "${other:{a|b}} ${other:{c|d}}": 4,
    }
    for text, expected in cases.items():
        assert counted(text) == expected, text
        assert len(every(text)) == expected, text
    assert counted("${input} ${other:{a|b}}") == 2  # an input without a value counts 1
    assert counted("${input} ${input}", values={"input": "{a|b|c}"}) == 9  # a value counts at each use


def test_astronomical_counts_are_exact_and_instant() -> None:
    started = time.perf_counter()
    options = "|".join(f"o{i}" for i in range(300))
    assert counted("{1-$$" + options + "}") == 2**300 - 1
    assert counted("${a={x|y|z}}" + "${a}" * 500) == 3**500
    assert counted("${a={0|1|2|3|4|5|6|7|8|9}}" + "${a}" * 990) == 10**990
    chain = "${a={x|y}}" + "".join(
        f"${{v{i}=" + f"${{{'a' if i == 0 else f'v{i - 1}'}}}" * 20 + "}" for i in range(9)
    )
    assert counted(chain + "${v1}") == 2**400  # memoised: each variable counted once, not at each use
    error = failure(lambda: counted(chain + "${v8}"))  # 2 ** 20**9 would not fit in memory
    assert "more than 10^1000 combinations" in str(error)
    assert time.perf_counter() - started < 1.0


def test_two_billion_combinations_are_counted_and_refused_at_once() -> None:
    template = parse("".join("{" + "|".join(f"{i}{j}" for j in range(11)) + "} " for i in "abcdefghi"))
    started = time.perf_counter()
    assert count(template, {}) == 11**9 == 2_357_947_691
    with pytest.raises(TooMany) as caught:
        expand_all(template, {}, cap=MAX_COMBINATIONS)
    assert time.perf_counter() - started < 0.5
    assert (caught.value.count, caught.value.cap, caught.value.position) == (11**9, MAX_COMBINATIONS, 0)
    assert "2,357,947,691 combinations" in str(caught.value)
    assert len(expand_random(template, {}, seed=3, n=50)) == 50  # random picks stay cheap


def test_expand_all_refuses_a_cap_beyond_the_hard_cap_and_lists_up_to_it() -> None:
    with pytest.raises(ValueError, match="10,000"):
        expand_all(parse("a"), {}, cap=MAX_COMBINATIONS + 1)
    with pytest.raises(ValueError, match="10,000"):
        expand_random(parse("a"), {}, seed=0, n=MAX_COMBINATIONS + 1)
    with pytest.raises(TooMany):
        expand_all(parse("{a|b|c}"), {}, cap=2)
    assert len(expand_all(parse("{0|1|2|3|4|5|6|7|8|9}" * 4), {}, cap=MAX_COMBINATIONS)) == 10_000
    wide = expand_all(
        parse("{" + "|".join(f"o{i}" for i in range(800)) + "} {a|b|c|d|e|f|g|h|i|j}"), {}, cap=8000
    )
    assert (len(wide), wide[0], wide[1], wide[-1]) == (8000, "o0 a", "o0 b", "o799 j")


def test_all_the_prompts_of_one_call_are_bounded_together() -> None:
    template = parse("x" * 3000 + "{0|1|2|3|4|5|6|7|8|9}" * 4)
    assert "longer than 20,000,000 characters together" in str(
        failure(lambda: expand_all(template, {}, cap=10_000))
    )


# --- random picks


def test_random_picks_are_seeded_and_each_pick_has_its_own_seed() -> None:
    template = parse("__animals__ in {spring|summer|autumn|winter}, {1-2$$oil|ink|pastel}")
    picks = expand_random(template, LISTS, seed=42, n=8)
    assert picks == expand_random(template, LISTS, seed=42, n=8)
    assert picks == [expand_random(template, LISTS, seed=42 + j)[0] for j in range(8)]
    assert len({expand_random(template, LISTS, seed=seed)[0] for seed in range(20)}) > 8
    assert expand_random(template, LISTS, seed=-(10**30), n=1)  # any int seeds
    assert expand_random(template, LISTS, seed=1, n=0) == []


# --- errors say where


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("a {b|c", 2, "unclosed { opened at column 3"),
        ("a}b", 1, "unmatched } (write \\} for a brace) at column 2"),
        ("{x$$a|b}", 2, "a $$ count goes first"),
        ("{$$a|b}", 1, "at column 2"),
        ("{3-1$$a|b|c}", 1, "the count 3-1 runs backwards at column 2"),
        ("${", 0, "a variable name"),
        ("${x", 3, "=, : or } goes after ${x at column 4"),
        ("a ${x:b", 2, "unclosed ${ opened at column 3"),
        ("{${x=1}|b}", 1, "${x=…} can be defined only at the top level"),
        ("{" + "9" * 400 + "::a}", 1, "a weight is at most 1,000,000"),
        ("first line\n  {oops", 13, "unclosed { opened at line 2, column 3"),
        ("a" * (MAX_TEMPLATE_CHARS + 1), MAX_TEMPLATE_CHARS, "longer than 4,000 characters"),
        ("{" * 11 + "}" * 11, 10, "nest more than 10 deep"),
        ("{" + "|" * 1000 + "}", 0, "more than 1,000 options"),
    ],
)
def test_syntax_errors_name_their_position(text: str, position: int, message: str) -> None:
    error = failure(lambda: parse(text))
    assert message in str(error)
    assert error.position == position


def test_an_unknown_list_is_an_error_at_its_place_even_as_a_variant() -> None:
    error = failure(lambda: counted("a photo of __animals2__", {}))
    assert str(error) == "unknown list __animals2__ at column 12"
    assert error.position == 11
    for action in (
        lambda: expand_all(parse("{x|__nope__}"), LISTS, cap=10),
        lambda: expand_random(parse("{2$$__nope__}"), LISTS, seed=1),
    ):
        assert "unknown list __nope__" in str(failure(action))
    assert "the list __empty__ is empty" in str(failure(lambda: counted("__empty__", {"empty": []})))


def test_errors_inside_list_entries_and_values_point_to_where_they_are_used() -> None:
    lists = {"broken": ["fine", "a {b"], "outer": ["x __missing__"]}
    error = failure(lambda: counted("my __broken__", lists))
    assert str(error) == "unclosed { opened at column 3 in entry 2 of __broken__, used at column 4"
    assert error.position == 3
    error = failure(lambda: counted("{a|b} __outer__", lists))
    assert str(error) == "unknown list __missing__ at column 3 in entry 1 of __outer__, used at column 7"
    error = failure(lambda: counted("${s}", {}, {"s": "{a"}))
    assert str(error) == "unclosed { opened at column 1 in the value of ${s}, used at column 1"
    error = failure(lambda: counted("${v={__nope__}} and ${v}", lists))  # in a variable: where it is written
    assert str(error) == "unknown list __nope__ at column 6"
    assert error.position == 5
    assert "defined only at the top level" in str(failure(lambda: counted("__l__", {"l": ["${x=1}"]})))


def test_a_list_that_uses_itself_stops_at_the_depth_limit() -> None:
    lists = {"a": ["x __b__"], "b": ["__a__"]}
    error = failure(lambda: expand_random(parse("go __a__"), lists, seed=1))
    assert "__a__ → __b__ → __a__ → __b__ → … nest more than 10 deep" in str(error)
    assert error.position == 3
    assert str(error).endswith("at column 4")
    assert "nest more than 10 deep" in str(failure(lambda: counted("${x}", {}, {"x": "${x}"})))
    assert counted("__a__", {"a": ["__b__"], "b": ["__c__"], "c": ["deep enough"]}) == 1


def test_one_prompt_and_one_expansion_are_bounded() -> None:
    too_long = parse("${a=" + "x" * 3000 + "}${a}${a}${a}${a}")
    assert "longer than 10,000 characters" in str(failure(lambda: expand_random(too_long, {}, seed=0)))
    empty_blowup = "${a=}" + "".join(
        f"${{v{i}=" + f"${{{'a' if i == 0 else f'v{i - 1}'}}}" * 30 + "}" for i in range(8)
    )  # fmt: skip
    template = parse(empty_blowup + "${v7}")
    assert count(template, {}) == 1
    started = time.perf_counter()
    assert "too many steps" in str(failure(lambda: expand_all(template, {}, cap=1)))
    assert time.perf_counter() - started < 2.0


# --- properties

TOKENS = {
    "animals": ["<a1>", "<a2>", "{<a3>|<a4>}"],
    "warm/one": ["<w1>", "<w2>"],
    "warm/two": ["<w3> __animals__"],
}
INPUTS = {"input": "{<i1>|<i2>}"}


@st.composite
def templates(draw: st.DrawFn) -> str:
    """Templates whose every option and entry writes a token of its own, so combinations never collide."""
    tokens = (f"<{n}>" for n in itertools.count())

    def body(depth: int, names: Sequence[str]) -> str:
        parts = []
        for _ in range(draw(st.integers(0, 2))):
            kinds = ["text", "wildcard", "use"] + (["variant", "variant", "sole"] if depth < 2 else [])
            kind = draw(st.sampled_from(kinds))
            if kind == "text":
                parts.append(next(tokens))
            elif kind == "wildcard":
                parts.append(f"__{draw(st.sampled_from(['animals', 'warm/*', 'warm/one', '**']))}__")
            elif kind == "use":
                parts.append(draw(st.sampled_from([*(f"${{{n}}}" for n in names), "${input}", "${d:<d>}"])))
            elif kind == "sole":
                parts.append(f"{next(tokens)}{{{draw(st.sampled_from(['', '2$$', '0-2$$']))}__animals__}}")
            else:
                count_ = draw(st.sampled_from(["", "", "2$$", "1-2$$", "-2$$", "2-$$", "0-1$$", "2$$ & $$"]))
                options = [
                    draw(st.sampled_from(["", "", "3::", "0.5::"])) + next(tokens) + body(depth + 1, names)
                    for _ in range(draw(st.integers(1, 3)))
                ]
                parts.append("{" + count_ + "|".join(options) + "}")
        return "".join(parts)

    defines: list[str] = []
    names: list[str] = []
    immediates: list[str] = []
    for number in range(draw(st.integers(0, 2))):
        immediate = draw(st.booleans())
        defines.append(f"${{v{number}={'!' if immediate else ''}{{{next(tokens)}|{next(tokens)}}}}}")
        (immediates if immediate else names).append(f"v{number}")
    shown = "".join(f"${{{name}}}" for name in immediates)  # an unused immediate value would hide its picks
    return "".join(defines) + body(0, names) + shown


@FAST
@given(templates(), st.integers(0, 2**32))
def test_every_combination_is_listed_once_and_random_picks_are_among_them(text: str, seed: int) -> None:
    template = parse(text)
    total = count(template, TOKENS, INPUTS)
    assume(total <= 300)
    everything = expand_all(template, TOKENS, INPUTS, cap=300)
    assert len(everything) == len(set(everything)) == total
    assert set(expand_random(template, TOKENS, INPUTS, seed=seed, n=3)) <= set(everything)


PIECES = [*"{}|$_\\:!=-*/ab01 .\n", "$$", "__", "${", "::", "__a__", "__c__", "__b__"]
SYNTAX_SOUP = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@FAST
@given(SYNTAX_SOUP, st.integers(0, 1000))
def test_any_text_parses_or_fails_with_a_template_error_and_stays_bounded(text: str, seed: int) -> None:
    lists = {"a": ["x", "{y|__a__}"], "b": [], "c": ["__c__ __c__"]}
    outcome: int | list[str] | TemplateError
    try:
        template = parse(text)
        outcome = count(template, lists, {"a": "v"})
        outcome = expand_random(template, lists, {"a": "v"}, seed=seed, n=2)
    except TemplateError as error:  # and nothing else escapes
        outcome = error
    if isinstance(outcome, TemplateError):
        assert 0 <= outcome.position <= max(len(text), MAX_TEMPLATE_CHARS)
    else:
        assert isinstance(outcome, list)
        assert all(len(pick) <= 10_000 for pick in outcome)


@FAST
@given(st.text(max_size=200))
def test_text_without_syntax_is_its_own_only_expansion(text: str) -> None:
    assume(not has_syntax(text))
    template = parse(text)
    assert count(template, {}) == 1
    assert expand_all(template, {}, cap=1) == expand_random(template, {}, seed=0) == [text]
    assert variables(template) == []
    assert wildcards(template) == []

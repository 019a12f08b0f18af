"""RSQL parser properties: quoting round-trips, AND over OR precedence, errors with positions."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.api.rsql import all_of, any_of, equals, quote
from sandbox.rsql import And, Comparison, Node, Or, RSQLSyntaxError, parse

values = st.text(min_size=0, max_size=40)


@given(values)
def test_double_quoted_values_round_trip(value: str) -> None:
    assert parse(equals("email_address", value)) == Comparison("email_address", "==", (value,))


@given(values)
def test_single_quoted_values_round_trip(value: str) -> None:
    literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert parse(f"f=={literal}").arguments == (value,)


@given(st.lists(values, min_size=1, max_size=5))
def test_value_lists_round_trip(items: list[str]) -> None:
    text = f"f=in=({','.join(quote(v) for v in items)})"
    assert parse(text) == Comparison("f", "=in=", tuple(items))


# Random boolean trees over a few atoms, rendered with the fewest parentheses the grammar needs.
atoms = st.sampled_from(["a", "b", "c", "d"])
trees = st.recursive(
    atoms,
    lambda children: st.tuples(
        st.sampled_from([";", ","]), st.lists(children, min_size=2, max_size=3)
    ),
    max_leaves=8,
)


def render(tree: object, parent: str | None = None) -> str:
    if isinstance(tree, str):
        return f"{tree}==1"
    op, kids = tree  # type: ignore[misc]
    text = op.join(render(kid, op) for kid in kids)
    # OR inside AND needs parentheses; AND inside OR does not (AND binds tighter).
    return f"({text})" if parent == ";" and op == "," else text


def truth(tree: object, env: dict[str, bool]) -> bool:
    if isinstance(tree, str):
        return env[tree]
    op, kids = tree  # type: ignore[misc]
    results = [truth(kid, env) for kid in kids]
    return all(results) if op == ";" else any(results)


def evaluate(node: Node, env: dict[str, bool]) -> bool:
    if isinstance(node, Comparison):
        return env[node.selector]
    results = [evaluate(child, env) for child in node.children]
    return all(results) if isinstance(node, And) else any(results)


@given(trees)
def test_and_binds_tighter_than_or(tree: object) -> None:
    parsed = parse(render(tree))
    for bits in itertools.product([False, True], repeat=4):
        env = dict(zip("abcd", bits, strict=True))
        assert evaluate(parsed, env) == truth(tree, env)


def test_precedence_shape() -> None:
    assert parse("a==1,b==2;c==3") == Or(
        (
            Comparison("a", "==", ("1",)),
            And((Comparison("b", "==", ("2",)), Comparison("c", "==", ("3",)))),
        )
    )


def test_builders_parenthesise_each_clause() -> None:
    text = all_of([any_of(["a==1", "b==2"]), "c==3"])
    assert parse(text) == And(
        (
            Or((Comparison("a", "==", ("1",)), Comparison("b", "==", ("2",)))),
            Comparison("c", "==", ("3",)),
        )
    )


@pytest.mark.parametrize(
    ("text", "position"),
    [("a==", 3), ("a=1", 1), ("(a==1", 5), ("a==1;", 5), ("a=='x", 3), ("==1", 0), ("a==1)", 4)],
)
def test_errors_say_where(text: str, position: int) -> None:
    with pytest.raises(RSQLSyntaxError) as info:
        parse(text)
    assert info.value.position == position


def test_operator_aliases_and_whitespace() -> None:
    assert parse(" created_at >= 2026-01-01 ; id == x ") == And(
        (Comparison("created_at", "=ge=", ("2026-01-01",)), Comparison("id", "==", ("x",)))
    )

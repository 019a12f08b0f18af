"""RSQL/FIQL parser: the ``search`` parameter of GET /v2/customer, parsed into a tree.

Grammar (after rsql-parser, the Java library RSQL APIs are usually built on)::

    or         = and { "," and }
    and        = constraint { ";" constraint }
    constraint = "(" or ")" | comparison
    comparison = selector operator arguments
    operator   = "==" | "!=" | "=" ALPHA+ "=" | "<" | "<=" | ">" | ">="
    arguments  = "(" value { "," value } ")" | value
    value      = unreserved+ | '"' ... '"' | "'" ... "'"      (backslash escapes inside quotes)

``;`` (AND) binds tighter than ``,`` (OR). Whitespace between tokens is ignored; unquoted values
cannot contain whitespace or any of ``" ' ( ) ; , = ! < > ~``.
"""

from __future__ import annotations

from dataclasses import dataclass

RESERVED = frozenset("\"'();,=!<>~")
OPERATOR_ALIASES = {"<": "=lt=", "<=": "=le=", ">": "=gt=", ">=": "=ge="}
MULTI_VALUE_OPERATORS = frozenset({"=in=", "=out="})


class RSQLSyntaxError(ValueError):
    """A search expression that does not parse; ``position``: 0-based offset where it broke."""

    def __init__(self, message: str, position: int, text: str) -> None:
        self.position = position
        self.reason = message
        excerpt = text[max(0, position - 20) : position]
        super().__init__(f"{message} at position {position} (after {excerpt!r})")


@dataclass(frozen=True, slots=True)
class Comparison:
    """``selector operator arguments``; ``operator`` is canonical (``==``, ``!=``, ``=gt=``...)."""

    selector: str
    operator: str
    arguments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class And:
    """Every child holds."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child holds."""

    children: tuple[Node, ...]


Node = Comparison | And | Or


def parse(text: str) -> Node:
    """Parse an RSQL expression; raise :class:`RSQLSyntaxError` saying where it broke."""
    parser = _Parser(text)
    node = parser.parse_or()
    parser.skip_space()
    if parser.pos != len(text):
        raise RSQLSyntaxError(f"unexpected {text[parser.pos]!r}", parser.pos, text)
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str) -> RSQLSyntaxError:
        return RSQLSyntaxError(message, self.pos, self.text)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek() == ",":
            self.pos += 1
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_constraint()]
        while self.peek() == ";":
            self.pos += 1
            children.append(self.parse_constraint())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_constraint(self) -> Node:
        if self.peek() == "(":
            self.pos += 1
            node = self.parse_or()
            if self.peek() != ")":
                raise self.fail("expected ')'")
            self.pos += 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> Comparison:
        self.skip_space()
        selector = self.read_unreserved()
        if not selector:
            raise self.fail("expected a field name")
        operator = self.read_operator()
        if self.peek() == "(":
            self.pos += 1
            arguments = [self.read_value()]
            while self.peek() == ",":
                self.pos += 1
                arguments.append(self.read_value())
            if self.peek() != ")":
                raise self.fail("expected ',' or ')' in the value list")
            self.pos += 1
        else:
            arguments = [self.read_value()]
        if len(arguments) > 1 and operator not in MULTI_VALUE_OPERATORS:
            raise self.fail(f"operator {operator} takes a single value")
        return Comparison(selector, operator, tuple(arguments))

    def read_unreserved(self) -> str:
        start = self.pos
        text = self.text
        while (
            self.pos < len(text) and text[self.pos] not in RESERVED and not text[self.pos].isspace()
        ):
            self.pos += 1
        return text[start : self.pos]

    def read_operator(self) -> str:
        self.skip_space()
        text, start = self.text, self.pos
        if text.startswith(("==", "!="), start):
            self.pos += 2
            return text[start : self.pos]
        if text.startswith(("<=", ">="), start):
            self.pos += 2
            return OPERATOR_ALIASES[text[start : self.pos]]
        if start < len(text) and text[start] in "<>":
            self.pos += 1
            return OPERATOR_ALIASES[text[start]]
        if start < len(text) and text[start] == "=":
            end = start + 1
            while end < len(text) and text[end].isalpha():
                end += 1
            if end > start + 1 and end < len(text) and text[end] == "=":
                self.pos = end + 1
                return text[start : self.pos].lower()
        raise self.fail("expected a comparison operator (==, !=, =in=, =gt=, ...)")

    def read_value(self) -> str:
        quote = self.peek()
        if quote in ("'", '"'):
            return self.read_quoted(quote)
        value = self.read_unreserved()
        if not value:
            raise self.fail("expected a value")
        return value

    def read_quoted(self, quote: str) -> str:
        text, start = self.text, self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                if self.pos + 1 == len(text):
                    break
                chars.append(text[self.pos + 1])
                self.pos += 2
            elif char == quote:
                self.pos += 1
                return "".join(chars)
            else:
                chars.append(char)
                self.pos += 1
        # Point at the opening quote: that is where the reader must look.
        raise RSQLSyntaxError(f"unterminated {quote}-quoted value", start, text)

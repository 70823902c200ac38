"""AST of an .arch file: frozen dataclasses, each carrying the SourcePos it came from.

Lark types stop at the parser (`parse.py`); everything after it sees only these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import SourcePos

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Number:
    value: int | float
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class String:
    value: str
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Constant:
    """`true`, `false` or `none`."""

    value: bool | None
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Name:
    id: str
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class InRef:
    """`in`: the tensor flowing into the current block or stage."""

    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Attribute:
    value: Expr
    attr: str
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Subscript:
    value: Expr
    index: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Expr
    right: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class UnaryOp:
    op: str
    operand: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or" | "not" (not has one operand)
    operands: tuple[Expr, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Sequence:
    """`[a, b]` or `(a, b)`."""

    items: tuple[Expr, ...]
    kind: str  # "list" | "tuple"
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Value
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Call:
    """`f(a, k=v) as label`: an op or block call, a builtin function, or `int/float/bool(...)`.

    `args is None` when the name was written without parentheses (`-> relu`).
    """

    func: str
    args: tuple[Value, ...] | None
    keywords: tuple[Keyword, ...]
    label: str | None
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class HpChoice:
    """`choice(a, b, c, default=b)`: an anonymous or (under `hp`) named Choice."""

    args: tuple[Value, ...]
    keywords: tuple[Keyword, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Mapping:
    """`{name: value, ...}`: a value per model output, in a train setting."""

    entries: tuple[tuple[str, Expr], ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Conditional:
    """`body if test else orelse`."""

    test: Expr
    body: Expr
    orelse: Expr
    pos: SourcePos = field(compare=False)


Expr = (
    Number | String | Constant | Name | InRef | Attribute | Subscript | BinOp | UnaryOp
    | BoolOp | Compare | Sequence | Call | HpChoice | Conditional | Mapping
)

# ---------------------------------------------------------------- graph structure


@dataclass(frozen=True)
class Body:
    statements: tuple[Statement, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Optional:
    name: str | None
    default: Expr | None
    body: Body
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Residual:
    optional: bool
    name: str | None
    default: Expr | None
    body: Body
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Range:
    low: Expr
    high: Expr
    step: Expr | None
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Repeat:
    """`range` is a Range (a count hyperparameter) or an expression (a fixed count)."""

    name: str | None
    var: str | None
    range: Range | Expr
    default: Expr | None
    body: Body
    pos: SourcePos = field(compare=False)
    shared: bool = False  # every repetition reuses the first one's layers (tied weights)


@dataclass(frozen=True)
class Alternative:
    label: str | None
    chain: Chain
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class ChoiceNode:
    name: str | None
    default: Expr | None
    alternatives: tuple[Alternative, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Merge:
    name: str | None
    inputs: tuple[Name, ...]
    op: Expr
    body: Body
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class If:
    condition: Expr
    then: Body
    orelse: Body | If | None
    pos: SourcePos = field(compare=False)


Structural = Optional | Residual | Repeat | ChoiceNode | Merge | If
Stage = Call | Structural


@dataclass(frozen=True)
class Chain:
    """`head -> stage -> stage`. A chain of one plain expression is stored as that expression."""

    head: Expr | Structural
    stages: tuple[Stage, ...]
    pos: SourcePos = field(compare=False)


Value = Expr | Chain


@dataclass(frozen=True)
class Assign:
    name: str
    chain: Value
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Output:
    name: str | None
    chain: Value
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class ChainStatement:
    chain: Value
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Let:
    """`let NAME = EXPR`: a named value, at the top level or in a body."""

    name: str
    value: Expr
    pos: SourcePos = field(compare=False)


Statement = Assign | Output | ChainStatement | Let

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class TemplateDecl:
    name: str
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Import:
    path: str
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class ParamDecl:
    name: str
    value: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class InputDecl:
    name: str
    shape: tuple[Expr, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class HpDecl:
    name: str
    value: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class BlockParam:
    name: str
    default: Expr | None
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class BlockDecl:
    name: str
    params: tuple[BlockParam, ...]
    body: Body
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class GraphDecl:
    body: Body
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class Setting:
    name: str
    value: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class TrainDecl:
    settings: tuple[Setting, ...]
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class ConstraintDecl:
    """`constraint COST OP LIMIT`: a budget on every architecture's cost."""

    cost: str
    op: str
    limit: Expr
    pos: SourcePos = field(compare=False)


@dataclass(frozen=True)
class FunctionDecl:
    """`def NAME(P1, P2 = DEFAULT) = EXPR`: a function of values."""

    name: str
    params: tuple[BlockParam, ...]
    value: Expr
    pos: SourcePos = field(compare=False)


Declaration = (
    TemplateDecl | Import | ParamDecl | InputDecl | HpDecl | BlockDecl | GraphDecl | TrainDecl
    | ConstraintDecl | Let | FunctionDecl
)


@dataclass(frozen=True)
class Module:
    """One parsed .arch file, declarations in source order."""

    path: str
    source: str
    declarations: tuple[Declaration, ...]

    def of_type(self, kind: type) -> list:
        return [d for d in self.declarations if isinstance(d, kind)]

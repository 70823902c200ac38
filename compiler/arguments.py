"""Arguments of Keras classes: `ArgSpec`s + a call's positional and keyword values -> named,
checked arguments, or an `OpArgError` that says what is wrong.

Ops (`ops.OpSpec`) and optimizers (`vocab.OptimizerSpec`) are both `CallSpec`s: a Keras class
and its arguments under Keras's names, in Keras's positional order, with Keras's defaults.
This module knows no Keras name itself and never imports Keras.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .diagnostics import did_you_mean

ArgType = Literal[
    "int",
    "float",
    "bool",
    "str",
    "int_or_pair",  # an int or a pair of ints: kernel_size, strides, pool_size, size
    "int_or_triple",  # an int or three ints: the same for 3-D layers (Conv3D, MaxPooling3D)
    "float_or_pair",  # a float or a pair (lower, upper): the factors of augmentation layers
    "padding_spec",  # an int, a pair of ints, or a pair of pairs (ZeroPadding2D, Cropping2D)
    "shape",  # a list of ints, at most one -1 (Reshape)
    "activation",  # a name in the ArgSpec's `choices` (vocab.ACTIVATIONS)
    "axis",  # an int
    "layer",  # an op call as the argument (Bidirectional's), as (op, ((name, value), ...)),
    # one of the op names in `choices`
    "any",  # not checked
]


class OpArgError(Exception):
    """A wrong, unknown, repeated or missing argument to an op.

    `index` is the 0-based position of the offending positional argument, `keyword` the
    offending keyword; the caller turns them into a source position.
    """

    def __init__(
        self,
        message: str,
        index: int | None = None,
        keyword: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.index = index
        self.keyword = keyword
        self.hint = hint


# ---------------------------------------------------------------- data model


@dataclass(frozen=True, kw_only=True)
class ArgSpec:
    """One argument of a Keras class, under Keras's name, with Keras's default.

    `minimum`/`maximum` bound numbers (and each element of pairs and shapes); they are
    inclusive unless `exclusive_minimum`/`exclusive_maximum`. `None` is accepted where the
    Keras default is `None` or `nullable` is set. `choices` lists the accepted strings of a
    `str` argument, and the activation names of an `activation` argument.

    The registry's tables are Python literals, checked once when they are built
    (`__post_init__`); a plain frozen dataclass keeps `archc check` from loading a
    validation library it has no external data for.
    """

    name: str
    type: ArgType
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nullable: bool = False

    def __post_init__(self):
        if self.type not in get_args(ArgType):
            raise ValueError(f"{self.name}: unknown argument type {self.type!r}")
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        if self.type == "activation" and not self.choices:
            raise ValueError(f"{self.name}: an activation argument needs its choices")

    @property
    def accepts_none(self) -> bool:
        return self.nullable or (not self.required and self.default is None)


@dataclass(frozen=True, kw_only=True)
class CallSpec:
    """What ops and optimizers share: a Keras class and its arguments."""

    name: str
    keras_class: str
    args: tuple[ArgSpec, ...] = ()
    positional: int = 0  # how many leading `args` a template may pass positionally
    doc: str = ""

    def __post_init__(self):
        object.__setattr__(self, "args", tuple(self.args))
        names = [a.name for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: an argument is listed twice")
        if self.positional > len(self.args):
            raise ValueError(f"{self.name}: more positional slots than arguments")

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def arg(self, name: str) -> ArgSpec | None:
        return next((a for a in self.args if a.name == name), None)

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.args)

    @property
    def positional_names(self) -> tuple[str, ...]:
        return self.arg_names[: self.positional]


# ---------------------------------------------------------------- declaring arguments

_REQUIRED = object()  # sentinel: the argument has no default


def arg(name: str, type_: ArgType, default: Any = _REQUIRED, **kw: Any) -> ArgSpec:
    """An argument; without `default`, a required one."""
    if default is _REQUIRED:
        return ArgSpec(name=name, type=type_, required=True, **kw)
    return ArgSpec(name=name, type=type_, default=default, **kw)


def unit(name: str, default: float) -> ArgSpec:
    """A float in [0, 1]: momentum, beta, rho."""
    return arg(name, "float", default, minimum=0, maximum=1)


def positive(name: str, default: Any, type_: ArgType = "float", **kw: Any) -> ArgSpec:
    """A number above 0: learning_rate, epsilon."""
    return arg(name, type_, default, minimum=0, exclusive_minimum=True, **kw)


# ---------------------------------------------------------------- binding


def signature(spec: CallSpec) -> str:
    """`conv2d(filters, kernel_size, strides=(1, 1), padding='valid', *, ...)` for messages."""
    parts = []
    for i, argument in enumerate(spec.args):
        if i == spec.positional:
            parts.append("*")
        shown = argument.name if argument.required else f"{argument.name}={_show(argument.default)}"
        parts.append(shown)
    return f"{spec.name}({', '.join(parts)})"


def bind(
    spec: CallSpec, positional: Sequence[object], keywords: Mapping[str, object]
) -> dict[str, object]:
    """Name a call's arguments: positional values in order, then keywords.

    Values are never looked at (they may be symbolic placeholders); only names and counts
    are checked. Defaults are not filled in: see `effective_args`.

    Raises:
        OpArgError: too many positional arguments, an unknown, repeated or missing one.
    """
    _check_positional_count(spec, len(positional))
    bound: dict[str, object] = dict(zip(spec.arg_names, positional, strict=False))
    for key, value in keywords.items():
        if spec.arg(key) is None and not getattr(spec, "open_args", False):
            raise _unknown_keyword(spec, key)
        if key in bound:
            raise OpArgError(
                f"{spec.name}: argument '{key}' given twice (positionally and by keyword)",
                index=spec.arg_names.index(key),
                keyword=key,
            )
        bound[key] = value
    _check_required(spec, bound)
    return bound


def _check_required(spec: CallSpec, bound: Mapping[str, object]) -> None:
    for argument in spec.args:
        if argument.required and argument.name not in bound:
            raise OpArgError(
                f"{spec.name}: missing required argument '{argument.name}'",
                hint=f"usage: {signature(spec)}",
            )


def _check_positional_count(spec: CallSpec, found: int) -> None:
    limit = spec.positional
    if found <= limit:
        return
    if limit == 0:
        message = f"{spec.name} takes no positional arguments, found {found}"
    else:
        plural = "argument" if limit == 1 else "arguments"
        listed = ", ".join(spec.positional_names)
        message = f"{spec.name} takes at most {limit} positional {plural} ({listed}), found {found}"
    rest = spec.arg_names[limit:]
    if rest:
        hint = "pass the others by name, e.g. " + ", ".join(f"{n}=..." for n in rest[:3])
    else:
        hint = f"usage: {signature(spec)}"
    raise OpArgError(message, index=limit, hint=hint)


def _unknown_keyword(spec: CallSpec, key: str) -> OpArgError:
    fixed = getattr(spec, "fixed", {})
    if key in fixed:
        hint = f"{spec.name} always has {key}={_show(fixed[key])}"
    elif spec.args:
        hint = (did_you_mean(key.lower(), spec.arg_names)
                or f"its arguments are: {', '.join(spec.arg_names)}")
    else:
        hint = f"{spec.name} takes no arguments"
    return OpArgError(f"{spec.name} has no argument '{key}'", keyword=key, hint=hint)


def effective_args(spec: CallSpec, bound: Mapping[str, object]) -> dict[str, object]:
    """Every argument's value: Keras's defaults, then the op's fixed kwargs, then `bound`."""
    values: dict[str, object] = {a.name: a.default for a in spec.args if not a.required}
    values.update(getattr(spec, "fixed", {}))
    values.update(bound)
    return values


def checked_kwargs(spec: CallSpec, kwargs: Mapping[str, object]) -> dict[str, object]:
    """`kwargs` for building `spec`, once every key is known and every value concrete and valid.

    Raises:
        OpArgError: an unknown keyword or a wrong value. TypeError: a value still symbolic.
    """
    for key, value in kwargs.items():
        argument = spec.arg(key)
        if argument is None and getattr(spec, "open_args", False):
            continue  # an open op's keyword: Keras checks it
        if argument is None:
            raise _unknown_keyword(spec, key)
        if not is_concrete(value):
            raise TypeError(f"{spec.name}: {key} is still symbolic at build time: {value!r}")
        problem = check_value(argument, value)
        if problem:
            raise OpArgError(f"{spec.name}: {problem}", keyword=key)
    return dict(kwargs)


# ---------------------------------------------------------------- value checks

_CONCRETE = (numbers.Number, str, tuple, list, type(None))


def is_concrete(value: object) -> bool:
    """True for plain Python values (numbers, strings, None, tuples/lists of them)."""
    if isinstance(value, (tuple, list)):
        return all(is_concrete(v) for v in value)
    return isinstance(value, _CONCRETE)


def check_value(arg: ArgSpec, value: object) -> str | None:
    """None if `value` suits `arg`, else `"NAME: expected X, found Y"` (maybe with a hint).

    A value that is not concrete (a symbolic placeholder, or a list holding one) is not
    judged: None. bool is not a number here, and an integral float is not an integer.
    """
    if value is None:
        return None if arg.accepts_none or arg.type == "any" else _complaint(arg, value, "")
    if not is_concrete(value):
        return None
    problem = _CHECKERS[arg.type](arg, value)
    return None if problem is None else _complaint(arg, value, problem)


def _complaint(arg: ArgSpec, value: object, extra: str) -> str:
    expected = describe(arg)
    if arg.accepts_none:
        expected += " or none"
    message = f"{arg.name}: expected {expected}, found {_show(value)}"
    return f"{message} ({extra})" if extra else message


# Each checker returns None when the value is fine, else an extra note ("" for none).


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _in_range(arg: ArgSpec, value: float) -> bool:
    lo, hi = arg.minimum, arg.maximum
    if lo is not None and (value <= lo if arg.exclusive_minimum else value < lo):
        return False
    return not (hi is not None and (value >= hi if arg.exclusive_maximum else value > hi))


def _int_problem(arg: ArgSpec, value: object) -> str | None:
    if _is_int(value):
        return None if _in_range(arg, value) else ""
    if isinstance(value, float) and value.is_integer():
        return "use // between integers, or round(...): // of a float is still a float"
    return ""


def _float_problem(arg: ArgSpec, value: object) -> str | None:
    return None if _is_number(value) and _in_range(arg, value) else ""


def _bool_problem(arg: ArgSpec, value: object) -> str | None:
    return None if isinstance(value, bool) else ""


def _choice_problem(arg: ArgSpec, value: object) -> str | None:
    """A string among `arg.choices`; a near miss ('SAME', 'rleu') gets a did-you-mean."""
    if not isinstance(value, str):
        return ""
    if value in arg.choices:
        return None
    return did_you_mean(value.lower(), arg.choices) or ""


def _str_problem(arg: ArgSpec, value: object) -> str | None:
    if arg.choices:
        return _choice_problem(arg, value)
    return None if isinstance(value, str) else ""


def _axis_problem(arg: ArgSpec, value: object) -> str | None:
    return None if _is_int(value) else ""


def _pair(value: object, size: int = 2) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == size


def _first_problem(problems: Sequence[str | None]) -> str | None:
    """Element checks -> None if all passed, else the most telling note (a hint beats "")."""
    found = [p for p in problems if p is not None]
    return max(found, key=len) if found else None


def _int_or_pair_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value):
        return _first_problem([_int_problem(arg, v) for v in value])
    return _int_problem(arg, value)


def _int_or_triple_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value, 3):
        return _first_problem([_int_problem(arg, v) for v in value])
    return _int_problem(arg, value)


def _float_or_pair_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value):
        return _first_problem([_float_problem(arg, v) for v in value])
    return _float_problem(arg, value)


def layer_call(value) -> tuple[str, dict[str, object]]:
    """A `layer` argument's op name and its arguments: `("lstm", (("units", 8),))` ->
    `("lstm", {"units": 8})`."""
    name, args = value
    return name, dict(args)


def _is_layer_call(value: object) -> bool:
    return (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)
            and isinstance(value[1], tuple) and all(_pair(v) for v in value[1]))


def _layer_problem(arg: ArgSpec, value: object) -> str | None:
    if not _is_layer_call(value):
        return ""
    return None if value[0] in arg.choices else ""


def _padding_problem(arg: ArgSpec, value: object) -> str | None:
    if _pair(value) and all(_pair(v) for v in value):
        return _first_problem([_int_problem(arg, x) for v in value for x in v])
    return _int_or_pair_problem(arg, value)


def _shape_problem(arg: ArgSpec, value: object) -> str | None:
    if not isinstance(value, (tuple, list)) or not value:
        return ""
    if sum(1 for v in value if v == -1 and _is_int(v)) > 1:
        return "at most one -1"
    return _first_problem([None if v == -1 else _int_problem(_POSITIVE, v) for v in value])


_POSITIVE = ArgSpec(name="_", type="int", minimum=1)

_CHECKERS = {
    "int": _int_problem,
    "float": _float_problem,
    "bool": _bool_problem,
    "str": _str_problem,
    "int_or_pair": _int_or_pair_problem,
    "int_or_triple": _int_or_triple_problem,
    "float_or_pair": _float_or_pair_problem,
    "padding_spec": _padding_problem,
    "shape": _shape_problem,
    "activation": _choice_problem,
    "axis": _axis_problem,
    "layer": _layer_problem,
    "any": lambda arg, value: None,
}


def describe(arg: ArgSpec) -> str:
    """What `arg` accepts, in words: "a positive integer", "'valid' or 'same'"."""
    kind = arg.type
    if kind == "int":
        return _describe_number(arg, "integer")
    if kind == "float":
        return _describe_number(arg, "float")
    if kind == "int_or_pair":
        return f"{_describe_number(arg, 'integer')} or a pair of them"
    if kind == "int_or_triple":
        return f"{_describe_number(arg, 'integer')} or three of them"
    if kind == "float_or_pair":
        return f"{_describe_number(arg, 'float')} or a pair (lower, upper) of them"
    if kind == "padding_spec":
        return f"{_describe_number(arg, 'integer')}, a pair of them, or a pair of pairs"
    if kind == "str" and arg.choices:
        return _describe_choices(arg.choices)
    if kind == "layer":
        return "a call of " + " or ".join(arg.choices)
    return _SIMPLE_DESCRIPTIONS[kind]


_SIMPLE_DESCRIPTIONS = {
    "bool": "true or false",
    "str": "a string",
    "shape": "a list of positive integers (one may be -1)",
    "activation": "an activation name (relu, sigmoid, ...)",
    "axis": "an integer axis",
    "any": "a value",
}


def _describe_number(arg: ArgSpec, noun: str) -> str:
    lo, hi = arg.minimum, arg.maximum
    if hi is None and lo == 0:
        return f"a positive {noun}" if arg.exclusive_minimum else f"a non-negative {noun}"
    if hi is None and lo == 1 and noun == "integer" and not arg.exclusive_minimum:
        return "a positive integer"
    article = "an" if noun == "integer" else "a"
    if lo is not None and hi is not None:
        left = "(" if arg.exclusive_minimum else "["
        right = ")" if arg.exclusive_maximum else "]"
        return f"{article} {noun} in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        return f"{article} {noun} {'>' if arg.exclusive_minimum else '>='} {_num(lo)}"
    if hi is not None:
        return f"{article} {noun} {'<' if arg.exclusive_maximum else '<='} {_num(hi)}"
    return f"{article} {noun}"


def _describe_choices(choices: Sequence[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _show(value: object) -> str:
    """A value as a template would spell it: 'same', true, none, (3, 3), [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return repr(value)
    if _is_layer_call(value):
        return f"{value[0]}(" + ", ".join(f"{k}={_show(v)}" for k, v in value[1]) + ")"
    if isinstance(value, tuple):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)

"""Expression ASTs -> values during expansion: constants fold, hyperparameters and shapes stay
symbolic (values.Sym); hyperparameter constructors declare hps with their conditions.

`ExpressionEvaluation` is the part of the expander that the others ask for values, hps and
name hints; it reads and writes only the `ExpansionState` it is given.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

from . import ast, ops
from .diagnostics import (
    ArchError,
    ArgumentError,
    DuplicateName,
    RangeError,
    RecursionLimit,
    StructureError,
    TypeMismatch,
    UnknownName,
    did_you_mean,
)
from .hyper import HpSpec, union
from .kinds import Cluster, Hp
from .scope import (
    Derived,
    Env,
    ExpansionState,
    Function,
    Scope,
    describe,
    describe_ast,
    pos_of,
    unify_numbers,
)
from .values import BUILTIN_KEYWORDS, BUILTINS, SHAPE_ATTRS, Sym, Tensor, combine, evaluate

HP_FUNCTIONS = (Hp.INT, Hp.FLOAT, Hp.BOOL)  # int(...) declares an Hp.INT, and so on

MAX_DOMAIN_CHECKED = 1000  # a larger range is checked at its ends and default only
MAX_CALL_DEPTH = 32  # `def` calls inside `def` calls (a recursion must end on a constant)


class ExpressionEvaluation:
    """Expressions, hyperparameters and names of one expansion (its `state`)."""

    def __init__(self, state: ExpansionState):
        self.state = state
        self.depth = 0  # lets and function calls being evaluated, one inside the other

    # ---- names
    def is_layer(self, name: str) -> bool:
        """Whether `name` calls a layer: a block of the loaded files or an op."""
        return name in self.state.loaded.blocks or ops.lookup(name) is not None

    def suggest(self, name: str, env: Env) -> str | None:
        """A 'did you mean' hint for an unknown `name` among the names, ops and blocks."""
        blocks = list(self.state.loaded.blocks)
        return did_you_mean(name, list(env.visible()) + ops.names() + blocks)

    def unknown_hint(self, name: str, env: Env, scope: Scope) -> str | None:
        """The hint for an undefined `name`: a label is not a binding; else 'did you mean'."""
        if any(name in labels for labels in self.state.explicit.values()):
            return (f"'{name}' is a label ('as {name}'), which names a layer, not a tensor "
                    f"to use: bind the tensor with {name} = ... and use that")
        if any(c["kind"] == Cluster.REPEAT and c["label"] == name and c.get("hp")
               for c in self.state.graph.graph["clusters"].values()):
            return (f"the outputs of repeat '{name}' are named after it only inside its body, "
                    "since its count is a hyperparameter: join them inside the body, or give "
                    "the repeat a fixed count")
        return self.suggest(name, env)

    def domain_values(self, value) -> list:
        """The values `value` may take: itself, an hp's domain, or [] for other symbols."""
        if isinstance(value, Tensor):
            return [value]
        if isinstance(value, Sym):
            if value.op == "hp" and value.args[0] in self.state.hps:
                spec = self.state.hps[value.args[0]]
                domain = spec.domain()
                if domain is None:  # a continuous [min, max): its ends and default
                    return [spec.min, math.nextafter(spec.max, spec.min), spec.default]
                if len(domain) > MAX_DOMAIN_CHECKED:  # its ends and default stand for it
                    return [domain[0], domain[-1], spec.default]
                return list(domain)
            return self._derived_values(value)
        return [value]

    def _derived_values(self, value: Sym) -> list:
        """The values a Sym computed from hps alone takes over their domains (every
        combination, up to MAX_DOMAIN_CHECKED of them); [] when it reads shapes or params, or
        when there are more."""
        if value.shape_dependent or value.param_dependent:
            return []
        domains = {h: self.state.hps[h].domain() for h in value.hps if h in self.state.hps}
        if len(domains) != len(value.hps) or any(d is None for d in domains.values()):
            return []
        points = [{}]
        for hp, domain in domains.items():
            points = [dict(p, **{hp: v}) for p in points for v in domain]
            if len(points) > MAX_DOMAIN_CHECKED:
                return []
        out = []
        for point in points:
            try:
                out.append(evaluate(value, point))
            except (ArithmeticError, TypeError, ValueError):
                continue  # reported where that configuration is resolved
        return out

    # ---- expressions
    def constant(self, expr, env: Env, what: str, symbols: bool = False):
        value = self.expr(expr, env, Scope(), what, symbols=symbols)
        if isinstance(value, Sym | Tensor):
            self.state.error(TypeMismatch(f"expected a constant for {what}, found "
                                          f"{describe(value)}", expr.pos))
            return None
        return value

    def expr(self, e, env: Env, scope: Scope, what: str, hp_name: tuple = (),
             symbols: bool = False):
        """Evaluate an expression to a constant, a Tensor or a Sym (None after an error)."""
        try:
            return self._expr(e, env, scope, hp_name, symbols)
        except ArchError as err:
            self.state.error(err)
            return None

    def _expr(self, e, env, scope, hp_name, symbols):
        if isinstance(e, ast.Number | ast.String | ast.Constant):
            return e.value
        if isinstance(e, ast.Name):
            return self._name(e, env, scope, symbols)
        if isinstance(e, ast.InRef):
            if env.inflow is None:
                raise StructureError(
                    "'in' names no tensor here: it is the input of a block or of a "
                    "structure's body, and a call's arguments at the top of 'graph' have none",
                    e.pos, self._in_hint())
            return env.inflow
        if isinstance(e, ast.Attribute):
            return self._attribute(e, env, scope)
        if isinstance(e, ast.Subscript):
            return self._subscript(e, env, scope)
        if isinstance(e, ast.BinOp):
            return self._arith(e.op, [e.left, e.right], env, scope, e.pos, hp_name)
        if isinstance(e, ast.UnaryOp):
            v = self._number(e.operand, env, scope, hp_name)
            return combine("neg", v) if e.op == "-" else v
        if isinstance(e, ast.Compare):
            return self._arith(e.op, [e.left, e.right], env, scope, e.pos, hp_name)
        if isinstance(e, ast.BoolOp):
            args = [self._expr(o, env, scope, hp_name, False) for o in e.operands]
            return combine(e.op, *args)
        if isinstance(e, ast.Sequence):
            items = [self._expr(i, env, scope, hp_name, symbols) for i in e.items]
            if any(isinstance(i, Tensor) for i in items):
                raise TypeMismatch("expected values in a list, found a tensor", e.pos)
            return combine("seq", *items)
        if isinstance(e, ast.Conditional):
            return self._conditional(e, env, scope, hp_name, symbols)
        if isinstance(e, ast.HpChoice):
            return self._hp_choice(e, env, scope, hp_name)
        if isinstance(e, ast.Call):
            return self._call_value(e, env, scope, hp_name, symbols)
        if isinstance(e, ast.Chain):
            raise TypeMismatch("expected a value, found a chain of layers", e.pos)
        raise StructureError(f"expected a value, found {type(e).__name__.lower()}",
                             getattr(e, "pos", None))

    def _in_hint(self) -> str:
        """How to name a tensor at the top of `graph` instead of `in`."""
        x = next(iter(self.state.inputs), "x")
        return (f"name the tensor: {x}.channels, or bind it first (y = {x} -> ...) and "
                "write y.channels")

    def _name(self, e: ast.Name, env, scope, symbols):
        try:
            value = env.lookup(e.id)
        except KeyError:
            if symbols:
                return e.id
            raise UnknownName(f"undefined name '{e.id}'", e.pos,
                              self.unknown_hint(e.id, env, scope)) from None
        if isinstance(value, Derived):
            return self._derived(value, scope, e.pos)
        if isinstance(value, Function):
            raise TypeMismatch(f"expected a value, found {describe(value)}", e.pos,
                               f"call it: {e.id}(...)")
        if isinstance(value, Sym) and value.op == "hp" and value.args[0] in self.state.named_hps:
            self.use_named(value.args[0], scope, e.pos)
        return value

    @contextmanager
    def _nested(self, what: str, pos):
        """One more let or function call inside the ones being evaluated, up to a limit."""
        if self.depth >= MAX_CALL_DEPTH:
            raise RecursionLimit(f"unbounded recursion: {what} is nested more than "
                                 f"{MAX_CALL_DEPTH} deep", pos,
                                 "make sure a conditional ends the recursion on a constant")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def _derived(self, d: Derived, scope: Scope, pos):
        """A `let`'s value where it is used: evaluated in the names it was written among, under
        the condition of the use (so the hps it reads are active exactly where it is used)."""
        with self._nested(f"let '{d.name}'", pos):
            value = self._expr(d.expr, d.env, scope, d.hp_path + (d.name,), True)
        if isinstance(value, Tensor):
            raise TypeMismatch(f"let '{d.name}' names a tensor; a let names a value", d.pos,
                               f"bind a tensor with: {d.name} = ...")
        return value

    def _conditional(self, e: ast.Conditional, env, scope, hp_name, symbols):
        """`a if c else b`: a constant `c` picks its branch now; one on hps keeps both, each
        evaluated under the hp values that take it."""
        test = self._expr(e.test, env, scope, hp_name, False)
        if isinstance(test, Tensor):
            raise TypeMismatch("expected a condition, found a tensor", e.test.pos)
        if not isinstance(test, Sym):
            return self._expr(e.body if test else e.orelse, env, scope, hp_name, symbols)
        yes, no = self._branch_scopes(test, scope)
        then = self._expr(e.body, env, yes, hp_name, symbols)
        orelse = self._expr(e.orelse, env, no, hp_name, symbols)
        for value, branch in ((then, e.body), (orelse, e.orelse)):
            if isinstance(value, Tensor):
                raise TypeMismatch("expected a value, found a tensor", pos_of(branch, e.pos))
        return Sym("if", (test, then, orelse))

    def _branch_scopes(self, test: Sym, scope: Scope) -> tuple[Scope, Scope]:
        """The scopes of a conditional's two branches: narrowed to the values of the one hp
        the test reads that take each branch, else both `scope`."""
        if len(test.hps) != 1 or test.shape_dependent or test.param_dependent:
            return scope, scope
        hp = next(iter(test.hps))
        domain = scope.domain_of(hp) or self.state.hps[hp].domain()
        if domain is None:
            return scope, scope
        truth = {v: bool(evaluate(test, {hp: v})) for v in domain}
        yes = tuple(v for v in domain if truth[v])
        no = tuple(v for v in domain if not truth[v])
        return (scope.narrowed(hp, yes) if yes else scope,
                scope.narrowed(hp, no) if no else scope)

    def _attribute(self, e: ast.Attribute, env, scope):
        base = self._expr(e.value, env, scope, (), False)
        if not isinstance(base, Tensor):
            raise TypeMismatch(f"expected a tensor before '.{e.attr}', found {describe(base)}",
                               e.pos)
        if e.attr == "shape":
            return Sym("shape", (base.node, "shape"))
        if e.attr not in SHAPE_ATTRS:
            raise UnknownName(f"tensors have no attribute '{e.attr}'", e.pos,
                              did_you_mean(e.attr, SHAPE_ATTRS + ("shape",))
                              or "expected one of: " + ", ".join(SHAPE_ATTRS + ("shape",)))
        return Sym("shape", (base.node, e.attr))

    def _subscript(self, e: ast.Subscript, env, scope):
        base = self._expr(e.value, env, scope, (), False)
        index = self._expr(e.index, env, scope, (), False)
        if isinstance(base, Sym) and base.op == "shape" and base.args[1] == "shape":
            if not isinstance(index, int):
                raise TypeMismatch(f"expected an integer index, found {describe(index)}",
                                   e.index.pos)
            return Sym("shape", (base.args[0], index))
        if isinstance(base, tuple) and isinstance(index, int):
            if not -len(base) <= index < len(base):
                raise RangeError(f"index {index} is out of range for {len(base)} items",
                                 e.index.pos)
            return base[index]
        raise TypeMismatch(f"expected a list or a shape to index, found {describe(base)}", e.pos)

    def _number(self, e, env, scope, hp_name):
        v = self._expr(e, env, scope, hp_name, False)
        if isinstance(v, Tensor) or isinstance(v, str | tuple) or v is None:
            raise TypeMismatch(f"expected a number, found {describe(v)}", e.pos)
        return v

    def _arith(self, op, operands, env, scope, pos, hp_name):
        numeric = op not in ("==", "!=")
        args = [self._number(o, env, scope, hp_name) if numeric
                else self._expr(o, env, scope, hp_name, True) for o in operands]
        if any(isinstance(a, Tensor) for a in args):
            raise TypeMismatch("expected values to compare, found a tensor", pos)
        try:
            return combine(op, *args)
        except ZeroDivisionError:
            raise TypeMismatch("division by zero", pos) from None
        except (TypeError, OverflowError, ValueError) as exc:
            raise TypeMismatch(f"cannot compute {op}: {exc}", pos) from None

    def _call_value(self, e: ast.Call, env, scope, hp_name, symbols):
        if e.func in HP_FUNCTIONS:
            return self._hp_range(e, env, scope, hp_name)
        if e.func in BUILTINS:
            return self._builtin(e, env, scope, hp_name)
        function = env.visible_value(e.func)
        if isinstance(function, Function):
            return self._apply(function, e, env, scope, hp_name)
        if self.is_layer(e.func):
            raise TypeMismatch(f"expected a value, found a call of layer '{e.func}'", e.pos,
                               "layers go in chains: x -> " + e.func + "(...)")
        raise UnknownName(f"unknown function '{e.func}'", e.pos, did_you_mean(
            e.func, list(BUILTINS) + list(HP_FUNCTIONS) + ["choice"]))

    def _builtin(self, e: ast.Call, env, scope, hp_name):
        """A builtin function's value: now for constants, else a Sym."""
        args = [self._number(a, env, scope, hp_name) for a in e.args]
        names = BUILTIN_KEYWORDS.get(e.func, ())
        for k in e.keywords:
            if k.name not in names[len(args):]:
                raise ArgumentError(f"{e.func}() has no keyword argument '{k.name}'"
                                    if k.name not in names else
                                    f"{e.func}(): argument '{k.name}' is given twice", k.pos,
                                    f"{e.func}({', '.join(names)})" if names else None)
        given = {k.name: self._number(k.value, env, scope, hp_name) for k in e.keywords}
        missing = [n for n in names[len(args):] if n not in given]
        if given and missing and missing[0] != names[-1]:
            raise ArgumentError(f"{e.func}(): missing argument '{missing[0]}'", e.pos)
        args += [given[n] for n in names[len(args):] if n in given]
        try:
            return combine("call", e.func, *args)
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            raise ArgumentError(f"{e.func}(): {exc}", e.pos) from None

    def _apply(self, function: Function, e: ast.Call, env, scope, hp_name):
        """A `def`'s value at a call: its parameters bound to the call's arguments (evaluated
        in the caller's names), its expression evaluated in the names it was written among."""
        try:
            return self._function_value(function, e, env, scope, hp_name)
        except RecursionLimit as err:
            if self.depth > 0:  # report it once, at the outermost call
                raise
            raise RecursionLimit(err.message, e.pos, err.hint) from None

    def _function_value(self, function: Function, e: ast.Call, env, scope, hp_name):
        decl = function.decl
        given = self._function_args(decl, e, env, scope, hp_name)
        values: dict = {}
        with self._nested(f"function '{decl.name}'", e.pos):
            for p in decl.params:
                if p.name in given:
                    values[p.name] = given[p.name]
                elif p.default is not None:
                    values[p.name] = self._expr(p.default, Env(dict(values), function.env),
                                                scope, hp_name, True)
                else:
                    raise ArgumentError(f"{decl.name}(): missing argument '{p.name}'", e.pos,
                                        f"{decl.name}({', '.join(q.name for q in decl.params)})")
            value = self._expr(decl.value, Env(values, function.env), scope, hp_name, True)
        if isinstance(value, Tensor):
            raise TypeMismatch(f"function '{decl.name}' gives a tensor; a function gives a "
                               "value", decl.value.pos)
        return value

    def _function_args(self, decl: ast.FunctionDecl, e: ast.Call, env, scope, hp_name) -> dict:
        """A `def` call's arguments by parameter name, evaluated."""
        params = [p.name for p in decl.params]
        if len(e.args) > len(params):
            raise ArgumentError(f"{decl.name}() takes {len(params)} argument"
                                f"{'s' if len(params) != 1 else ''}, found {len(e.args)}",
                                pos_of(e.args[len(params)], e.pos),
                                f"{decl.name}({', '.join(params)})")
        nodes = dict(zip(params, e.args, strict=False))
        for k in e.keywords:
            if k.name not in params or k.name in nodes:
                raise ArgumentError(f"{decl.name}() has no parameter '{k.name}'"
                                    if k.name not in params else
                                    f"argument '{k.name}' is given twice", k.pos,
                                    did_you_mean(k.name, params))
            nodes[k.name] = k.value
        given = {}
        for name, node in nodes.items():
            value = self._expr(node, env, scope, hp_name, True)
            if isinstance(value, Tensor):
                raise TypeMismatch(f"{decl.name}(): expected a value for '{name}', found "
                                   f"{describe(value)}", pos_of(node, e.pos))
            given[name] = value
        return given

    # ---- hyperparameters
    def _hp_target(self, scope: Scope, hp_name: tuple, kind: str, pos) -> str:
        if not hp_name:
            raise StructureError(f"a {kind} hyperparameter cannot be used here", pos)
        name = "/".join(hp_name)
        existing = self.state.hps.get(name)
        if existing is not None and existing.origin != pos:
            n = 1
            while f"{name}_{n}" in self.state.hps and self.state.hps[f"{name}_{n}"].origin != pos:
                n += 1
            name = f"{name}_{n}"
        return name

    def _hp_choice(self, e: ast.HpChoice, env, scope, hp_name) -> Sym:
        """`choice(a, b, ...)` -> the hp it declares, as a symbol."""
        name = self._hp_target(scope, hp_name, Hp.CHOICE, e.pos)
        if not e.args:
            raise RangeError("empty choice: expected at least one value", e.pos)
        values, options = self._choice_values(e, env, scope)
        default = self._choice_default(e, values, env)
        self.declare(HpSpec(name, Hp.CHOICE, default, e.pos, values=tuple(values), origin=e.pos,
                            options=tuple(options)), scope)
        return Sym("hp", (name,))

    def _choice_values(self, e: ast.HpChoice, env, scope) -> tuple[list, list]:
        """A choice's distinct constant values, and (name, arguments) of its values written as
        calls, such as `adam(beta_1=0.8)`."""
        values, options = [], []
        for a in e.args:
            if isinstance(a, ast.Call) and not self.is_layer(a.func) and a.func not in BUILTINS \
                    and a.func not in HP_FUNCTIONS \
                    and not isinstance(env.visible_value(a.func), Function):
                kwargs = {k.name: self.constant(k.value, env, f"option '{k.name}'", symbols=True)
                          for k in a.keywords}
                values.append(a.func)
                options.append((a.func, kwargs))
                continue
            v = self._expr(a, env, scope, (), True)
            if isinstance(v, Sym | Tensor) or v is None and not isinstance(a, ast.Constant):
                raise TypeMismatch(f"expected constant choice values, found {describe(v)}",
                                   pos_of(a, e.pos))
            values.append(v)
        values = unify_numbers(values, e.pos)
        for k, v in enumerate(values):
            if v in values[:k]:
                raise DuplicateName(f"value {v!r} appears twice in choice",
                                    pos_of(e.args[k], e.pos))
        return values, options

    def _choice_default(self, e: ast.HpChoice, values: list, env):
        kw = self._hp_keywords(e.keywords, ("default",), env)
        default = kw.get("default", values[0])
        if isinstance(default, int) and any(isinstance(v, float) for v in values):
            default = float(default)
        if default not in values:
            raise RangeError(f"default {default!r} is not one of the values", e.pos)
        return default

    def _hp_keywords(self, keywords, allowed, env) -> dict:
        out = {}
        for k in keywords:
            if k.name not in allowed:
                raise ArgumentError(f"unknown argument '{k.name}'", k.pos,
                                    did_you_mean(k.name, allowed) or
                                    "expected " + ", ".join(allowed))
            out[k.name] = self.constant(k.value, env, f"'{k.name}'", symbols=True)
        return out

    def _hp_range(self, e: ast.Call, env, scope, hp_name) -> Sym:
        kind = e.func
        name = self._hp_target(scope, hp_name, kind, e.pos)
        if kind == Hp.BOOL:
            if e.args:
                raise ArgumentError("bool() takes only default=", e.pos)
            kw = self._hp_keywords(e.keywords, ("default",), env)
            default = kw.get("default", False)
            if not isinstance(default, bool):
                raise TypeMismatch(f"expected true or false as default, found {default!r}", e.pos)
            self.declare(HpSpec(name, Hp.BOOL, default, e.pos, origin=e.pos), scope)
            return Sym("hp", (name,))
        spec = self._range_spec(e, kind, name, env)
        self.declare(spec, scope)
        return Sym("hp", (name,))

    def _range_spec(self, e: ast.Call, kind: str, name: str, env) -> HpSpec:
        """`int(low, high, ...)` or `float(...)` -> its checked HpSpec."""
        low, high, kw = self._range_args(e, kind, env)
        sampling = kw.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise TypeMismatch(f"expected sampling linear, log or reverse_log, found {sampling!r}",
                               e.pos)
        if sampling != "linear" and low <= 0:
            raise RangeError(f"{sampling} sampling needs a positive lower bound, found {low}",
                             e.pos)
        step = kw.get("step", 1 if kind == Hp.INT else None)
        if step is not None and step <= 0:
            raise RangeError(f"expected a positive step, found {step}", e.pos)
        _check_size(low, high, step, sampling, e.pos)
        default = kw.get("default", low)
        spec = HpSpec(name, kind, float(default) if kind == Hp.FLOAT else default, e.pos,
                      min=low if kind == Hp.INT else float(low),
                      max=high if kind == Hp.INT else float(high), step=step, sampling=sampling,
                      origin=e.pos)
        _check_range_default(spec, default, low, high, e.pos)
        return spec

    def _range_args(self, e: ast.Call, kind: str, env) -> tuple:
        """A range's bounds and keywords (step, sampling, default), of the kind's type."""
        if len(e.args) != 2:
            raise ArgumentError(f"{kind}() takes a lower and an upper bound, found "
                                f"{len(e.args)} positional arguments", e.pos,
                                f"{kind}(1, 8, step=1, sampling=linear, default=1)")
        low, high = (self._bound(a, env) for a in e.args)
        kw = self._hp_keywords(e.keywords, ("step", "sampling", "default"), env)
        for v, a in ((low, e.args[0]), (high, e.args[1]), (kw.get("step"), e)):
            if v is not None and not _is_number(v, kind):
                raise TypeMismatch(f"expected {'an integer' if kind == Hp.INT else 'a number'}, "
                                   f"found {describe(v)}", pos_of(a, e.pos))
        if high < low:
            raise RangeError(f"reversed range: {kind}({low}, {high}) has its upper bound below "
                             "the lower", e.pos, f"write {kind}({high}, {low})")
        if high == low:
            raise RangeError(f"empty range: {kind}({low}, {high}) has one value", e.pos,
                             "use the constant instead")
        return low, high, kw

    def _bound(self, expr, env):
        """A range's bound: a constant, or the error that stops the range's declaration."""
        value = self._expr(expr, env, Scope(), (), False)
        if isinstance(value, Sym | Tensor):
            raise TypeMismatch(f"expected a constant for a bound, found {describe(value)}",
                               expr.pos)
        return value

    def declare(self, spec: HpSpec, scope: Scope) -> None:
        """Record an hp under the scope's condition, joining conditions of repeated uses."""
        spec = spec.with_condition(scope.condition)
        existing = self.state.hps.get(spec.name)
        if existing is None:
            self.state.hps[spec.name] = spec
            return
        if existing.origin != spec.origin:
            self.state.error(DuplicateName(f"hyperparameter '{spec.name}' is defined twice",
                                           spec.pos, f"first defined at {existing.pos}"))
            return
        if not existing.same_space(spec):
            self.state.error(DuplicateName(f"hyperparameter '{spec.name}' is declared twice with "
                                           "different values", spec.pos,
                                           f"first declared at {existing.pos}"))
            return
        self.state.hps[spec.name] = existing.with_condition(
            union(existing.condition, spec.condition, lambda h: self.state.hps[h].domain()))

    def use_named(self, name: str, scope: Scope, pos, kind: str | None = None) -> str:
        decl = self.state.named_hps[name]
        self.state.used_named.add(name)
        value = decl.value
        if isinstance(value, ast.HpChoice):
            self._hp_choice(value, self.state.globals, scope, (name,))
        elif isinstance(value, ast.Call) and value.func in HP_FUNCTIONS:
            self._hp_range(value, self.state.globals, scope, (name,))
        else:
            raise TypeMismatch("expected choice(...), int(...), float(...) or bool(...) after "
                               f"'hp {name} =', found {describe_ast(value)}", value.pos,
                               "for a constant, use 'param'")
        if kind is not None and self.state.hps[name].kind != kind:
            raise TypeMismatch(f"expected a {kind} hyperparameter, '{name}' is a "
                               f"{self.state.hps[name].kind}", pos)
        return name


def _is_number(v, kind: str) -> bool:
    """Whether `v` is a value of an `int(...)` (Hp.INT) or `float(...)` range."""
    return isinstance(v, int if kind == Hp.INT else (int, float)) and not isinstance(v, bool)


MAX_STEPPED_VALUES = 10**6  # a float range with a step, or a log-stepped one, lists its values


def _check_size(low, high, step, sampling, pos) -> None:
    """A range whose values are listed (a float step, a log step) must be short enough to."""
    if not step or not isinstance(step, int | float):
        return
    if sampling != "linear" and step > 1:
        count = math.log(high / low) / math.log(step) if step > 1 + 1e-12 else math.inf
    elif isinstance(step, float) or isinstance(low, float):
        count = (high - low) / step
    else:
        return
    if count > MAX_STEPPED_VALUES:
        raise RangeError(f"the range has more than {MAX_STEPPED_VALUES:,} values", pos,
                         "use a larger step")


def _check_range_default(spec: HpSpec, default, low, high, pos) -> None:
    """A range's default must be of its type, within low..high and on its step grid."""
    domain = spec.domain()
    on_grid = domain is None or any(abs(default - d) <= 1e-9 * max(1, abs(d)) for d in domain)
    if not _is_number(default, spec.kind) or not low <= default <= high or not on_grid:
        raise RangeError(f"default {default!r} is not in the range {low}..{high}", pos)

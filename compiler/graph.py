"""AST modules -> template graph: a networkx MultiDiGraph of every layer the template can
produce, blocks expanded, with optional / repeat / choice / merge / if kept as structure.

Every node and edge carries the `condition` (a conjunction of `hp in {values}` clauses) under
which it exists; `select` nodes join the alternatives of a structure and pass on the one input
whose condition holds. Clusters (graph.graph["clusters"]) record the structure for drawing.
Hyperparameters are collected in declaration order with their conditions (see `hyper.py`).

The expander's parts share one `scope.ExpansionState` and call each other through their
methods: `Expander` (the file's declarations and checks), `ChainExpansion` (bodies, chains, op
and block calls), `TrainSection` (the train section), `structures.StructureExpansion`
(optional, residual, repeat, choice, if, merge), `expressions.ExpressionEvaluation` (values
and hyperparameters).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

import networkx as nx

from . import arguments, ast, ops, vocab
from .diagnostics import (
    ArchErrors,
    ArgumentError,
    DuplicateName,
    RecursionLimit,
    SourcePos,
    StructureError,
    TypeMismatch,
    UnknownName,
    did_you_mean,
)
from .expressions import HP_FUNCTIONS, ExpressionEvaluation
from .hyper import HpSpec
from .imports import Loaded, load, templates_dir
from .kinds import Cluster, Node
from .scope import (
    Derived,
    Env,
    ExpansionState,
    Function,
    Scope,
    describe,
    describe_ast,
    first_bad_item,
    item_pos,
    name_pos,
    optimizer_args,
    pos_of,
    setting_names,
    setting_problem,
    split_hint,
)
from .structures import MergeInput, StructureExpansion
from .values import BUILTINS, Sym, Tensor

__all__ = ["Expander", "Loaded", "TemplateGraph", "build_graph", "load", "templates_dir"]

MAX_DEPTH = 32
TRAIN_KEYS = ("optimizer", "learning_rate", "batch_size", "epochs", "loss", "metrics",
              "loss_weights")
PER_OUTPUT = ("loss", "metrics", "loss_weights")  # settings that may be {output: value}


COSTS = ("params", "bytes", "flops", "peak_activation_bytes")  # what a constraint may bound


@dataclass(frozen=True)
class Constraint:
    """A budget on a cost of every architecture: `cost op limit` (op `<=` or `<`); `source`
    says where it comes from (`the constraint` at `pos`, or an option: `--max-params`)."""

    cost: str
    op: str
    limit: float
    pos: SourcePos | None = None
    source: str = "the constraint"

    def holds(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value < self.limit

    def show(self) -> str:
        limit = int(self.limit) if float(self.limit).is_integer() else self.limit
        return f"{self.cost} {self.op} {limit:,}"


@dataclass
class TemplateGraph:
    """A checked template as plain data: its graph, hyperparameters, inputs, outputs and
    training settings. The stages that consume it (space, resolve, lower, draw, search) take
    it as an argument; `pipeline.Template` adds the verbs that chain them."""

    name: str
    path: str
    graph: nx.MultiDiGraph
    hyperparameters: list[HpSpec]
    inputs: dict[str, tuple]
    outputs: dict[str, str]
    train: dict[str, object]
    params: dict[str, object]
    sources: dict[str, str]
    is_library: bool = False
    train_options: dict[str, dict] = field(default_factory=dict)  # optimizer -> its arguments
    constraints: tuple[Constraint, ...] = ()  # `constraint params <= 2e6`: resolve checks them

    @property
    def clusters(self) -> dict[str, dict]:
        return self.graph.graph["clusters"]

    def hp(self, name: str) -> HpSpec:
        return next(h for h in self.hyperparameters if h.name == name)


# ---------------------------------------------------------------- entry point


def build_graph(path: str | Path | Loaded, params: dict | None = None,
                inputs: dict[str, tuple] | None = None) -> TemplateGraph:
    """Load, expand and check a template file.

    Args:
        path: an .arch file, or one already loaded (`imports.load`): it is not parsed again.
        params: values for the template's `param`s, overriding their defaults.
        inputs: shapes for the template's inputs, overriding the declared ones.
    Returns:
        The TemplateGraph with its graph and hyperparameters.
    Raises:
        ArchError: a fault found while loading or parsing.
        ArchErrors: every fault found while expanding and checking.
    """
    with gc_paused():
        loaded = path if isinstance(path, Loaded) else load(path)
        expander = Expander(loaded, params or {}, inputs or {})
        return expander.run()


@contextmanager
def gc_paused():
    """Pause CPython's cyclic garbage collector while a template is parsed and expanded.

    Parsing and expansion allocate many objects that all stay alive (the Lark tree, the AST,
    the graph), so every collection finds almost nothing, and the full ones walk the whole
    growing heap: with the collector on, a 10,000-line template took 1.5x as long as with
    it off (bench/README.md). Cycles made meanwhile are collected once it resumes.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ---------------------------------------------------------------- expansion


class Expander:
    """A loaded template with its param and input overrides -> the checked TemplateGraph.

    Declares the file's params, hps and inputs, expands the graph section through the chain
    expander, reads the train section, and checks the file's own blocks on their own. The
    parts share one ExpansionState and call each other through their methods only.
    """

    def __init__(self, loaded: Loaded, params: dict, inputs: dict | None = None):
        self.state = ExpansionState(loaded, dict(params), dict(inputs or {}))
        self.exprs = ExpressionEvaluation(self.state)
        self.chains = ChainExpansion(self.state, self.exprs)
        self.train = TrainSection(self.state, self.exprs)

    # ---- top level
    def run(self) -> TemplateGraph:
        """Expand and check the whole file.

        Raises:
            StructureError: the file declares nothing.
            ArchErrors: every fault found.
        """
        module = self.state.module
        decls = module.declarations
        if not decls:
            raise StructureError("empty file: expected a template or blocks",
                                 SourcePos(module.path, 0, 0),
                                 "a template starts with: template NAME")
        self._declare_globals(decls)
        graphs = module.of_type(ast.GraphDecl)
        header = module.of_type(ast.TemplateDecl)
        self._check_header(header, graphs)
        if graphs and self.state.inputs:
            self._expand_graph(graphs[0])
        train = self.train.settings(decls)
        self.train.check_losses(train, decls)
        constraints = tuple(filter(None, map(self._constraint,
                                             module.of_type(ast.ConstraintDecl))))
        self._check_unused()
        self._check_blocks_standalone()
        if self.state.errors:
            raise ArchErrors(self.state.errors)
        return self._template(header[0].name if header else Path(module.path).stem, train,
                              is_library=not graphs, constraints=constraints)

    def _template(self, name: str, train: dict, is_library: bool,
                  constraints: tuple = ()) -> TemplateGraph:
        state = self.state
        state.graph.graph["name"] = name
        return TemplateGraph(name, state.module.path, state.graph, list(state.hps.values()),
                             state.inputs, state.outputs, train, state.params,
                             state.loaded.sources, is_library=is_library,
                             train_options=state.train_options, constraints=constraints)

    def _constraint(self, d: ast.ConstraintDecl) -> Constraint | None:
        """`constraint params <= 2e6`: a known cost, `<=` or `<`, a positive constant (params
        allowed); None after a fault. `resolve` checks every architecture against it."""
        error = self.state.error
        if d.cost not in COSTS:
            error(UnknownName(f"expected a cost ({', '.join(COSTS)}) in a constraint, found "
                              f"'{d.cost}'", d.pos, did_you_mean(d.cost, COSTS)))
            return None
        if d.op not in ("<=", "<"):
            error(StructureError(f"expected <= or < in a constraint, found '{d.op}'", d.pos,
                                 "a constraint is an upper bound: constraint params <= 2e6"))
            return None
        limit = self.exprs.constant(d.limit, self.state.globals, "a constraint's limit")
        if isinstance(limit, bool) or not isinstance(limit, int | float) or limit <= 0:
            if limit is not None:
                error(TypeMismatch(f"expected a positive number as a constraint's limit, found "
                                   f"{limit!r}", d.limit.pos))
            return None
        return Constraint(d.cost, d.op, limit, d.pos)

    def _check_header(self, header, graphs) -> None:
        error = self.state.error
        for extra in header[1:]:
            error(DuplicateName("a second 'template' header", extra.pos,
                                f"first at {header[0].pos}"))
        for extra in graphs[1:]:
            error(DuplicateName("a second 'graph' section", extra.pos,
                                f"first at {graphs[0].pos}"))
        if header and not graphs:
            error(StructureError(f"template '{header[0].name}' has no 'graph {{ }}' section",
                                 header[0].pos, "a file with only blocks needs no header"))
        if graphs and not self.state.module.of_type(ast.InputDecl):
            error(StructureError("the graph has no inputs", graphs[0].pos,
                                 "declare one: input image [32, 32, 3]"))

    # ---- declarations
    def _define_global(self, name: str, value, pos: SourcePos) -> None:
        state = self.state
        if name in state.globals.names:
            state.error(DuplicateName(f"'{name}' is defined twice", pos))
            return
        if isinstance(value, Tensor) and (name in state.loaded.blocks or name in ops.OPS):
            state.error(DuplicateName(f"'{name}' is already the name of a block or op", pos,
                                      "a tensor name would hide the layer in chains"))
            return
        state.globals.names[name] = value

    def _declare_globals(self, decls) -> None:
        for d in decls:
            if isinstance(d, ast.ParamDecl):
                self._declare_param(d)
            elif isinstance(d, ast.HpDecl):
                self.state.named_hps[d.name] = d
                self._define_global(d.name, Sym("hp", (d.name,)), d.pos)
            elif isinstance(d, ast.InputDecl):
                self._declare_input(d)
            elif isinstance(d, ast.Let):
                self._define_global(d.name, self._derived(d.name, d.value, d.pos), d.pos)
            elif isinstance(d, ast.FunctionDecl):
                self._declare_function(d)
        self._check_overrides(decls)

    def _derived(self, name: str, value, pos: SourcePos) -> Derived:
        """A top-level `let`: it sees the globals declared before it."""
        globals_ = self.state.globals
        return Derived(name, value, Env(dict(globals_.names)), (), pos)

    def _declare_function(self, d: ast.FunctionDecl) -> None:
        """A `def`: it sees every global (so it may call itself, or a later `def`)."""
        if d.name in BUILTINS or d.name in HP_FUNCTIONS or self.exprs.is_layer(d.name):
            builtin = d.name in BUILTINS or d.name in HP_FUNCTIONS
            what = "a builtin function" if builtin else "an op or block"
            self.state.error(DuplicateName(f"'{d.name}' is already {what}", d.pos,
                                           "choose another name"))
            return
        self._define_global(d.name, Function(d, self.state.globals), d.pos)

    def _declare_param(self, d: ast.ParamDecl) -> None:
        value = self.state.param_overrides.get(d.name)
        if value is None and self._reads_hps(d.value):  # a derived value, not a constant
            self.state.derived_params.add(d.name)
            self._define_global(d.name, self._derived(d.name, d.value, d.pos), d.pos)
            return
        if value is None:
            value = self.exprs.constant(d.value, self.state.globals, f"param '{d.name}'",
                                        symbols=True)
        self.state.params[d.name] = value
        self._define_global(d.name, value, d.pos)

    def _reads_hps(self, expr) -> bool:
        """Whether an expression reads a hyperparameter: a named hp, a let, a function, or
        an inline hp."""
        if isinstance(expr, ast.HpChoice):
            return True
        if isinstance(expr, ast.Name):
            value = self.state.globals.visible_value(expr.id)
            return isinstance(value, Sym | Derived)
        if isinstance(expr, ast.Call) and (
                expr.func in HP_FUNCTIONS
                or isinstance(self.state.globals.visible_value(expr.func), Function)):
            return True
        children = [getattr(expr, f.name) for f in fields(expr)] if is_dataclass(expr) else []
        flat = [c for child in children
                for c in (child if isinstance(child, tuple) else (child,))]
        return any(self._reads_hps(c) for c in flat if is_dataclass(c))

    def _check_overrides(self, decls) -> None:
        """Every overridden input and param must be one the template declares."""
        state = self.state
        declared = {d.name for d in decls if isinstance(d, ast.InputDecl)}
        for name in sorted(set(state.input_overrides) - declared):
            state.error(UnknownName(f"no input '{name}' in this template", None))
        for name in sorted(set(state.param_overrides) - set(state.params)
                           - state.derived_params):
            hint = did_you_mean(name, state.params) or (
                f"the template's params are: {', '.join(state.params) or 'none'}")
            state.error(UnknownName(f"no param '{name}' in this template", None, hint))

    def _declare_input(self, d: ast.InputDecl) -> None:
        dims = [self._dimension(e) for e in d.shape]
        if not d.shape:
            self.state.error(TypeMismatch("expected at least one dimension, found []", d.pos))
        if d.name in self.state.input_overrides:
            dims = self._overridden_shape(d, self.state.input_overrides[d.name])
        self.state.inputs[d.name] = tuple(dims)
        self.state.graph.add_node(d.name, kind=Node.INPUT, op=Node.INPUT, label=d.name,
                                  shape=tuple(dims), condition=(), cluster=None, pos=d.pos,
                                  args={})
        self._define_global(d.name, Tensor(d.name), d.pos)

    def _dimension(self, e) -> int | None:
        """One dimension of an input's declared shape; None after a fault."""
        v = self.exprs.constant(e, self.state.globals, "an input dimension")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            if v is not None:
                self.state.error(TypeMismatch(
                    f"expected a positive integer dimension, found {v!r}", e.pos))
            return None
        return v

    def _overridden_shape(self, d: ast.InputDecl, shape) -> tuple:
        shape = tuple(shape)
        if not shape or any(not isinstance(x, int) or isinstance(x, bool) or x < 1 for x in shape):
            self.state.error(TypeMismatch(f"input '{d.name}': expected positive integer "
                                          f"dimensions, found {shape}", None))
        elif len(shape) != len(d.shape):
            self.state.error(TypeMismatch(f"input '{d.name}' has {len(d.shape)} dimensions, "
                                          f"found {len(shape)} in the override {shape}", d.pos))
        return shape

    # ---- checks after expansion
    def _check_unused(self) -> None:
        state = self.state
        if state.errors:
            return  # an expansion cut short by an error leaves uses unseen
        for name, decl in state.named_hps.items():
            if name not in state.used_named:
                state.error(UnknownName(f"hyperparameter '{name}' is never used", decl.pos,
                                        "use it, or delete the declaration"))
        if state.outputs:
            self._check_inputs_used()

    def _check_inputs_used(self) -> None:
        state = self.state
        reach = set()
        for node in state.outputs.values():
            reach |= nx.ancestors(state.graph, node) | {node}
        for name in state.inputs:
            if name not in reach:
                decl = next(d for d in state.module.of_type(ast.InputDecl) if d.name == name)
                state.error(StructureError(f"input '{name}' is never used", decl.pos))

    def _check_blocks_standalone(self) -> None:
        """Expand each block of this file once with symbolic arguments, to find its faults."""
        for block in self.state.module.of_type(ast.BlockDecl):
            probe = ExpansionState(self.state.loaded, shallow=True, globals=self.state.globals)
            probe.named_hps.update(self.state.named_hps)  # a body may branch on a named hp
            ChainExpansion(probe, ExpressionEvaluation(probe)).block_alone(block)
            for err in probe.errors:
                self.state.error(err)

    # ---- graph
    def _expand_graph(self, decl: ast.GraphDecl) -> None:
        env = self.state.globals.child()
        result = self.chains.body(decl.body, env, Scope(), top=True)
        if not self.state.outputs and result is not None:
            self.chains.add_output("output", result, Scope(), decl.body.pos)
        if not self.state.outputs and not self.state.errors:
            self.state.error(StructureError("the graph produces no output", decl.pos))


class ChainExpansion:
    """Bodies, chains, op calls and block calls -> template-graph nodes and edges.

    The structural stages go to a StructureExpansion, which hands the bodies inside them
    back through this class's `body`, `value_tensor`, `stage` and `call`.
    """

    def __init__(self, state: ExpansionState, exprs: ExpressionEvaluation):
        self.state = state
        self.exprs = exprs
        self.structures = StructureExpansion(state, exprs, self)
        s = self.structures
        self._structural = {ast.Optional: s.optional, ast.Residual: s.residual,
                            ast.Repeat: s.repeat, ast.ChoiceNode: s.choice_node,
                            ast.If: s.if_stage}

    # ---- bodies and chains
    def body(self, body: ast.Body, env: Env, scope: Scope, top: bool = False) -> Tensor | None:
        """The statements of `body` -> the tensor of the last one (env.inflow when empty)."""
        if not body.statements:
            self.state.error(StructureError(
                "expected at least one statement, found an empty body", body.pos))
            return env.inflow
        result = None
        for stmt in body.statements:
            if isinstance(stmt, ast.Output) and not top:
                self.state.error(StructureError(
                    "'output' is only allowed in the graph section", stmt.pos))
                continue
            if isinstance(stmt, ast.Let):
                self._let(stmt, env, scope)
                continue
            result = self._statement(stmt, env, scope, result)
        if all(isinstance(s, ast.Let) for s in body.statements):
            self.state.error(StructureError("expected a chain after the lets, found none",
                                            body.pos, "a body ends with a chain of layers"))
        return result

    def _let(self, stmt: ast.Let, env: Env, scope: Scope) -> None:
        """`let NAME = EXPR` in a body: a value named for the statements after it (it sees the
        names bound before it, and `in`)."""
        if stmt.name in env.names:
            self.state.error(DuplicateName(f"'{stmt.name}' is defined twice in this body",
                                           stmt.pos))
            return
        snapshot = Env(dict(env.names), env.parent, env.inflow)
        env.names[stmt.name] = Derived(stmt.name, stmt.value, snapshot, scope.hp_path,
                                       stmt.pos)

    def _statement(self, stmt, env: Env, scope: Scope, result) -> Tensor | None:
        """One statement -> its tensor; `result`, the previous one's, when it is skipped."""
        label = stmt.name if isinstance(stmt, ast.Assign) else None
        if label is not None and label in env.names:
            self.state.error(DuplicateName(f"'{label}' is assigned twice in this body", stmt.pos))
            return result
        result = self.value_tensor(stmt.chain, env, scope, label_hint=label)
        if isinstance(stmt, ast.Assign):
            self._bind(env, stmt.name, result, stmt.pos)
        elif isinstance(stmt, ast.Output) and result is not None:
            self.add_output(stmt.name or "output", result, scope, stmt.pos)
        return result

    def _bind(self, env: Env, name: str, value, pos: SourcePos) -> None:
        if name in ops.OPS or name in self.state.loaded.blocks:
            self.state.error(DuplicateName(f"'{name}' is already the name of an op or block",
                                           pos))
        env.names[name] = value

    def add_output(self, name: str, value: Tensor, scope: Scope, pos: SourcePos) -> None:
        """An output node `name` returning `value`."""
        state = self.state
        if name in state.outputs:
            state.error(DuplicateName(f"output '{name}' is defined twice", pos))
            return
        node = f"{name}:output" if name in state.graph else name
        state.graph.add_node(node, kind=Node.OUTPUT, op=Node.OUTPUT, label=name,
                             condition=scope.condition, cluster=scope.cluster, pos=pos, args={})
        state.graph.add_edge(value.node, node, slot=0, condition=scope.condition)
        state.outputs[name] = node

    def value_tensor(self, value, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        """Expand a chain (or a single expression standing for one) into a tensor."""
        if not isinstance(value, ast.Chain):
            return self.head(value, env, scope, label_hint)
        current = self.head(value.head, env, scope, label_hint if not value.stages else None)
        if current is None:
            return None
        failed = False
        for i, stage in enumerate(value.stages):
            last = i == len(value.stages) - 1
            out = self.stage(stage, current, env, scope, label_hint if last else None)
            failed = failed or out is None
            current = current if out is None else out  # a faulty stage: check the rest too
        return None if failed else current

    def head(self, head, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        """The first element of a chain -> its tensor: a layer on env.inflow, a merge, a
        structure on env.inflow, or an expression naming a tensor."""
        if isinstance(head, ast.Name) and self.exprs.is_layer(head.id) and not isinstance(
                env.visible_value(head.id), Tensor):
            head = ast.Call(head.id, (), (), None, head.pos)
        if isinstance(head, ast.Merge):
            return self.structures.merge(head, env, scope)
        if isinstance(head, ast.Call) and self.exprs.is_layer(head.func):
            return self._layer_head(head, env, scope, label_hint)
        if isinstance(head, ast.Structural.__args__):
            if env.inflow is None:
                self.state.error(StructureError("a structural stage needs an input here", head.pos,
                                                "start the chain from an input or a bound name"))
                return None
            return self.stage(head, env.inflow, env, scope, label_hint)
        return self._tensor_value(head, env, scope)

    def _layer_head(self, head: ast.Call, env: Env, scope: Scope, label_hint) -> Tensor | None:
        if env.inflow is None and not _is_merge_op(head.func):
            self.state.error(StructureError(
                f"'{head.func}' has no input here", head.pos,
                "start the chain from an input or a bound name: image -> " + head.func))
            return None
        return self.call(head, env.inflow, env, scope, label_hint, at_head=True)

    def _tensor_value(self, head, env: Env, scope: Scope) -> Tensor | None:
        value = self.exprs.expr(head, env, scope, "a tensor")
        if isinstance(value, Tensor):
            return value
        if isinstance(head, ast.Name) and head.id not in env.visible():
            self.state.error(UnknownName(f"undefined name '{head.id}'", head.pos,
                                         self.exprs.unknown_hint(head.id, env, scope)))
        elif value is not None:
            self.state.error(TypeMismatch(f"expected a tensor, found {describe(value)}",
                                          getattr(head, "pos", None)))
        return None

    def stage(self, stage, x: Tensor, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        """One stage of a chain applied to `x` -> its tensor."""
        if isinstance(stage, ast.Call):
            return self.call(stage, x, env, scope, label_hint)
        handler = self._structural.get(type(stage))
        if handler is None:
            self.state.error(StructureError("'merge' must start a chain: it has its own inputs",
                                            stage.pos))
            return None
        return handler(stage, x, env, scope)

    # ---- op calls
    def call(self, call: ast.Call, x: Tensor, env: Env, scope: Scope, label_hint=None,
             at_head: bool = False) -> Tensor | None:
        """An op or block call applied to `x` -> its tensor."""
        if call.func in self.state.loaded.blocks:
            return self.block_call(call, x, env, scope, label_hint)
        spec = ops.lookup(call.func)
        if spec is None:
            known = ops.names() + list(self.state.loaded.blocks)
            self.state.error(UnknownName(f"unknown op or block '{call.func}'", name_pos(call),
                                         did_you_mean(call.func, known)
                                         or "see docs/language.md for the list of ops"))
            return None
        label = self.state.label(scope, call.func, call.label or label_hint, call.pos)
        if spec.inputs != 1:
            return self.merge_op(call, spec, x, env, scope, label, at_head)
        kwargs = self.op_args(call, spec, env, scope, label, call.args)
        node = self.state.node(scope, label, kind=Node.OP, op=spec.name, args=kwargs,
                               pos=call.pos)
        self.state.edge(x, node, scope.condition)
        return Tensor(node)

    def merge_op(self, call, spec, x, env, scope, label, at_head) -> Tensor | None:
        """An op joining several tensors: `x` (unless it heads a chain) and the arguments; an
        argument that is an `optional` drops out of the join when it is off."""
        lists = [t for arg in call.args if spec.inputs == "many"
                 for t in (self._tensor_list(arg, env) or ())]
        # `x -> concat(feats)` where the list holds x already (a repeat's outputs after it)
        # joins each tensor once
        inputs = [] if at_head or x in lists else [MergeInput(x, scope.condition)]
        listed = False
        for arg in call.args:
            tensors = self._tensor_list(arg, env) if spec.inputs == "many" else None
            listed = listed or tensors is not None
            inputs += ([MergeInput(t, scope.condition) for t in tensors] if tensors is not None
                       else [self._merge_input(arg, env.child(env.inflow), scope)])
        if listed and len(inputs) == 1 and inputs[0] is not None:
            return inputs[0].tensor  # a list of one tensor joins to that tensor
        kwargs = self.op_args(call, spec, env, scope, label, ())
        wanted = "two or more" if spec.inputs == "many" else str(spec.inputs)
        if len(inputs) < 2 or spec.inputs != "many" and len(inputs) != spec.inputs:
            self.state.error(ArgumentError(
                f"{spec.name} joins {wanted} tensors, found {len(inputs)}", call.pos,
                f"{spec.name}(a, b) or x -> {spec.name}(b)"))
        if any(i is None for i in inputs) or not self._inputs_stay(call, spec, inputs):
            return None
        node = self.state.node(scope, label, kind=Node.OP, op=spec.name, args=kwargs,
                               pos=call.pos)
        for slot, i in enumerate(inputs):
            if i.tensor is None:
                continue
            tag = {"drops": True, "branch": f"{i.hp}=true"} if i.hp is not None else {}
            self.state.edge(i.tensor, node, i.condition, slot=slot, **tag)
        return Tensor(node)

    @staticmethod
    def _tensor_list(arg, env: Env) -> tuple | None:
        """The tensors of an argument that names a list of them (a repeat's earlier outputs,
        `concat(layers)`), else None."""
        head = arg.head if isinstance(arg, ast.Chain) and not arg.stages else arg
        if not isinstance(head, ast.Name):
            return None
        value = env.visible_value(head.id)
        if isinstance(value, tuple) and value and all(isinstance(t, Tensor) for t in value):
            return value
        return None

    def _merge_input(self, arg, env: Env, scope: Scope) -> MergeInput | None:
        """An argument of a merge op: a chain, or an `optional` (alone, or after a tensor:
        `x -> optional b { }`) that is an input only when it is on."""
        optional, source = _optional_argument(arg)
        if optional is None:
            tensor = self.value_tensor(arg, env, scope)
            return None if tensor is None else MergeInput(tensor, scope.condition)
        x = env.inflow if source is None else self.head(source, env, scope)
        if x is None:
            if source is None:
                self.state.error(StructureError("a structural stage needs an input here",
                                                optional.pos, "start the chain from an input "
                                                "or a bound name"))
            return None
        return self.structures.optional_input(optional, x, env, scope)

    def _inputs_stay(self, call, spec, inputs: list[MergeInput]) -> bool:
        """A merge op keeps at least one input whatever its optional inputs are; `subtract`
        (two tensors, in order) takes no optional input."""
        optional = [i for i in inputs if i.hp is not None]
        if optional and spec.inputs != "many":
            self.state.error(StructureError(
                f"{spec.name} takes no optional input: it joins exactly {spec.inputs} tensors",
                optional[0].pos, "put the optional around the whole subtraction"))
            return False
        if inputs and all(i.hp is not None and i.may_drop for i in inputs):
            when = " and ".join(f"{h} = false" for h in dict.fromkeys(i.hp for i in inputs))
            self.state.error(StructureError(
                f"{spec.name} can be left with no input: when {when}", call.pos,
                "give it one input that is always there"))
            return False
        return True

    def op_args(self, call, spec, env, scope, label, positional) -> dict:
        """An op call's arguments, bound to the op's parameters and evaluated."""
        keywords = self._keywords(call)
        try:
            bound = arguments.bind(spec, list(positional), keywords)
        except arguments.OpArgError as exc:
            self.state.error(ArgumentError(str(exc), _bind_fault_pos(exc, call, keywords,
                                                                     positional), exc.hint))
            return {}
        hp_prefix = scope.hp_path + (label,)
        args = {}
        for name, node in bound.items():
            expr = node.value if isinstance(node, ast.Keyword) else node
            if getattr(spec.arg(name), "type", None) == "layer":
                args[name] = self._layer_arg(spec, name, expr, env, scope, label)
                continue
            value = self.exprs.expr(expr, env, scope, f"argument '{name}'",
                                    hp_name=hp_prefix + (name,), symbols=True)
            self._check_arg(spec, name, value, pos_of(node, call.pos), env)
            args[name] = value
        return args

    def _layer_arg(self, spec, name: str, expr, env: Env, scope: Scope, label: str):
        """An op call written as an argument (`bidirectional(lstm(64))`) -> (op, its bound
        arguments as pairs); its hyperparameters are named under `LABEL/OP/`."""
        if isinstance(expr, ast.Name):
            expr = ast.Call(expr.id, (), (), None, expr.pos)
        accepted = spec.arg(name).choices
        if not isinstance(expr, ast.Call) or expr.func not in accepted:
            found = f"a call of {expr.func}" if isinstance(expr, ast.Call) else describe_ast(expr)
            self.state.error(TypeMismatch(
                f"{spec.name}: {name}: expected a call of {' or '.join(accepted)}, found {found}",
                pos_of(expr, None), f"{spec.name}({accepted[0]}(64))"))
            return None
        inner = ops.lookup(expr.func)
        kwargs = self.op_args(expr, inner, env, scope, f"{label}/{inner.name}", expr.args)
        return inner.name, tuple(kwargs.items())

    def _keywords(self, call: ast.Call) -> dict:
        keywords = {}
        for kw in call.keywords:
            if kw.name in keywords:
                self.state.error(ArgumentError(f"argument '{kw.name}' is given twice", kw.pos))
            keywords[kw.name] = kw
        return keywords

    def _check_arg(self, spec, name: str, value, pos, env: Env) -> None:
        """The first of `value`'s possible values that the op's argument rejects, reported."""
        arg = spec.arg(name)
        if arg is None or value is None:
            return
        for v in self.exprs.domain_values(value):
            message = arguments.check_value(arg, v)
            if message:
                message, hint = split_hint(message)
                if hint is None and isinstance(value, str) and value not in vocab.ACTIVATIONS:
                    hint = did_you_mean(value, sorted(env.visible()))
                self.state.error(TypeMismatch(f"{spec.name}: {message}", pos, hint))
                return

    # ---- block calls
    def _too_deep(self, block, call: ast.Call, x, scope) -> Tensor | None:
        """A block call past MAX_DEPTH: a recursion that does not end, or a chain of distinct
        blocks too long. A block checked on its own stops quietly at the second (the graph
        that uses it reports it once, where it goes past the limit)."""
        if block.name not in scope.block_stack:
            if self.state.shallow:
                return x
            self.state.error(RecursionLimit(
                f"block '{block.name}' is nested more than {MAX_DEPTH} deep (a block calling a "
                f"block, {MAX_DEPTH} times)", call.pos,
                f"block calls may nest {MAX_DEPTH} deep; flatten the chain of blocks"))
            return None
        self.state.error(RecursionLimit(
            f"unbounded recursion: block '{block.name}' is nested more than {MAX_DEPTH} deep",
            call.pos, "make sure an 'if' ends the recursion on a constant or hyperparameter"))
        return None

    def block_call(self, call: ast.Call, x, env, scope, label_hint) -> Tensor | None:
        """A block call applied to `x` -> the tensor of the block's body."""
        block = self.state.loaded.blocks[call.func]
        if scope.depth >= MAX_DEPTH:
            return self._too_deep(block, call, x, scope)
        label = self.state.label(scope, call.func, call.label or label_hint, call.pos)
        inner = replace(scope, hp_path=scope.hp_path + (label,),
                        node_path=scope.node_path + (label,), depth=scope.depth + 1,
                        block_stack=scope.block_stack + (block.name,))
        inner = self.state.cluster(inner, Cluster.BLOCK, label, call.pos, block=block.name)
        names = self.block_args(call, block, env, scope, inner)
        if names is None:
            return None
        if self.state.shallow and block.name in scope.block_stack:
            return x
        return self.body(block.body, Env(names, self.file_globals(block), x), inner)

    def file_globals(self, block: ast.BlockDecl) -> Env:
        """What a block body sees besides its parameters: the params and named hps of the
        file that defines it (lexical scope), never tensors."""
        if block.pos.file != self.state.module.path:
            return Env()
        return Env({k: v for k, v in self.state.globals.names.items()
                    if not isinstance(v, Tensor)})

    def block_env(self, block: ast.BlockDecl, values: dict) -> Env:
        """Where a parameter's default is evaluated: the parameters before it, the file's."""
        return Env(dict(values), self.file_globals(block))

    def block_args(self, call, block, env, scope, inner) -> dict | None:
        """The block's parameters -> their values at this call; None after a fault (every
        argument is still evaluated, to report its faults too)."""
        given, ok = self._given_args(call, block)
        values = {}
        for p in block.params:
            if p.name in given or p.default is not None:
                values[p.name] = self._param_value(p, given, block, values, env, scope, inner)
            elif ok:
                params = ", ".join(q.name for q in block.params)
                self.state.error(ArgumentError(f"block '{block.name}': missing argument "
                                               f"'{p.name}'", call.pos, f"{block.name}({params})"))
                ok = False
        return values if ok else None

    def _given_args(self, call: ast.Call, block: ast.BlockDecl) -> tuple[dict, bool]:
        """The call's arguments by parameter name, and whether they fit the parameters."""
        params = [p.name for p in block.params]
        ok = len(call.args) <= len(params)
        if not ok:
            self.state.error(ArgumentError(
                f"block '{block.name}' takes {len(params)} argument"
                f"{'s' if len(params) != 1 else ''} ({', '.join(params)}), found {len(call.args)}",
                pos_of(call.args[len(params)], call.pos)))
        given = dict(zip(params, call.args, strict=False))
        for kw in call.keywords:
            if kw.name not in params:
                self.state.error(ArgumentError(f"block '{block.name}' has no parameter "
                                               f"'{kw.name}'", kw.pos,
                                               did_you_mean(kw.name, params)))
                ok = False
            elif kw.name in given:
                self.state.error(ArgumentError(f"argument '{kw.name}' is given twice", kw.pos))
                ok = False
            else:
                given[kw.name] = kw.value
        return given, ok

    def _param_value(self, p: ast.BlockParam, given: dict, block, values: dict, env, scope,
                     inner):
        """A parameter's value: its argument in the caller's env, else its default in the
        block's (`values`: the parameters before it)."""
        hp_name = inner.hp_path + (p.name,)
        if p.name in given:
            return self.exprs.expr(given[p.name], env, scope, f"argument '{p.name}'",
                                   hp_name=hp_name, symbols=True)
        return self.exprs.expr(p.default, self.block_env(block, values), inner,
                               f"parameter '{p.name}'", hp_name=hp_name, symbols=True)

    def block_alone(self, block: ast.BlockDecl) -> None:
        """Expand `block` once on a stand-in input "in", its parameters symbolic: the faults
        of a block the graph may never call go to the state's errors."""
        self.state.graph.add_node("in", kind=Node.INPUT, op=Node.INPUT, label="in",
                                  condition=(), cluster=None, pos=block.pos, args={})
        names = {p.name: Sym("param", (p.name,)) for p in block.params}
        for p in block.params:
            if p.default is not None:
                names[p.name] = self.exprs.expr(p.default, self.block_env(block, names),
                                                Scope(hp_path=(block.name,)), "a default",
                                                hp_name=(block.name, p.name), symbols=True)
        scope = Scope(hp_path=(block.name,), node_path=(block.name,),
                      block_stack=(block.name,), depth=1)
        self.body(block.body, Env(names, self.file_globals(block), Tensor("in")), scope)


def _optional_argument(arg) -> tuple:
    """(the optional, the tensor expression before it or None) when a merge op's argument is
    an `optional` or `x -> optional`; (None, None) otherwise."""
    if not isinstance(arg, ast.Chain):
        return None, None
    if not arg.stages and isinstance(arg.head, ast.Optional):
        return arg.head, None
    if len(arg.stages) == 1 and isinstance(arg.stages[0], ast.Optional) \
            and not isinstance(arg.head, ast.Structural.__args__):
        return arg.stages[0], arg.head
    return None, None


def _is_merge_op(name: str) -> bool:
    spec = ops.lookup(name)
    return spec is not None and spec.inputs != 1


def _bind_fault_pos(exc: arguments.OpArgError, call: ast.Call, keywords: dict,
                    positional) -> SourcePos:
    """Where an argument that does not bind is: its keyword, its position, else the call."""
    if exc.keyword in keywords:
        return keywords[exc.keyword].pos
    if exc.index is not None and exc.index < len(positional):
        return pos_of(positional[exc.index], call.pos)
    return call.pos


# ---------------------------------------------------------------- train section


class TrainSection:
    """The `train { ... }` section -> its settings (optimizer, learning_rate, batch_size,
    epochs, loss, metrics), checked; an optimizer call's arguments go to the state's
    train_options."""

    def __init__(self, state: ExpansionState, exprs: ExpressionEvaluation):
        self.state = state
        self.exprs = exprs

    def settings(self, decls) -> dict:
        """The settings of the file's train section ({} without one)."""
        trains = [d for d in decls if isinstance(d, ast.TrainDecl)]
        for extra in trains[1:]:
            self.state.error(DuplicateName("a second 'train' section", extra.pos))
        settings: dict[str, object] = {}
        for s in trains[0].settings if trains else ():
            if self._known_once(s, settings):
                settings[s.name] = self._value(s)
        return settings

    def _known_once(self, s: ast.Setting, settings: dict) -> bool:
        if s.name not in TRAIN_KEYS:
            self.state.error(UnknownName(f"unknown training setting '{s.name}'", s.pos,
                                         did_you_mean(s.name, TRAIN_KEYS)
                                         or "expected one of: " + ", ".join(TRAIN_KEYS)))
            return False
        if s.name in settings:
            self.state.error(DuplicateName(f"'{s.name}' is set twice", s.pos))
            return False
        return True

    def _value(self, s: ast.Setting):
        if isinstance(s.value, ast.Mapping):
            return self._per_output(s)
        call = s.value if isinstance(s.value, ast.Call) else None
        if s.name == "optimizer" and call is not None and call.func in vocab.OPTIMIZERS:
            return self._optimizer_call(call)
        value = self.exprs.expr(s.value, self.state.globals, Scope(), s.name, hp_name=(s.name,),
                                symbols=True)
        self._check_setting(s, value)
        return value

    def _per_output(self, s: ast.Setting) -> dict | None:
        """`loss = {label: categorical_crossentropy, box: huber}` -> {output: value}, each
        checked as the setting's value; a loss mapping names every output."""
        state, outputs = self.state, self.state.outputs
        if s.name not in PER_OUTPUT:
            state.error(TypeMismatch(f"{s.name}: expected one value, found a value per output",
                                     s.value.pos, "only " + ", ".join(PER_OUTPUT)
                                     + " take {output: value}"))
            return None
        values: dict = {}
        for name, expr in s.value.entries:
            if name in values or name not in outputs:
                state.error(DuplicateName(f"{s.name}: output '{name}' is given twice", expr.pos)
                            if name in values else UnknownName(
                                f"{s.name}: no output '{name}'", expr.pos,
                                did_you_mean(name, outputs)
                                or f"the outputs are: {', '.join(outputs) or 'none'}"))
                continue
            values[name] = self.exprs.expr(expr, state.globals, Scope(), s.name,
                                           hp_name=(s.name, name), symbols=True)
            if not (s.name == "loss" and values[name] is None):  # none: an untrained output
                self._check_setting(replace(s, value=expr), values[name])
        missing = [o for o in outputs if o not in values]
        if s.name == "loss" and missing:
            state.error(ArgumentError(f"loss: no loss for output '{missing[0]}'", s.value.pos,
                                      "give every output a loss (none for an output that no "
                                      "loss trains)"))
        return values

    def _optimizer_call(self, call: ast.Call) -> str:
        """`optimizer = adam(beta_1=0.8)` -> "adam"; its arguments go to train_options."""
        kwargs = {k.name: self.exprs.constant(k.value, self.state.globals, f"option '{k.name}'",
                                              symbols=True) for k in call.keywords}
        self._check_optimizer_args(call.func, kwargs, call.pos)
        self.state.train_options[call.func] = kwargs
        return call.func

    def check_losses(self, train: dict, decls) -> None:
        """A list of losses gives one per output, in the order of the `output` statements."""
        loss, outputs = train.get("loss"), self.state.outputs
        if isinstance(loss, tuple) and outputs and len(loss) != len(outputs):
            setting = next(s for d in decls if isinstance(d, ast.TrainDecl)
                           for s in d.settings if s.name == "loss")
            self.state.error(ArgumentError(f"expected {len(outputs)} losses, one per output "
                                           f"({', '.join(outputs)}), found {len(loss)}",
                                           setting.value.pos))

    def _check_setting(self, s: ast.Setting, value) -> None:
        values = self.exprs.domain_values(value) if isinstance(value, Sym) else [value]
        if isinstance(value, Sym) and value.op == "hp" and s.name == "optimizer":
            for label, kwargs in self.state.hps[value.args[0]].options:
                self._check_optimizer_args(label, kwargs, s.pos)
        for v in values:
            message = setting_problem(s.name, v)
            if message:
                bad = first_bad_item(s.name, v)
                hint = did_you_mean(bad, setting_names(s.name)) if isinstance(bad, str) else None
                self.state.error(TypeMismatch(f"{s.name}: {message}", item_pos(s.value, bad),
                                              hint))
                return

    def _check_optimizer_args(self, name: str, kwargs: dict, pos) -> None:
        info = vocab.OPTIMIZERS.get(name)
        if info is None:
            return
        allowed = optimizer_args(info)
        for k in kwargs:
            if allowed and k not in allowed:
                self.state.error(ArgumentError(f"optimizer {name} has no argument '{k}'", pos,
                                               did_you_mean(k, allowed)))

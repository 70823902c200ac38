"""AST modules -> template graph: a networkx MultiDiGraph of every layer the template can
produce, blocks expanded, with optional / repeat / choice / merge / if kept as structure.

Every node and edge carries the `condition` (a conjunction of `hp in {values}` clauses) under
which it exists; `select` nodes join the alternatives of a structure and pass on the one input
whose condition holds. Clusters (graph.graph["clusters"]) record the structure for drawing.
Hyperparameters are collected in declaration order with their conditions (see `hyper.py`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import networkx as nx

from . import ast, ops
from .diagnostics import (
    ArchError,
    ArchErrors,
    ArgumentError,
    DuplicateName,
    ImportErr,
    RangeError,
    RecursionLimit,
    SourcePos,
    StructureError,
    TypeMismatch,
    UnknownName,
    did_you_mean,
)
from .hyper import Condition, HpSpec, clause, union
from .parse import parse_file
from .values import BUILTINS, SHAPE_ATTRS, Sym, Tensor, combine, evaluate

MAX_DEPTH = 32
TRAIN_KEYS = ("optimizer", "learning_rate", "batch_size", "epochs", "loss", "metrics")
HP_FUNCTIONS = ("int", "float", "bool")


@dataclass
class Template:
    """A checked template: its graph, hyperparameters, inputs, outputs and training settings."""

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

    @property
    def clusters(self) -> dict[str, dict]:
        return self.graph.graph["clusters"]

    def hp(self, name: str) -> HpSpec:
        return next(h for h in self.hyperparameters if h.name == name)

    def resolve(self, values=None):
        """The concrete architecture for `values` (a mapping, a kt.HyperParameters, or None
        for the defaults): see resolve.py."""
        from .resolve import resolve

        return resolve(self, values)

    def build(self, values=None, compile: bool = True):
        """A keras.Model for `values`, compiled with the template's training settings."""
        from .lower import lower

        return lower(self.resolve(values), compile=compile)

    def cost(self, values=None) -> dict[str, int]:
        """Parameters, float32 bytes, FLOPs (multiply-adds) and peak activation bytes."""
        return self.resolve(values).cost()

    def space(self):
        """The keras_tuner.HyperParameters of this template, conditions included."""
        from .space import declare_space

        return declare_space(self)

    def hypermodel(self):
        """A keras_tuner.HyperModel that any Keras Tuner tuner can search."""
        from .hypermodel import ArchHyperModel

        return ArchHyperModel(self)


@dataclass(frozen=True)
class Scope:
    hp_path: tuple = ()
    node_path: tuple = ()
    condition: Condition = ()
    cluster: str | None = None
    domains: tuple = ()  # ((hp, values), ...) narrowed by the condition
    depth: int = 0
    block_stack: tuple = ()
    share: tuple = ()  # (this repetition's path prefix, the first repetition's prefix)

    def domain_of(self, hp: str):
        return dict(self.domains).get(hp)

    def narrowed(self, hp: str, values: tuple) -> Scope:
        domains = dict(self.domains)
        if hp in domains:
            values = tuple(v for v in domains[hp] if v in values)
        domains[hp] = values
        new = clause(hp, values)
        if any(c.hp == hp for c in self.condition):
            condition = tuple(new if c.hp == hp else c for c in self.condition)
        else:
            condition = self.condition + (new,)
        return replace(self, condition=condition, domains=tuple(domains.items()))


@dataclass
class Env:
    """Names visible in a body: block parameters, loop indices, bound tensors, then the parent."""

    names: dict = field(default_factory=dict)
    parent: Env | None = None
    inflow: Tensor | None = None

    def lookup(self, name: str):
        env = self
        while env is not None:
            if name in env.names:
                return env.names[name]
            env = env.parent
        raise KeyError(name)

    def visible_value(self, name: str):
        try:
            return self.lookup(name)
        except KeyError:
            return None

    def visible(self) -> set[str]:
        env, seen = self, set()
        while env is not None:
            seen |= set(env.names)
            env = env.parent
        return seen

    def child(self, inflow: Tensor | None = None) -> Env:
        return Env({}, self, inflow if inflow is not None else self.inflow)


# ---------------------------------------------------------------- loading


@dataclass
class Loaded:
    main: ast.Module
    blocks: dict[str, ast.BlockDecl]
    sources: dict[str, str]


def templates_dir() -> Path:
    """The bundled templates/ directory (installed package data or the source tree)."""
    try:
        return Path(str(resources.files("archc.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def load(path: str | Path) -> Loaded:
    """Parse a template file and, transitively, the block files it imports."""
    main = parse_file(path)
    loaded = Loaded(main, {}, {main.path: main.source})
    _load_imports(main, loaded, [str(Path(main.path).resolve())])
    return loaded


def _load_imports(module: ast.Module, loaded: Loaded, stack: list[str]) -> None:
    for decl in module.declarations:
        if isinstance(decl, ast.BlockDecl):
            _add_block(decl, loaded)
        elif isinstance(decl, ast.Import):
            _load_import(decl, module, loaded, stack)


def _add_block(decl: ast.BlockDecl, loaded: Loaded) -> None:
    first = loaded.blocks.get(decl.name)
    if first is not None and first is not decl:
        if first.pos.file != decl.pos.file or first.pos != decl.pos:
            raise DuplicateName(f"block '{decl.name}' is defined twice", decl.pos,
                                f"first defined at {first.pos}")
    if decl.name in ops.OPS:
        raise DuplicateName(f"block '{decl.name}' has the name of an op", decl.pos,
                            "choose another name; ops cannot be redefined")
    loaded.blocks[decl.name] = decl


def _resolve_import(decl: ast.Import, module: ast.Module) -> Path | None:
    here = Path(module.path).parent
    for base in (here, templates_dir()):
        candidate = base / decl.path
        if candidate.is_file():
            return candidate
    return None


def _load_import(decl: ast.Import, module: ast.Module, loaded: Loaded, stack: list[str]) -> None:
    target = _resolve_import(decl, module)
    if target is None:
        raise ImportErr(f"cannot find imported file '{decl.path}'", decl.pos,
                        f"paths are relative to {Path(module.path).parent or '.'} "
                        "or to the bundled templates/ directory")
    key = str(target.resolve())
    if key in stack:
        cycle = " -> ".join(Path(p).name for p in stack[stack.index(key):] + [key])
        raise ImportErr(f"import cycle: {cycle}", decl.pos)
    if any(str(Path(p).resolve()) == key for p in loaded.sources):
        return
    imported = parse_file(target)
    loaded.sources[imported.path] = imported.source
    for d in imported.declarations:
        if not isinstance(d, ast.BlockDecl | ast.Import):
            raise StructureError("an imported file may hold only blocks and imports, found "
                                 f"'{type(d).__name__.replace('Decl', '').lower()}'", d.pos,
                                 f"imported from {decl.pos}")
    _load_imports(imported, loaded, stack + [key])


# ---------------------------------------------------------------- entry point


def build_graph(path: str | Path, params: dict | None = None,
                inputs: dict[str, tuple] | None = None) -> Template:
    """Load, expand and check a template file.

    Args:
        path: an .arch file.
        params: values for the template's `param`s, overriding their defaults.
        inputs: shapes for the template's inputs, overriding the declared ones.
    Returns:
        The Template with its graph and hyperparameters.
    Raises:
        ArchError: a fault found while loading or parsing.
        ArchErrors: every fault found while expanding and checking.
    """
    loaded = load(path)
    expander = Expander(loaded, params or {}, inputs or {})
    return expander.run()


# ---------------------------------------------------------------- expansion


class Expander:
    """Walks the AST, evaluating what is constant and keeping the rest as structure."""

    def __init__(self, loaded: Loaded, params: dict, inputs: dict | None = None):
        self.input_overrides = dict(inputs or {})
        self.loaded = loaded
        self.module = loaded.main
        self.g = nx.MultiDiGraph(clusters={})
        self.hps: dict[str, HpSpec] = {}
        self.errors: list[ArchError] = []
        self.labels: dict[tuple, Counter] = defaultdict(Counter)
        self.explicit: dict[tuple, set] = defaultdict(set)
        self.param_overrides = dict(params)
        self.named_hps: dict[str, tuple[ast.HpDecl, HpSpec | None]] = {}
        self.used_named: set[str] = set()
        self.inputs: dict[str, tuple] = {}
        self.outputs: dict[str, str] = {}
        self.params: dict[str, object] = {}
        self.globals = Env()
        self.shallow = False
        self._visible_names: list[str] = []
        self.anon_names: dict[tuple, str] = {}
        self.train_options: dict[str, dict] = {}

    # ---- errors
    def error(self, err: ArchError) -> None:
        key = (err.pos, err.message)
        if all((e.pos, e.message) != key for e in self.errors):
            self.errors.append(err)

    # ---- top level
    def run(self) -> Template:
        decls = self.module.declarations
        if not decls:
            raise StructureError("empty file: expected a template or blocks",
                                 SourcePos(self.module.path, 1, 1),
                                 "a template starts with: template NAME")
        self._declare_globals(decls)
        graphs = [d for d in decls if isinstance(d, ast.GraphDecl)]
        header = [d for d in decls if isinstance(d, ast.TemplateDecl)]
        self._check_header(header, graphs)
        if graphs and self.inputs:
            self._expand_graph(graphs[0])
        train = self._train(decls)
        self._check_losses(train, decls)
        self._check_unused()
        self._check_blocks_standalone()
        if self.errors:
            raise ArchErrors(self.errors)
        name = header[0].name if header else Path(self.module.path).stem
        self.g.graph["name"] = name
        return Template(name, self.module.path, self.g, list(self.hps.values()), self.inputs,
                        self.outputs, train, self.params, self.loaded.sources,
                        is_library=not graphs, train_options=self.train_options)

    def _check_header(self, header, graphs) -> None:
        for extra in header[1:]:
            self.error(DuplicateName("a second 'template' header", extra.pos,
                                     f"first at {header[0].pos}"))
        for extra in graphs[1:]:
            self.error(DuplicateName("a second 'graph' section", extra.pos,
                                     f"first at {graphs[0].pos}"))
        if header and not graphs:
            self.error(StructureError(f"template '{header[0].name}' has no 'graph {{ }}' section",
                                      header[0].pos, "a file with only blocks needs no header"))
        has_inputs = any(isinstance(d, ast.InputDecl) for d in self.module.declarations)
        if graphs and not has_inputs:
            self.error(StructureError("the graph has no inputs", graphs[0].pos,
                                      "declare one: input image [32, 32, 3]"))

    def _define_global(self, name: str, value, pos: SourcePos) -> None:
        if name in self.globals.names:
            self.error(DuplicateName(f"'{name}' is defined twice", pos))
            return
        if isinstance(value, Tensor) and (name in self.loaded.blocks or name in ops.OPS):
            self.error(DuplicateName(f"'{name}' is already the name of a block or op", pos,
                                     "a tensor name would hide the layer in chains"))
            return
        self.globals.names[name] = value

    def _declare_globals(self, decls) -> None:
        for d in decls:
            if isinstance(d, ast.ParamDecl):
                value = self.param_overrides.get(d.name)
                if value is None:
                    value = self.constant(d.value, self.globals, f"param '{d.name}'",
                                          symbols=True)
                self.params[d.name] = value
                self._define_global(d.name, value, d.pos)
            elif isinstance(d, ast.HpDecl):
                self.named_hps[d.name] = (d, None)
                self._define_global(d.name, Sym("hp", (d.name,)), d.pos)
            elif isinstance(d, ast.InputDecl):
                self._declare_input(d)
        for name in sorted(set(self.input_overrides) - {
                d.name for d in decls if isinstance(d, ast.InputDecl)}):
            self.error(UnknownName(f"no input '{name}' in this template", None))
        unknown = set(self.param_overrides) - set(self.params)
        for name in sorted(unknown):
            hint = did_you_mean(name, self.params) or (
                f"the template's params are: {', '.join(self.params) or 'none'}")
            self.error(UnknownName(f"no param '{name}' in this template", None, hint))

    def _declare_input(self, d: ast.InputDecl) -> None:
        dims = []
        for e in d.shape:
            v = self.constant(e, self.globals, "an input dimension")
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                if v is not None:
                    self.error(TypeMismatch(f"expected a positive integer dimension, found {v!r}",
                                            e.pos))
                v = None
            dims.append(v)
        if not d.shape:
            self.error(TypeMismatch("expected at least one dimension, found []", d.pos))
        if d.name in self.input_overrides:
            dims = self._overridden_shape(d, self.input_overrides[d.name])
        self.inputs[d.name] = tuple(dims)
        self.g.add_node(d.name, kind="input", op="input", label=d.name, shape=tuple(dims),
                        condition=(), cluster=None, pos=d.pos, args={})
        self._define_global(d.name, Tensor(d.name), d.pos)

    def _overridden_shape(self, d: ast.InputDecl, shape) -> tuple:
        shape = tuple(shape)
        if not shape or any(not isinstance(x, int) or isinstance(x, bool) or x < 1 for x in shape):
            self.error(TypeMismatch(f"input '{d.name}': expected positive integer dimensions, "
                                    f"found {shape}", None))
        elif len(shape) != len(d.shape):
            self.error(TypeMismatch(f"input '{d.name}' has {len(d.shape)} dimensions, found "
                                    f"{len(shape)} in the override {shape}", d.pos))
        return shape

    def _check_unused(self) -> None:
        if self.errors:
            return  # an expansion cut short by an error leaves uses unseen
        for name, (decl, _) in self.named_hps.items():
            if name not in self.used_named:
                self.error(UnknownName(f"hyperparameter '{name}' is never used", decl.pos,
                                       "use it, or delete the declaration"))
        if not self.outputs:
            return
        reach = set()
        for node in self.outputs.values():
            reach |= nx.ancestors(self.g, node) | {node}
        for name in self.inputs:
            if name not in reach:
                decl = next(d for d in self.module.of_type(ast.InputDecl) if d.name == name)
                self.error(StructureError(f"input '{name}' is never used", decl.pos))

    # ---- graph
    def _expand_graph(self, decl: ast.GraphDecl) -> None:
        env = self.globals.child()
        result = self.body(decl.body, env, Scope(), top=True)
        if not self.outputs and result is not None:
            self._add_output("output", result, Scope(), decl.body.pos)
        if not self.outputs and not self.errors:
            self.error(StructureError("the graph produces no output", decl.pos))

    def _add_output(self, name: str, value: Tensor, scope: Scope, pos: SourcePos) -> None:
        if name in self.outputs:
            self.error(DuplicateName(f"output '{name}' is defined twice", pos))
            return
        node = f"{name}:output" if name in self.g else name
        self.g.add_node(node, kind="output", op="output", label=name, condition=scope.condition,
                        cluster=scope.cluster, pos=pos, args={})
        self.g.add_edge(value.node, node, slot=0, condition=scope.condition)
        self.outputs[name] = node

    # ---- bodies and chains
    def body(self, body: ast.Body, env: Env, scope: Scope, top: bool = False) -> Tensor | None:
        result = None
        if not body.statements:
            self.error(StructureError("expected at least one statement, found an empty body",
                                      body.pos))
            return env.inflow
        for stmt in body.statements:
            if isinstance(stmt, ast.Output) and not top:
                self.error(StructureError("'output' is only allowed in the graph section",
                                          stmt.pos))
                continue
            label = stmt.name if isinstance(stmt, ast.Assign) else None
            if label is not None and label in env.names:
                self.error(DuplicateName(f"'{label}' is assigned twice in this body", stmt.pos))
                continue
            result = self.value_tensor(stmt.chain, env, scope, label_hint=label)
            if isinstance(stmt, ast.Assign):
                self._bind(env, stmt.name, result, stmt.pos)
            elif isinstance(stmt, ast.Output) and result is not None:
                self._add_output(stmt.name or "output", result, scope, stmt.pos)
        return result

    def _bind(self, env: Env, name: str, value, pos: SourcePos) -> None:
        if name in ops.OPS or name in self.loaded.blocks:
            self.error(DuplicateName(f"'{name}' is already the name of an op or block", pos))
        env.names[name] = value

    def value_tensor(self, value, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        """Expand a chain (or a single expression standing for one) into a tensor."""
        if isinstance(value, ast.Chain):
            current = self.head(value.head, env, scope,
                                label_hint if not value.stages else None)
            for i, stage in enumerate(value.stages):
                if current is None:
                    return None
                last = i == len(value.stages) - 1
                current = self.stage(stage, current, env, scope, label_hint if last else None)
            return current
        return self.head(value, env, scope, label_hint)

    def head(self, head, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        if isinstance(head, ast.Name) and self._is_layer(head.id) and not isinstance(
                env.visible_value(head.id), Tensor):
            head = ast.Call(head.id, (), (), None, head.pos)
        if isinstance(head, ast.Merge):
            return self.merge(head, env, scope)
        if isinstance(head, ast.Call) and self._is_layer(head.func):
            if env.inflow is None and not self._is_merge_op(head.func):
                self.error(StructureError(
                    f"'{head.func}' has no input here", head.pos,
                    "start the chain from an input or a bound name: image -> " + head.func))
                return None
            return self.call(head, env.inflow, env, scope, label_hint, at_head=True)
        if isinstance(head, ast.Structural.__args__):
            if env.inflow is None:
                self.error(StructureError("a structural stage needs an input here", head.pos,
                                          "start the chain from an input or a bound name"))
                return None
            return self.stage(head, env.inflow, env, scope, label_hint)
        value = self.expr(head, env, scope, "a tensor")
        if isinstance(value, Tensor):
            return value
        if isinstance(head, ast.Name) and head.id not in env.visible():
            self.error(UnknownName(f"undefined name '{head.id}'", head.pos, self._suggest(
                head.id, env)))
        elif value is not None:
            self.error(TypeMismatch(f"expected a tensor, found {_describe(value)}",
                                    getattr(head, "pos", None)))
        return None

    def _suggest(self, name: str, env: Env) -> str | None:
        return did_you_mean(name, list(env.visible()) + ops.names() + list(self.loaded.blocks))

    def _is_layer(self, name: str) -> bool:
        return name in self.loaded.blocks or ops.lookup(name) is not None

    def _is_merge_op(self, name: str) -> bool:
        spec = ops.lookup(name)
        return spec is not None and spec.inputs != 1

    def stage(self, stage, x: Tensor, env: Env, scope: Scope, label_hint=None) -> Tensor | None:
        if isinstance(stage, ast.Call):
            return self.call(stage, x, env, scope, label_hint)
        handler = {
            ast.Optional: self.optional, ast.Residual: self.residual, ast.Repeat: self.repeat,
            ast.ChoiceNode: self.choice_node, ast.If: self.if_stage,
        }.get(type(stage))
        if handler is None:
            self.error(StructureError("'merge' must start a chain: it has its own inputs",
                                      stage.pos))
            return None
        return handler(stage, x, env, scope)

    # ---- labels and nodes
    def label(self, scope: Scope, base: str, explicit: str | None, pos: SourcePos) -> str:
        key = scope.node_path
        if explicit:
            if explicit in self.explicit[key]:
                self.error(DuplicateName(f"label '{explicit}' is used twice in this scope", pos))
            self.explicit[key].add(explicit)
            return explicit
        while True:
            n = self.labels[key][base]
            self.labels[key][base] += 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in self.explicit[key]:
                return candidate

    def node(self, scope: Scope, label: str, **attrs) -> str:
        node_id = "/".join(scope.node_path + (label,))
        while node_id in self.g:
            node_id += "'"
        if scope.share and attrs.get("kind") == "op":
            attrs["shares"] = scope.share[1] + node_id[len(scope.share[0]):]
        self.g.add_node(node_id, label=label, condition=scope.condition, cluster=scope.cluster,
                        **attrs)
        return node_id

    def edge(self, src: Tensor, dst: str, condition: Condition, slot: int = 0, **attrs) -> None:
        self.g.add_edge(src.node, dst, slot=slot, condition=condition, **attrs)

    def select(self, scope: Scope, base: str, pos, branches: list, **attrs) -> Tensor:
        """A node passing on the one input whose condition holds. branches: (tensor, cond, tag)."""
        live = [(t, c, tag) for t, c, tag in branches if t is not None]
        if len(live) == 1 and live[0][1] == scope.condition:
            return live[0][0]
        node = self.node(scope, self.label(scope, base, None, pos), kind="select", op="select",
                         pos=pos, args={}, **attrs)
        for slot, (t, cond, tag) in enumerate(live):
            self.edge(t, node, cond, slot=slot, branch=tag)
        return Tensor(node)

    def cluster(self, scope: Scope, kind: str, label: str, pos, **info) -> Scope:
        cid = f"cluster_{len(self.g.graph['clusters'])}"
        self.g.graph["clusters"][cid] = dict(kind=kind, label=label, parent=scope.cluster,
                                             pos=pos, condition=scope.condition, **info)
        return replace(scope, cluster=cid)

    # ---- calls
    def call(self, call: ast.Call, x: Tensor, env: Env, scope: Scope, label_hint=None,
             at_head: bool = False) -> Tensor | None:
        if call.func in self.loaded.blocks:
            return self.block_call(call, x, env, scope, label_hint)
        spec = ops.lookup(call.func)
        if spec is None:
            self.error(UnknownName(f"unknown op or block '{call.func}'", _name_pos(call),
                                   did_you_mean(call.func, ops.names() + list(self.loaded.blocks))
                                   or "see docs/language.md for the list of ops"))
            return None
        label = self.label(scope, call.func, call.label or label_hint, call.pos)
        if spec.inputs != 1:
            return self.merge_op(call, spec, x, env, scope, label, at_head)
        kwargs = self.op_args(call, spec, env, scope, label, call.args, x)
        node = self.node(scope, label, kind="op", op=spec.name, args=kwargs, pos=call.pos)
        self.edge(x, node, scope.condition)
        return Tensor(node)

    def merge_op(self, call, spec, x, env, scope, label, at_head) -> Tensor | None:
        tensors = [] if at_head else [x]
        for arg in call.args:
            tensors.append(self.value_tensor(arg, env.child(env.inflow), scope))
        kwargs = self.op_args(call, spec, env, scope, label, (), x)
        wanted = "two or more" if spec.inputs == "many" else str(spec.inputs)
        if len(tensors) < 2 or spec.inputs != "many" and len(tensors) != spec.inputs:
            self.error(ArgumentError(f"{spec.name} joins {wanted} tensors, found {len(tensors)}",
                                     call.pos, f"{spec.name}(a, b) or x -> {spec.name}(b)"))
        if any(t is None for t in tensors):
            return None
        node = self.node(scope, label, kind="op", op=spec.name, args=kwargs, pos=call.pos)
        for slot, t in enumerate(tensors):
            self.edge(t, node, scope.condition, slot=slot)
        return Tensor(node)

    def op_args(self, call, spec, env, scope, label, positional, x) -> dict:
        hp_prefix = scope.hp_path + (label,)
        self._visible_names = sorted(env.visible())
        keywords = {}
        for kw in call.keywords:
            if kw.name in keywords:
                self.error(ArgumentError(f"argument '{kw.name}' is given twice", kw.pos))
            keywords[kw.name] = kw
        try:
            bound = ops.bind(spec, list(positional), keywords)
        except ops.OpArgError as exc:
            where = call.pos
            if exc.keyword in keywords:
                where = keywords[exc.keyword].pos
            elif exc.index is not None and exc.index < len(positional):
                where = _pos_of(positional[exc.index], call.pos)
            self.error(ArgumentError(str(exc), where, exc.hint))
            return {}
        args = {}
        for name, node in bound.items():
            value = self.expr(node.value if isinstance(node, ast.Keyword) else node,
                              env, scope, f"argument '{name}'", hp_name=hp_prefix + (name,),
                              symbols=True)
            self._check_arg(spec, name, value, _pos_of(node, call.pos))
            args[name] = value
        return args

    def _check_arg(self, spec, name: str, value, pos) -> None:
        arg = next((a for a in spec.args if a.name == name), None)
        if arg is None or value is None:
            return
        candidates = self._domain_values(value)
        for v in candidates:
            message = ops.check_value(arg, v)
            if message:
                message, hint = _split_hint(message)
                if hint is None and isinstance(value, str) and value not in ops.ACTIVATIONS:
                    hint = did_you_mean(value, self._visible_names)
                self.error(TypeMismatch(f"{spec.name}: {message}", pos, hint))
                return

    def _domain_values(self, value) -> list:
        if isinstance(value, Tensor):
            return [value]
        if isinstance(value, Sym):
            if value.op == "hp" and value.args[0] in self.hps:
                return list(self.hps[value.args[0]].domain() or ())
            return []
        return [value]

    def block_call(self, call: ast.Call, x, env, scope, label_hint) -> Tensor | None:
        block = self.loaded.blocks[call.func]
        if scope.depth >= MAX_DEPTH:
            self.error(RecursionLimit(
                f"unbounded recursion: block '{block.name}' is nested more than {MAX_DEPTH} deep",
                call.pos, "make sure an 'if' ends the recursion on a constant or hyperparameter"))
            return None
        label = self.label(scope, call.func, call.label or label_hint, call.pos)
        inner = replace(scope, hp_path=scope.hp_path + (label,),
                        node_path=scope.node_path + (label,), depth=scope.depth + 1,
                        block_stack=scope.block_stack + (block.name,))
        inner = self.cluster(inner, "block", label, call.pos, block=block.name)
        names = self.block_args(call, block, x, env, scope, inner)
        if names is None:
            return None
        if self.shallow and block.name in scope.block_stack:
            return x
        body_env = Env(names, self._file_globals(block), x)
        return self.body(block.body, body_env, inner)

    def _file_globals(self, block: ast.BlockDecl) -> Env:
        """What a block body sees besides its parameters: the params and named hps of the
        file that defines it (lexical scope), never tensors."""
        if block.pos.file != self.module.path:
            return Env()
        return Env({k: v for k, v in self.globals.names.items() if not isinstance(v, Tensor)})

    def _block_env(self, block: ast.BlockDecl, values: dict) -> Env:
        return Env(dict(values), self._file_globals(block))

    def block_args(self, call, block, x, env, scope, inner) -> dict | None:
        params = [p.name for p in block.params]
        given: dict[str, object] = {}
        ok = True
        if len(call.args) > len(params):
            self.error(ArgumentError(
                f"block '{block.name}' takes {len(params)} argument"
                f"{'s' if len(params) != 1 else ''} ({', '.join(params)}), found {len(call.args)}",
                _pos_of(call.args[len(params)], call.pos)))
            ok = False
        for p, arg in zip(params, call.args, strict=False):
            given[p] = (arg, call.pos)
        for kw in call.keywords:
            if kw.name not in params:
                self.error(ArgumentError(f"block '{block.name}' has no parameter '{kw.name}'",
                                         kw.pos, did_you_mean(kw.name, params)))
                ok = False
            elif kw.name in given:
                self.error(ArgumentError(f"argument '{kw.name}' is given twice", kw.pos))
                ok = False
            else:
                given[kw.name] = (kw.value, kw.pos)
        values = {}
        for p in block.params:
            if p.name in given:
                node, _ = given[p.name]
                values[p.name] = self.expr(node, env, scope, f"argument '{p.name}'",
                                           hp_name=inner.hp_path + (p.name,), symbols=True)
            elif p.default is not None:
                values[p.name] = self.expr(p.default, self._block_env(block, values), inner,
                                           f"parameter '{p.name}'",
                                           hp_name=inner.hp_path + (p.name,), symbols=True)
            elif ok:
                self.error(ArgumentError(f"block '{block.name}': missing argument '{p.name}'",
                                         call.pos, f"{block.name}({', '.join(params)})"))
                ok = False
        return values if ok else None

    # ---- structural stages
    def _bool_hp(self, name, default, scope, pos, what) -> str:
        default_value = False if default is None else self.constant(default, self.globals, what)
        if not isinstance(default_value, bool):
            self.error(TypeMismatch(f"expected true or false as default, found {default_value!r}",
                                    default.pos))
            default_value = False
        hp_name = self._structural_name(name, scope, what, "bool", pos)
        if name not in self.named_hps:
            self.declare(HpSpec(hp_name, "bool", default_value, pos, origin=pos), scope)
        return hp_name

    def _structural_name(self, name, scope, base, kind, pos) -> str:
        """A structure's hp: a global `hp` of that name, else a path-qualified new one."""
        if name and name in self.named_hps:
            try:
                return self.use_named(name, scope, pos, kind)
            except ArchError as err:
                self.error(err)
        return "/".join(scope.hp_path + (name or self._anon(scope, base, pos),))

    def _anon(self, scope: Scope, base: str, pos) -> str:
        """base, base_1, ... per scope; the same AST node in the same scope (the copies of a
        merge's stages) gets the same name."""
        key = (scope.hp_path, pos)
        if key not in self.anon_names:
            counter = self.labels[("hp",) + scope.hp_path]
            n = counter[base]
            counter[base] += 1
            self.anon_names[key] = base if n == 0 else f"{base}_{n}"
        return self.anon_names[key]

    def _branches(self, hp: str, scope: Scope) -> tuple:
        return scope.domain_of(hp) or self.hps[hp].domain()

    def optional(self, node: ast.Optional, x, env, scope) -> Tensor | None:
        hp = self._bool_hp(node.name, node.default, scope, node.pos, "optional")
        domain = self._branches(hp, scope)
        inner = self.cluster(scope, "optional", hp, node.pos, hp=hp)
        out = None
        if True in domain:
            out = self.body(node.body, env.child(x), inner.narrowed(hp, (True,)))
        branches = [(out, inner.narrowed(hp, (True,)).condition, f"{hp}=true")]
        if False in domain:
            branches.append((x, scope.narrowed(hp, (False,)).condition, f"{hp}=false"))
        return self.select(scope, "optional", node.pos, branches, hp=hp)

    def residual(self, node: ast.Residual, x, env, scope) -> Tensor | None:
        if not node.optional:
            if node.default is not None:
                self.error(StructureError("a fixed 'residual' has no default; write 'residual?'",
                                          node.default.pos))
            inner = self.cluster(scope, "residual", node.name or "residual", node.pos)
            out = self.body(node.body, env.child(x), inner)
            return self._add_skip(x, out, scope, node)
        hp = self._bool_hp(node.name, node.default, scope, node.pos, "residual")
        domain = self._branches(hp, scope)
        inner = self.cluster(scope, "residual", hp, node.pos, hp=hp)
        out = self.body(node.body, env.child(x), inner)
        if out is None:
            return None
        branches = []
        if True in domain:
            on = scope.narrowed(hp, (True,))
            branches.append((self._add_skip(x, out, on, node), on.condition, f"{hp}=true"))
        if False in domain:
            branches.append((out, scope.narrowed(hp, (False,)).condition, f"{hp}=false"))
        return self.select(scope, "residual", node.pos, branches, hp=hp)

    def _add_skip(self, x, out, scope, node) -> Tensor | None:
        if out is None:
            return None
        label = self.label(scope, node.name or "residual" if not node.optional else "add",
                           None, node.pos)
        add = self.node(scope, label, kind="op", op="add", args={}, pos=node.pos, residual=True)
        self.edge(x, add, scope.condition, slot=0, style="skip")
        self.edge(out, add, scope.condition, slot=1)
        return Tensor(add)

    def _range(self, r: ast.Range, env: Env) -> tuple[int, int, int] | None:
        bounds = []
        for e in (r.low, r.high, r.step):
            if e is None:
                bounds.append(1)
                continue
            v = self.expr(e, env, Scope(), "a repeat bound")
            if not isinstance(v, int) or isinstance(v, bool):
                if v is not None:
                    self.error(TypeMismatch(f"expected an integer constant, found {_describe(v)}",
                                            e.pos, "a count range needs constant bounds; for a "
                                            "count set elsewhere write: repeat i in n { ... }"))
                return None
            bounds.append(v)
        low, high, step = bounds
        if low < 0 or step < 1:
            self.error(RangeError(f"expected a range of counts >= 0 with step >= 1, found "
                                  f"{low}..{high} step {step}", r.pos))
            return None
        if high < low:
            self.error(RangeError(f"reversed range {low}..{high}: the upper bound is below the "
                                  "lower", r.pos, f"write {high}..{low}"))
            return None
        if high == 0:
            self.error(RangeError("empty range 0..0: the body would never run", r.pos))
            return None
        return low, high, step

    def _count_cases(self, node: ast.Repeat, env: Env, scope: Scope):
        """(hp, {count: hp values giving it}) for a repeat; hp is None for a fixed count."""
        if not isinstance(node.range, ast.Range):
            return self._fixed_count(node, env, scope)
        bounds = self._range(node.range, env)
        if bounds is None:
            return None
        low, high, step = bounds
        counts = tuple(range(low, high + 1, step))
        if len(counts) == 1:
            return None, {counts[0]: ()}
        default = low if node.default is None else self.constant(node.default, self.globals,
                                                                  "a repeat default")
        if default not in counts:
            self.error(RangeError(f"default {default!r} is not a count in {low}..{high}",
                                  node.default.pos))
            default = low
        hp = self._structural_name(node.name, scope, "repeat", "int", node.pos)
        if node.name in self.named_hps:
            if tuple(self.hps[hp].domain()) != counts:
                self.error(RangeError(f"expected the range of '{hp}' "
                                      f"({self.hps[hp].min}..{self.hps[hp].max}), found "
                                      f"{low}..{high}", node.range.pos,
                                      f"write: repeat {hp}: i in {hp}"))
        else:
            self.declare(HpSpec(hp, "int", default, node.pos, min=low, max=high, step=step,
                                origin=node.pos), scope)
        return hp, {c: (c,) for c in self._branches(hp, scope)}

    def _fixed_count(self, node: ast.Repeat, env: Env, scope: Scope):
        if node.default is not None:
            self.error(StructureError("a fixed count has no default", node.default.pos))
        n = self.expr(node.range, env, scope, "a repeat count")
        if isinstance(n, Sym) and self.shallow and n.param_dependent:
            return None, {1: ()}
        if isinstance(n, Sym) and len(n.hps) == 1 and not (n.shape_dependent or n.param_dependent):
            hp = next(iter(n.hps))
            cases: dict[int, tuple] = {}
            for v in self._branches(hp, scope) or ():
                c = evaluate(n, {hp: v})
                if not isinstance(c, int) or c < 0:
                    self.error(RangeError(f"expected a count >= 0, found {c!r} when {hp} = {v}",
                                          node.range.pos))
                    return None
                cases.setdefault(c, ())
                cases[c] += (v,)
            return hp, cases
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            if n is not None:
                self.error(TypeMismatch(f"expected an integer count >= 0, found "
                                        f"{_describe(n)}", node.range.pos))
            return None
        return None, {n: ()}

    def repeat(self, node: ast.Repeat, x, env, scope) -> Tensor | None:
        found = self._count_cases(node, env, scope)
        if found is None:
            return None
        hp, cases = found
        name = node.name or (hp.rsplit("/", 1)[-1] if hp and isinstance(node.range, ast.Range)
                             else self._anon(scope, "repeat", node.pos))
        outer = self.cluster(scope, "repeat", name, node.pos, hp=hp, counts=tuple(sorted(cases)),
                             shared=node.shared)
        ends = {0: x} if 0 in cases else {}
        current = x
        if max(cases) == 0:
            return x
        for k in range(max(cases)):
            hp_rep = "rep0" if node.shared else f"rep{k}"
            rep = replace(outer, hp_path=outer.hp_path + (name, hp_rep),
                          node_path=outer.node_path + (name, f"rep{k}"))
            present = sum((vals for c, vals in cases.items() if c > k), ())
            if hp and len(present) < sum(len(v) for v in cases.values()):
                rep = rep.narrowed(hp, present)
            if node.shared and k > 0:
                rep = replace(rep, share=("/".join(rep.node_path),
                                          "/".join(outer.node_path + (name, "rep0"))))
            rep = self.cluster(rep, "rep", f"rep{k}", node.pos, index=k)
            body_env = env.child(current)
            if node.var:
                body_env.names[node.var] = k
            current = self.body(node.body, body_env, rep)
            if current is None:
                return None
            if k + 1 in cases:
                ends[k + 1] = current
        if hp is None:
            return current
        branches = [(t, scope.narrowed(hp, cases[c]).condition, f"{hp}={c}")
                    for c, t in ends.items()]
        return self.select(scope, "repeat", node.pos, branches, hp=hp)

    def _alt_label(self, alt: ast.Alternative, k: int) -> str:
        if alt.label:
            return alt.label
        chain = alt.chain
        if isinstance(chain, ast.Constant) and chain.value is None:
            return "none"
        if isinstance(chain, ast.Call):
            return chain.label or chain.func
        if isinstance(chain, ast.Name):
            return chain.id
        if isinstance(chain, ast.Chain) and not chain.stages and isinstance(chain.head, ast.Call):
            return chain.head.label or chain.head.func
        return f"alt{k}"

    def choice_node(self, node: ast.ChoiceNode, x, env, scope) -> Tensor | None:
        labels = [self._alt_label(a, k) for k, a in enumerate(node.alternatives)]
        for k, lab in enumerate(labels):
            if lab in labels[:k]:
                labelled = node.alternatives[k].label is not None
                self.error(DuplicateName(f"two alternatives are labelled '{lab}'",
                                         node.alternatives[k].pos,
                                         None if labelled else
                                         "label them: choice { a: ... | b: ... }"))
                return None
        default = labels[0]
        if node.default is not None:
            default = self.constant(node.default, self.globals, "a choice default", symbols=True)
            default = "none" if default is None else default
            if default not in labels:
                self.error(RangeError(f"default {default!r} is not one of the alternatives "
                                      f"({', '.join(labels)})", node.default.pos))
                default = labels[0]
        hp = self._structural_name(node.name, scope, "choice", "choice", node.pos)
        if node.name not in self.named_hps:
            self.declare(HpSpec(hp, "choice", default, node.pos, values=tuple(labels),
                                origin=node.pos), scope)
        if tuple(self.hps[hp].values or ()) != tuple(labels):
            self.error(TypeMismatch(f"expected the alternatives of '{hp}' to be "
                                    f"{', '.join(map(str, self.hps[hp].values or ()))}, found "
                                    f"{', '.join(labels)}", node.pos))
            return None
        name = hp.rsplit("/", 1)[-1]
        outer = self.cluster(scope, "choice", name, node.pos, hp=hp)
        branches = []
        for alt, lab in zip(node.alternatives, labels, strict=True):
            if lab not in self._branches(hp, scope):
                continue
            inner = replace(outer, hp_path=outer.hp_path + (name, lab),
                            node_path=outer.node_path + (name,)).narrowed(hp, (lab,))
            inner = self.cluster(inner, "alternative", lab, alt.pos)
            if isinstance(alt.chain, ast.Constant) and alt.chain.value is None:
                out = x
            else:
                out = self.value_tensor(alt.chain, env.child(x), inner)
            branches.append((out, scope.narrowed(hp, (lab,)).condition, f"{hp}={lab}"))
        return self.select(scope, "choice", node.pos, branches, hp=hp)

    def if_stage(self, node: ast.If, x, env, scope) -> Tensor | None:
        cond = self.expr(node.condition, env.child(x), scope, "a condition")
        if not isinstance(cond, Sym):
            return self._take_branch(node, bool(cond), x, env, scope)
        if cond.shape_dependent or cond.param_dependent:
            return self._deferred_if(node, cond, x, env, scope)
        hps = sorted(cond.hps)
        if len(hps) > 1:
            self.error(StructureError(f"a condition may depend on one hyperparameter, found "
                                      f"{', '.join(hps)}", node.condition.pos))
            return None
        hp = hps[0]
        domain = self._branches(hp, scope)
        if domain is None:
            self.error(TypeMismatch(f"a condition cannot depend on the continuous "
                                    f"hyperparameter '{hp}'", node.condition.pos))
            return None
        truth = {v: bool(evaluate(cond, {hp: v})) for v in domain}
        yes = tuple(v for v in domain if truth[v])
        no = tuple(v for v in domain if not truth[v])
        if not no or not yes:
            return self._take_branch(node, bool(yes), x, env, scope)
        branches = []
        for values, taken in ((yes, True), (no, False)):
            sub = scope.narrowed(hp, values)
            inner = self.cluster(sub, "if", f"if {cond}", node.pos,
                                 hp=hp, branch=taken)
            out = self._take_branch(node, taken, x, env, inner)
            branches.append((out, sub.condition, f"{hp} in {values}"))
        return self.select(scope, "if", node.pos, branches, hp=hp)

    def _take_branch(self, node: ast.If, taken: bool, x, env, scope) -> Tensor | None:
        if taken:
            return self.body(node.then, env.child(x), scope)
        if node.orelse is None:
            return x
        if isinstance(node.orelse, ast.If):
            return self.if_stage(node.orelse, x, env, scope)
        return self.body(node.orelse, env.child(x), scope)

    def _deferred_if(self, node: ast.If, cond: Sym, x, env, scope) -> Tensor | None:
        """A condition on shapes (or on an unbound parameter): both branches stay."""
        outs = []
        for taken in (True, False):
            inner = self.cluster(scope, "if", f"if {cond}" if taken else "else", node.pos,
                                 branch=taken, when=str(cond))
            outs.append(self._take_branch(node, taken, x, env, inner))
        if any(o is None for o in outs):
            return None
        sel = self.node(scope, self.label(scope, "if", None, node.pos), kind="select",
                        op="select", pos=node.pos, args={}, when=cond)
        for slot, (out, tag) in enumerate(zip(outs, ("then", "else"), strict=True)):
            self.edge(out, sel, scope.condition, slot=slot, branch=tag)
        return Tensor(sel)

    # ---- merge
    def _stage_label(self, stage, k: int) -> str:
        if isinstance(stage, ast.Call):
            return stage.label or stage.func
        named = (ast.Repeat, ast.Optional, ast.ChoiceNode, ast.Residual)
        if isinstance(stage, named) and stage.name:
            return stage.name
        return f"stage{k + 1}"

    def merge(self, node: ast.Merge, env: Env, scope: Scope) -> Tensor | None:
        inputs = []
        for name in node.inputs:
            value = self.expr(name, env, scope, "a merge input")
            if not isinstance(value, Tensor):
                self.error(TypeMismatch(f"expected a tensor to merge, found {_describe(value)}",
                                        name.pos))
                return None
            inputs.append((name.id, value))
        if len(inputs) < 2:
            self.error(ArgumentError(f"merge joins two or more inputs, found {len(inputs)}",
                                     node.pos))
            return None
        stages = self._merge_stages(node)
        if stages is None:
            return None
        labels = []
        for k, stage in enumerate(stages):
            labels.append(self.label(scope, self._stage_label(stage, k), None, stage.pos))
        op = self.expr(node.op, env, scope, "a merge op", hp_name=scope.hp_path + (
            node.name or "merge", "op"), symbols=True)
        for v in self._domain_values(op):
            if v not in ("add", "concat", "multiply"):
                self.error(TypeMismatch(f"expected add, concat or multiply, found {v!r}",
                                        node.op.pos))
                return None
        hp = self._structural_name(node.name, scope, "merge", "choice", node.pos)
        if node.name not in self.named_hps:
            self.declare(HpSpec(hp, "choice", labels[0], node.pos, values=tuple(labels),
                                origin=node.pos), scope)
        outer = self.cluster(scope, "merge", hp.rsplit("/", 1)[-1], node.pos, hp=hp,
                             stages=tuple(labels), inputs=tuple(n for n, _ in inputs))
        return self._merge_paths(node, inputs, stages, labels, op, hp, env, outer)

    def _merge_stages(self, node: ast.Merge) -> list | None:
        stmts = node.body.statements
        if len(stmts) != 1 or not isinstance(stmts[0], ast.ChainStatement):
            self.error(StructureError("expected one chain of stages in a merge body", node.body.pos,
                                      "merge m (a, b) by add { stage1 -> stage2 -> stage3 }"))
            return None
        chain = stmts[0].chain
        if isinstance(chain, ast.Chain):
            stages = [chain.head, *chain.stages]
        else:
            stages = [chain]
        bad = [s for s in stages if not isinstance(s, (ast.Call, *ast.Structural.__args__))]
        if bad:
            self.error(StructureError("expected a stage (an op, a block or a structure), found "
                                      "an expression", bad[0].pos))
            return None
        return stages

    def _merge_paths(self, node, inputs, stages, labels, op, hp, env, scope) -> Tensor | None:
        n = len(stages)
        domain = self._branches(hp, scope)
        points = [k for k in range(n) if labels[k] in domain]
        heads = {name: t for name, t in inputs}
        outs: dict[tuple[str, int], Tensor] = {}
        for name, _ in inputs:
            copy = replace(scope, node_path=scope.node_path + (name,))
            for j in range(n):
                if not any(k >= j for k in points):
                    break
                when = copy.narrowed(hp, tuple(labels[k] for k in points if k >= j))
                x = outs.get((name, j - 1), heads[name])
                out = self._merge_stage(stages[j], labels[j], x, env, when)
                if out is None:
                    return None
                outs[(name, j)] = out
        m = self.node(scope, self.label(scope, "merge", None, node.pos), kind="op",
                      op="merge", args={"op": op}, pos=node.pos, merge_hp=hp)
        for k in points:
            cond = scope.narrowed(hp, (labels[k],)).condition
            for slot, (name, _) in enumerate(inputs):
                self.edge(outs[(name, k)], m, cond, slot=slot, branch=f"{hp}={labels[k]}")
        merged: dict[int, Tensor] = {}
        for j in range(1, n):
            before = tuple(labels[k] for k in points if k < j)
            if not before:
                continue
            branches = [(Tensor(m), scope.narrowed(hp, (labels[j - 1],)).condition, "merge")]
            if j - 1 in merged:
                branches.append((merged[j - 1], scope.narrowed(hp, before[:-1] or before).condition,
                                 "path"))
            branches = [b for b in branches if labels[j - 1] in domain or b[2] == "path"]
            x = self.select(scope, "merged", node.pos, branches) if len(branches) > 1 \
                else branches[0][0]
            out = self._merge_stage(stages[j], labels[j], x, env, scope.narrowed(hp, before))
            if out is None:
                return None
            merged[j] = out
        final = [(Tensor(m), scope.narrowed(hp, (labels[-1],)).condition, "merge")] \
            if labels[-1] in domain else []
        if n - 1 in merged:
            final.append((merged[n - 1], scope.narrowed(
                hp, tuple(labels[k] for k in points if k < n - 1)).condition, "path"))
        return self.select(scope, "merge_out", node.pos, final, hp=hp)

    def _merge_stage(self, stage, label, x, env, scope) -> Tensor | None:
        if isinstance(stage, ast.Call):
            stage = replace(stage, label=label)
            return self.call(stage, x, env, scope)
        return self.stage(stage, x, env, scope)

    # ---- expressions
    def constant(self, expr, env: Env, what: str, symbols: bool = False):
        value = self.expr(expr, env, Scope(), what, symbols=symbols)
        if isinstance(value, Sym | Tensor):
            self.error(TypeMismatch(f"expected a constant for {what}, found "
                                    f"{_describe(value)}", expr.pos))
            return None
        return value

    def expr(self, e, env: Env, scope: Scope, what: str, hp_name: tuple = (),
             symbols: bool = False):
        """Evaluate an expression to a constant, a Tensor or a Sym (None after an error)."""
        try:
            return self._expr(e, env, scope, hp_name, symbols)
        except ArchError as err:
            self.error(err)
            return None

    def _expr(self, e, env, scope, hp_name, symbols):
        if isinstance(e, ast.Number | ast.String | ast.Constant):
            return e.value
        if isinstance(e, ast.Name):
            return self._name(e, env, scope, symbols)
        if isinstance(e, ast.InRef):
            if env.inflow is None:
                raise StructureError("'in' is only defined inside a block or a stage", e.pos)
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
        if isinstance(e, ast.HpChoice):
            return self._hp_choice(e, env, scope, hp_name)
        if isinstance(e, ast.Call):
            return self._call_value(e, env, scope, hp_name, symbols)
        if isinstance(e, ast.Chain):
            raise TypeMismatch("expected a value, found a chain of layers", e.pos)
        raise StructureError(f"expected a value, found {type(e).__name__.lower()}",
                             getattr(e, "pos", None))

    def _name(self, e: ast.Name, env, scope, symbols):
        try:
            value = env.lookup(e.id)
        except KeyError:
            if symbols:
                return e.id
            raise UnknownName(f"undefined name '{e.id}'", e.pos, self._suggest(e.id, env)) from None
        if isinstance(value, Sym) and value.op == "hp" and value.args[0] in self.named_hps:
            self.use_named(value.args[0], scope, e.pos)
        return value

    def _attribute(self, e: ast.Attribute, env, scope):
        base = self._expr(e.value, env, scope, (), False)
        if not isinstance(base, Tensor):
            raise TypeMismatch(f"expected a tensor before '.{e.attr}', found {_describe(base)}",
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
                raise TypeMismatch(f"expected an integer index, found {_describe(index)}",
                                   e.index.pos)
            return Sym("shape", (base.args[0], index))
        if isinstance(base, tuple) and isinstance(index, int):
            if not -len(base) <= index < len(base):
                raise RangeError(f"index {index} is out of range for {len(base)} items",
                                 e.index.pos)
            return base[index]
        raise TypeMismatch(f"expected a list or a shape to index, found {_describe(base)}", e.pos)

    def _number(self, e, env, scope, hp_name):
        v = self._expr(e, env, scope, hp_name, False)
        if isinstance(v, Tensor) or isinstance(v, str | tuple) or v is None:
            raise TypeMismatch(f"expected a number, found {_describe(v)}", e.pos)
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
            args = [self._number(a, env, scope, hp_name) for a in e.args]
            if e.keywords:
                raise ArgumentError(f"{e.func}() takes no keyword arguments", e.keywords[0].pos)
            try:
                return combine("call", e.func, *args)
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"{e.func}(): {exc}", e.pos) from None
        if self._is_layer(e.func):
            raise TypeMismatch(f"expected a value, found a call of layer '{e.func}'", e.pos,
                               "layers go in chains: x -> " + e.func + "(...)")
        raise UnknownName(f"unknown function '{e.func}'", e.pos, did_you_mean(
            e.func, list(BUILTINS) + list(HP_FUNCTIONS) + ["choice"]))

    # ---- hyperparameters
    def _hp_target(self, scope: Scope, hp_name: tuple, kind: str, pos) -> str:
        if not hp_name:
            raise StructureError(f"a {kind} hyperparameter cannot be used here", pos)
        name = "/".join(hp_name)
        existing = self.hps.get(name)
        if existing is not None and existing.origin != pos:
            n = 1
            while f"{name}_{n}" in self.hps and self.hps[f"{name}_{n}"].origin != pos:
                n += 1
            name = f"{name}_{n}"
        return name

    def _hp_choice(self, e: ast.HpChoice, env, scope, hp_name) -> Sym:
        name = self._hp_target(scope, hp_name, "choice", e.pos)
        if not e.args:
            raise RangeError("empty choice: expected at least one value", e.pos)
        values, options = [], []
        for a in e.args:
            if isinstance(a, ast.Call) and not self._is_layer(a.func) and a.func not in BUILTINS \
                    and a.func not in HP_FUNCTIONS:
                kwargs = {k.name: self.constant(k.value, env, f"option '{k.name}'", symbols=True)
                          for k in a.keywords}
                values.append(a.func)
                options.append((a.func, kwargs))
                continue
            v = self._expr(a, env, scope, (), True)
            if isinstance(v, Sym | Tensor) or v is None and not isinstance(a, ast.Constant):
                raise TypeMismatch(f"expected constant choice values, found {_describe(v)}",
                                   _pos_of(a, e.pos))
            values.append(v)
        values = _unify_numbers(values, e.pos)
        for k, v in enumerate(values):
            if v in values[:k]:
                raise DuplicateName(f"value {v!r} appears twice in choice",
                                    _pos_of(e.args[k], e.pos))
        kw = self._hp_keywords(e.keywords, ("default",), env)
        default = kw.get("default", values[0])
        if isinstance(default, int) and any(isinstance(v, float) for v in values):
            default = float(default)
        if default not in values:
            raise RangeError(f"default {default!r} is not one of the values", e.pos)
        self.declare(HpSpec(name, "choice", default, e.pos, values=tuple(values), origin=e.pos,
                            options=tuple(options)), scope)
        return Sym("hp", (name,))

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
        if kind == "bool":
            if e.args:
                raise ArgumentError("bool() takes only default=", e.pos)
            kw = self._hp_keywords(e.keywords, ("default",), env)
            default = kw.get("default", False)
            if not isinstance(default, bool):
                raise TypeMismatch(f"expected true or false as default, found {default!r}", e.pos)
            self.declare(HpSpec(name, "bool", default, e.pos, origin=e.pos), scope)
            return Sym("hp", (name,))
        spec = self._range_spec(e, kind, name, env)
        self.declare(spec, scope)
        return Sym("hp", (name,))

    def _range_spec(self, e: ast.Call, kind: str, name: str, env) -> HpSpec:
        if len(e.args) != 2:
            raise ArgumentError(f"{kind}() takes a lower and an upper bound, found "
                                f"{len(e.args)} positional arguments", e.pos,
                                f"{kind}(1, 8, step=1, sampling=linear, default=1)")
        low, high = (self.constant(a, env, "a bound") for a in e.args)
        kw = self._hp_keywords(e.keywords, ("step", "sampling", "default"), env)
        want = int if kind == "int" else (int, float)
        for v, a in ((low, e.args[0]), (high, e.args[1]), (kw.get("step"), e)):
            if v is not None and (not isinstance(v, want) or isinstance(v, bool)):
                raise TypeMismatch(f"expected {'an integer' if kind == 'int' else 'a number'}, "
                                   f"found {_describe(v)}", _pos_of(a, e.pos))
        if high < low:
            raise RangeError(f"reversed range: {kind}({low}, {high}) has its upper bound below "
                             "the lower", e.pos, f"write {kind}({high}, {low})")
        if high == low:
            raise RangeError(f"empty range: {kind}({low}, {high}) has one value", e.pos,
                             "use the constant instead")
        sampling = kw.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise TypeMismatch(f"expected sampling linear, log or reverse_log, found {sampling!r}",
                               e.pos)
        if sampling != "linear" and low <= 0:
            raise RangeError(f"{sampling} sampling needs a positive lower bound, found {low}",
                             e.pos)
        step = kw.get("step", 1 if kind == "int" else None)
        if step is not None and step <= 0:
            raise RangeError(f"expected a positive step, found {step}", e.pos)
        default = kw.get("default", low)
        spec = HpSpec(name, kind, float(default) if kind == "float" else default, e.pos,
                      min=low if kind == "int" else float(low),
                      max=high if kind == "int" else float(high), step=step, sampling=sampling,
                      origin=e.pos)
        domain = spec.domain()
        on_grid = domain is None or any(abs(default - d) <= 1e-9 * max(1, abs(d)) for d in domain)
        wrong_type = not isinstance(default, want) or isinstance(default, bool)
        if wrong_type or not low <= default <= high or not on_grid:
            raise RangeError(f"default {default!r} is not in the range {low}..{high}", e.pos)
        return spec

    def declare(self, spec: HpSpec, scope: Scope) -> None:
        """Record an hp under the scope's condition, joining conditions of repeated uses."""
        spec = spec.with_condition(scope.condition)
        existing = self.hps.get(spec.name)
        if existing is None:
            self.hps[spec.name] = spec
            return
        if existing.origin != spec.origin:
            self.error(DuplicateName(f"hyperparameter '{spec.name}' is defined twice", spec.pos,
                                     f"first defined at {existing.pos}"))
            return
        if not existing.same_space(spec):
            self.error(DuplicateName(f"hyperparameter '{spec.name}' is declared twice with "
                                     "different values", spec.pos,
                                     f"first declared at {existing.pos}"))
            return
        domains = {h.name: h.domain() or () for h in self.hps.values()}
        self.hps[spec.name] = existing.with_condition(
            union(existing.condition, spec.condition, domains))

    def use_named(self, name: str, scope: Scope, pos, kind: str | None = None) -> str:
        decl, _ = self.named_hps[name]
        self.used_named.add(name)
        value = decl.value
        if isinstance(value, ast.HpChoice):
            self._hp_choice(value, self.globals, scope, (name,))
        elif isinstance(value, ast.Call) and value.func in HP_FUNCTIONS:
            self._hp_range(value, self.globals, scope, (name,))
        else:
            raise TypeMismatch("expected choice(...), int(...), float(...) or bool(...) after "
                               f"'hp {name} =', found {_describe_ast(value)}", value.pos,
                               "for a constant, use 'param'")
        if kind is not None and self.hps[name].kind != kind:
            raise TypeMismatch(f"expected a {kind} hyperparameter, '{name}' is a "
                               f"{self.hps[name].kind}", pos)
        return name

    # ---- train
    def _train(self, decls) -> dict:
        trains = [d for d in decls if isinstance(d, ast.TrainDecl)]
        for extra in trains[1:]:
            self.error(DuplicateName("a second 'train' section", extra.pos))
        settings: dict[str, object] = {}
        for s in trains[0].settings if trains else ():
            if s.name not in TRAIN_KEYS:
                self.error(UnknownName(f"unknown training setting '{s.name}'", s.pos,
                                       did_you_mean(s.name, TRAIN_KEYS)
                                       or "expected one of: " + ", ".join(TRAIN_KEYS)))
                continue
            if s.name in settings:
                self.error(DuplicateName(f"'{s.name}' is set twice", s.pos))
                continue
            call = s.value if isinstance(s.value, ast.Call) else None
            if s.name == "optimizer" and call is not None and call.func in ops.OPTIMIZERS:
                kwargs = {k.name: self.constant(k.value, self.globals, f"option '{k.name}'",
                                                symbols=True) for k in s.value.keywords}
                self._check_optimizer_args(s.value.func, kwargs, s.value.pos)
                self.train_options[s.value.func] = kwargs
                settings[s.name] = s.value.func
                continue
            value = self.expr(s.value, self.globals, Scope(), s.name, hp_name=(s.name,),
                              symbols=True)
            self._check_setting(s, value)
            settings[s.name] = value
        return settings

    def _check_losses(self, train: dict, decls) -> None:
        """A list of losses gives one per output, in the order of the `output` statements."""
        loss = train.get("loss")
        if isinstance(loss, tuple) and self.outputs and len(loss) != len(self.outputs):
            setting = next(s for d in decls if isinstance(d, ast.TrainDecl)
                           for s in d.settings if s.name == "loss")
            self.error(ArgumentError(f"expected {len(self.outputs)} losses, one per output "
                                     f"({', '.join(self.outputs)}), found {len(loss)}",
                                     setting.value.pos))

    def _check_setting(self, s: ast.Setting, value) -> None:
        values = self._domain_values(value) if isinstance(value, Sym) else [value]
        if isinstance(value, Sym) and value.op == "hp" and s.name == "optimizer":
            spec = self.hps[value.args[0]]
            for label, kwargs in spec.options:
                self._check_optimizer_args(label, kwargs, s.pos)
        for v in values:
            message = _setting_problem(s.name, v)
            if message:
                bad = _first_bad_item(s.name, v)
                hint = did_you_mean(str(bad), _setting_names(s.name)) if isinstance(bad, str) \
                    else None
                self.error(TypeMismatch(f"{s.name}: {message}", _item_pos(s.value, bad), hint))
                return

    def _check_optimizer_args(self, name: str, kwargs: dict, pos) -> None:
        info = ops.OPTIMIZERS.get(name)
        if info is None:
            return
        allowed = _optimizer_args(info)
        for k in kwargs:
            if allowed and k not in allowed:
                self.error(ArgumentError(f"optimizer {name} has no argument '{k}'", pos,
                                         did_you_mean(k, allowed)))

    # ---- blocks on their own
    def _check_blocks_standalone(self) -> None:
        """Expand each block of this file once with symbolic arguments, to find its faults."""
        own = [d for d in self.module.declarations if isinstance(d, ast.BlockDecl)]
        for block in own:
            probe = Expander(self.loaded, {})
            probe.shallow = True
            probe.g.add_node("in", kind="input", op="input", label="in", condition=(),
                             cluster=None, pos=block.pos, args={})
            names = {p.name: Sym("param", (p.name,)) for p in block.params}
            for p in block.params:
                if p.default is not None:
                    names[p.name] = probe.expr(p.default, probe._block_env(block, names),
                                               Scope(hp_path=(block.name,)),
                                               "a default", hp_name=(block.name, p.name),
                                               symbols=True)
            scope = Scope(hp_path=(block.name,), node_path=(block.name,),
                          block_stack=(block.name,), depth=1)
            probe.globals = self.globals
            probe.body(block.body, Env(names, probe._file_globals(block), Tensor("in")), scope)
            for err in probe.errors:
                self.error(err)


# ---------------------------------------------------------------- helpers


_HINT_IN_MESSAGE = re.compile(r"^(.*) \((did you mean '[^']*'\?|use // [^)]*)\)$")


def _split_hint(message: str) -> tuple[str, str | None]:
    """ops.check_value puts a hint in parentheses at the end; diagnostics want it apart."""
    m = _HINT_IN_MESSAGE.match(message)
    return (m.group(1), m.group(2)) if m else (message, None)


def _name_pos(call: ast.Call) -> SourcePos:
    """The span of a call's name only, for faults of the name."""
    p = call.pos
    return SourcePos(p.file, p.line, p.column, p.line, p.column + len(call.func))


def _pos_of(node, fallback):
    return getattr(node, "pos", None) or fallback


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"the tensor '{value.node}'"
    if isinstance(value, Sym):
        return f"'{value}', which is known only later"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(value)


def _describe_ast(e) -> str:
    if isinstance(e, ast.Number | ast.String | ast.Constant):
        return repr(e.value)
    return type(e).__name__.lower()


def _unify_numbers(values: list, pos) -> list:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} and float in kinds and int in kinds:
        return [float(v) for v in values]
    if len(kinds) > 1:
        names = sorted(k.__name__.replace("str", "name").replace("NoneType", "none") for k in kinds)
        raise TypeMismatch(f"expected choice values of one type, found {' and '.join(names)}",
                           pos)
    return values


def _first_bad_item(name: str, v):
    if name in ("metrics", "loss") and isinstance(v, tuple):
        known = ops.METRICS if name == "metrics" else ops.LOSSES
        return next((m for m in v if m not in known), v)
    return v


def _item_pos(node, value) -> SourcePos:
    """The position of the literal `value` inside `node` (a list, a choice), else node's."""
    items = getattr(node, "items", None) or getattr(node, "args", None) or ()
    for item in items:
        literal = getattr(item, "id", None) or getattr(item, "func", None) or \
            getattr(item, "value", None)
        if literal == value:
            return item.pos
    return node.pos


def _setting_names(name: str) -> list[str]:
    return {"optimizer": list(ops.OPTIMIZERS), "loss": list(ops.LOSSES),
            "metrics": list(ops.METRICS)}.get(name, [])


def _setting_problem(name: str, v) -> str | None:
    if isinstance(v, Sym):
        return None
    if name == "optimizer":
        return None if v in ops.OPTIMIZERS else f"expected an optimizer name, found {v!r}"
    if name == "loss":
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in ops.LOSSES]
        return f"expected a loss name, found {bad[0]!r}" if bad else None
    if name == "metrics":
        items = v if isinstance(v, tuple) else (v,)
        bad = [m for m in items if m not in ops.METRICS]
        return f"expected metric names, found {bad[0]!r}" if bad else None
    if name == "learning_rate":
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v > 0
        return None if ok else f"expected a positive number, found {v!r}"
    ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return None if ok else f"expected a positive integer, found {v!r}"


def _optimizer_args(info) -> tuple:
    return tuple(info.arg_names)

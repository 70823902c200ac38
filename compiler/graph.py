"""AST modules -> template graph: a networkx MultiDiGraph of every layer the template can
produce, blocks expanded, with optional / repeat / choice / merge / if kept as structure.

Every node and edge carries the `condition` (a conjunction of `hp in {values}` clauses) under
which it exists; `select` nodes join the alternatives of a structure and pass on the one input
whose condition holds. Clusters (graph.graph["clusters"]) record the structure for drawing.
Hyperparameters are collected in declaration order with their conditions (see `hyper.py`).
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import networkx as nx

from . import ast, ops
from .diagnostics import (
    ArchError,
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
from .expressions import ExpressionEvaluation
from .hyper import Condition, HpSpec
from .imports import Loaded, load, templates_dir
from .scope import (
    Env,
    Scope,
    describe,
    first_bad_item,
    item_pos,
    name_pos,
    optimizer_args,
    pos_of,
    setting_names,
    setting_problem,
    split_hint,
)
from .structures import StructureExpansion
from .values import Sym, Tensor

__all__ = ["Expander", "Loaded", "TemplateGraph", "build_graph", "load", "templates_dir"]

MAX_DEPTH = 32
TRAIN_KEYS = ("optimizer", "learning_rate", "batch_size", "epochs", "loss", "metrics")


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


class Expander(StructureExpansion, ExpressionEvaluation):
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
        self.automatic: dict[tuple, set] = defaultdict(set)
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
    def run(self) -> TemplateGraph:
        decls = self.module.declarations
        if not decls:
            raise StructureError("empty file: expected a template or blocks",
                                 SourcePos(self.module.path, 0, 0),
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
        return TemplateGraph(name, self.module.path, self.g, list(self.hps.values()),
                             self.inputs, self.outputs, train, self.params, self.loaded.sources,
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
            self.error(TypeMismatch(f"expected a tensor, found {describe(value)}",
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
            if explicit in self.automatic[key]:  # an earlier unlabelled call took the name
                return self.label(scope, explicit, None, pos)
            return explicit
        while True:
            n = self.labels[key][base]
            self.labels[key][base] += 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in self.explicit[key] and candidate not in self.automatic[key]:
                self.automatic[key].add(candidate)
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
            self.error(UnknownName(f"unknown op or block '{call.func}'", name_pos(call),
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
                where = pos_of(positional[exc.index], call.pos)
            self.error(ArgumentError(str(exc), where, exc.hint))
            return {}
        args = {}
        for name, node in bound.items():
            value = self.expr(node.value if isinstance(node, ast.Keyword) else node,
                              env, scope, f"argument '{name}'", hp_name=hp_prefix + (name,),
                              symbols=True)
            self._check_arg(spec, name, value, pos_of(node, call.pos))
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
                message, hint = split_hint(message)
                if hint is None and isinstance(value, str) and value not in ops.ACTIVATIONS:
                    hint = did_you_mean(value, self._visible_names)
                self.error(TypeMismatch(f"{spec.name}: {message}", pos, hint))
                return

    def _domain_values(self, value) -> list:
        if isinstance(value, Tensor):
            return [value]
        if isinstance(value, Sym):
            if value.op == "hp" and value.args[0] in self.hps:
                spec = self.hps[value.args[0]]
                domain = spec.domain() or ()
                if len(domain) > 1000:  # a huge range: its ends and default stand for it
                    return [domain[0], domain[-1], spec.default]
                return list(domain)
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
                pos_of(call.args[len(params)], call.pos)))
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
            message = setting_problem(s.name, v)
            if message:
                bad = first_bad_item(s.name, v)
                hint = did_you_mean(str(bad), setting_names(s.name)) if isinstance(bad, str) \
                    else None
                self.error(TypeMismatch(f"{s.name}: {message}", item_pos(s.value, bad), hint))
                return

    def _check_optimizer_args(self, name: str, kwargs: dict, pos) -> None:
        info = ops.OPTIMIZERS.get(name)
        if info is None:
            return
        allowed = optimizer_args(info)
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
            probe.globals = self.globals
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
            probe.body(block.body, Env(names, probe._file_globals(block), Tensor("in")), scope)
            for err in probe.errors:
                self.error(err)


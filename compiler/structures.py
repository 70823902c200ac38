"""Structural stages (optional, residual, repeat, choice, if, merge) -> template-graph nodes
and clusters: each takes the incoming tensor and returns the tensor the structure produces,
adding `select` nodes where alternatives join.

`StructureExpansion` is the part of the expander for these stages. It writes into the
`ExpansionState`, asks `ExpressionEvaluation` for values and hyperparameters, and hands the
bodies and stages inside a structure back to the chain expander (the `Chains` interface).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Protocol

from . import ast
from .diagnostics import (
    ArchError,
    ArgumentError,
    DuplicateName,
    RangeError,
    StructureError,
    TypeMismatch,
)
from .expressions import ExpressionEvaluation
from .hyper import HpSpec
from .kinds import Cluster, Hp, Node
from .scope import Env, ExpansionState, Scope, describe
from .values import Sym, Tensor, evaluate

MAX_REPEAT = 1000  # repetitions of one repeat, and values a structure may branch on


class Chains(Protocol):
    """What a structure needs from the chain expander (graph.ChainExpansion)."""

    def body(self, body: ast.Body, env: Env, scope: Scope) -> Tensor | None:
        """The statements of `body` -> the tensor of its last one."""

    def value_tensor(self, value, env: Env, scope: Scope) -> Tensor | None:
        """A chain, or an expression standing for one -> its tensor."""

    def stage(self, stage, x: Tensor, env: Env, scope: Scope) -> Tensor | None:
        """One stage of a chain applied to `x` -> its tensor."""

    def call(self, call: ast.Call, x: Tensor, env: Env, scope: Scope) -> Tensor | None:
        """An op or block call applied to `x` -> its tensor."""


class StructureExpansion:
    """The structural stages of one expansion (its `state`)."""

    def __init__(self, state: ExpansionState, exprs: ExpressionEvaluation, chains: Chains):
        self.state = state
        self.exprs = exprs
        self.chains = chains

    # ---- structural stages
    def _bool_hp(self, name, default, scope, pos, what) -> str:
        default_value = False
        if default is not None:
            default_value = self.exprs.constant(default, self.state.globals, what)
        if not isinstance(default_value, bool):
            self.state.error(TypeMismatch(
                f"expected true or false as default, found {default_value!r}", default.pos))
            default_value = False
        hp_name = self._structural_name(name, scope, what, Hp.BOOL, pos)
        if hp_name is not None and name not in self.state.named_hps:
            self.exprs.declare(HpSpec(hp_name, Hp.BOOL, default_value, pos, origin=pos), scope)
        return hp_name

    def _structural_name(self, name, scope, base, kind, pos) -> str | None:
        """A structure's hp: a global `hp` of that name, else a path-qualified new one; None
        when the global one is faulty (the fault is reported)."""
        if name and name in self.state.named_hps:
            try:
                return self.exprs.use_named(name, scope, pos, kind)
            except ArchError as err:
                self.state.error(err)
                return None
        return "/".join(scope.hp_path + (name or self._anon(scope, base, pos),))

    def _anon(self, scope: Scope, base: str, pos) -> str:
        """base, base_1, ... per scope; the same AST node in the same scope (the copies of a
        merge's stages) gets the same name."""
        key = (scope.hp_path, pos)
        if key not in self.state.anon_names:
            counter = self.state.labels[("hp",) + scope.hp_path]
            n = counter[base]
            counter[base] += 1
            self.state.anon_names[key] = base if n == 0 else f"{base}_{n}"
        return self.state.anon_names[key]

    def _branches(self, hp: str, scope: Scope) -> tuple:
        """The values of `hp` a structure branches on (at most MAX_REPEAT of them)."""
        domain = scope.domain_of(hp) or self.state.hps[hp].domain()
        if domain is not None and len(domain) > MAX_REPEAT:
            raise RangeError(f"a structure cannot branch on '{hp}': it has {len(domain):,} "
                             f"values, at most {MAX_REPEAT} are allowed", self.state.hps[hp].pos)
        return domain

    def optional(self, node: ast.Optional, x, env, scope) -> Tensor | None:
        """`optional NAME { }` -> a select between the body's output (NAME true) and its input."""
        hp = self._bool_hp(node.name, node.default, scope, node.pos, "optional")
        if hp is None or hp not in self.state.hps:
            return None
        domain = self._branches(hp, scope)
        inner = self.state.cluster(scope, Cluster.OPTIONAL, hp, node.pos, hp=hp)
        out = None
        if True in domain:
            out = self.chains.body(node.body, env.child(x), inner.narrowed(hp, (True,)))
        branches = [(out, inner.narrowed(hp, (True,)).condition, f"{hp}=true")]
        if False in domain:
            branches.append((x, scope.narrowed(hp, (False,)).condition, f"{hp}=false"))
        return self.state.select(scope, "optional", node.pos, branches, hp=hp)

    def optional_input(self, node: ast.Optional, x, env, scope) -> MergeInput | None:
        """An `optional` that is an input of a merge op (`concat(a, optional b { })`): its
        body's output, present when its hp is true; off, it drops out of the merge instead
        of passing `x` on. None after a fault."""
        hp = self._bool_hp(node.name, node.default, scope, node.pos, "optional")
        if hp is None or hp not in self.state.hps:
            return None
        domain = self._branches(hp, scope)
        inner = self.state.cluster(scope, Cluster.OPTIONAL, hp, node.pos, hp=hp, drops=True)
        if True not in domain:  # always off here: never an input
            return MergeInput(None, (), hp, True, node.pos)
        on = inner.narrowed(hp, (True,))
        out = self.chains.body(node.body, env.child(x), on)
        if out is None:
            return None
        return MergeInput(out, on.condition, hp, False in domain, node.pos)

    def residual(self, node: ast.Residual, x, env, scope) -> Tensor | None:
        """`residual { }` adds the body's input to its output; `residual? NAME { }` does when
        NAME, a bool hp, is true."""
        if not node.optional:
            return self._fixed_residual(node, x, env, scope)
        hp = self._bool_hp(node.name, node.default, scope, node.pos, "residual")
        if hp is None or hp not in self.state.hps:
            return None
        domain = self._branches(hp, scope)
        inner = self.state.cluster(scope, Cluster.RESIDUAL, hp, node.pos, hp=hp)
        out = self.chains.body(node.body, env.child(x), inner)
        if out is None:
            return None
        branches = []
        if True in domain:
            on = scope.narrowed(hp, (True,))
            branches.append((self._add_skip(x, out, on, node), on.condition, f"{hp}=true"))
        if False in domain:
            branches.append((out, scope.narrowed(hp, (False,)).condition, f"{hp}=false"))
        return self.state.select(scope, "residual", node.pos, branches, hp=hp)

    def _fixed_residual(self, node: ast.Residual, x, env, scope) -> Tensor | None:
        if node.default is not None:
            self.state.error(StructureError(
                "a fixed 'residual' has no default; write 'residual?'", node.default.pos))
        inner = self.state.cluster(scope, Cluster.RESIDUAL, node.name or "residual", node.pos)
        out = self.chains.body(node.body, env.child(x), inner)
        return self._add_skip(x, out, scope, node)

    def _add_skip(self, x, out, scope, node) -> Tensor | None:
        if out is None:
            return None
        label = self.state.label(scope, node.name or "residual" if not node.optional else "add",
                                 None, node.pos)
        add = self.state.node(scope, label, kind=Node.OP, op="add", args={}, pos=node.pos,
                              residual=True)
        self.state.edge(x, add, scope.condition, slot=0, style="skip")
        self.state.edge(out, add, scope.condition, slot=1)
        return Tensor(add)

    # ---- repeat
    def _range(self, r: ast.Range, env: Env) -> tuple[int, int, int] | None:
        """A count range's constant bounds (low, high, step); None after a fault."""
        bounds = []
        for e in (r.low, r.high, r.step):
            v = 1 if e is None else self._bound(e, env)
            if v is None:
                return None
            bounds.append(v)
        fault = _range_fault(*bounds, r.pos)
        if fault is not None:
            self.state.error(fault)
            return None
        return tuple(bounds)

    def _bound(self, e, env: Env) -> int | None:
        v = self.exprs.expr(e, env, Scope(), "a repeat bound")
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        if v is not None:
            self.state.error(TypeMismatch(
                f"expected an integer constant, found {describe(v)}", e.pos,
                "a count range needs constant bounds; for a count set elsewhere write: "
                "repeat i in n { ... }"))
        return None

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
        default = self._repeat_default(node, counts, low, high)
        hp = self._structural_name(node.name, scope, "repeat", Hp.INT, node.pos)
        if hp is None:
            return None
        if node.name in self.state.named_hps:
            self._check_named_range(hp, counts, bounds, node.range.pos)
        else:
            self.exprs.declare(HpSpec(hp, Hp.INT, default, node.pos, min=low, max=high, step=step,
                                      origin=node.pos), scope)
        return hp, {c: (c,) for c in self._branches(hp, scope)}

    def _repeat_default(self, node: ast.Repeat, counts: tuple, low: int, high: int) -> int:
        if node.default is None:
            return low
        default = self.exprs.constant(node.default, self.state.globals, "a repeat default")
        if default not in counts:
            self.state.error(RangeError(f"default {default!r} is not a count in {low}..{high}",
                                        node.default.pos))
            return low
        return default

    def _check_named_range(self, hp: str, counts: tuple, bounds: tuple, pos) -> None:
        """A count range on a global `hp` must be that hp's range."""
        spec = self.state.hps[hp]
        if tuple(spec.domain()) != counts:
            low, high, _ = bounds
            self.state.error(RangeError(f"expected the range of '{hp}' ({spec.min}..{spec.max}), "
                                        f"found {low}..{high}", pos,
                                        f"write: repeat {hp}: i in {hp}"))

    def _fixed_count(self, node: ast.Repeat, env: Env, scope: Scope):
        """`repeat N`: (None, {N: ()}) for a constant N, (hp, {count: hp values}) for an N
        computed from one hp; None after a fault."""
        if node.default is not None:
            self.state.error(StructureError("a fixed count has no default", node.default.pos))
        n = self.exprs.expr(node.range, env, scope, "a repeat count")
        if isinstance(n, Sym) and self.state.shallow and n.param_dependent:
            return None, {1: ()}
        if isinstance(n, Sym) and len(n.hps) == 1 and not (n.shape_dependent or n.param_dependent):
            return self._count_per_value(n, scope, node.range.pos)
        if isinstance(n, Sym):
            self.state.error(_symbolic_count(n, node.range.pos))
            return None
        count = self._constant_count(n, node.range.pos)
        return None if count is None else (None, {count: ()})

    def _count_per_value(self, n: Sym, scope: Scope, pos):
        hp = next(iter(n.hps))
        cases: dict[int, tuple] = {}
        for v in self._branches(hp, scope) or ():
            c = evaluate(n, {hp: v})
            if not isinstance(c, int) or c < 0:
                self.state.error(RangeError(f"expected a count >= 0, found {c!r} when {hp} = {v}",
                                            pos))
                return None
            cases[c] = cases.get(c, ()) + (v,)
        return hp, cases

    def _constant_count(self, n, pos) -> int | None:
        if isinstance(n, int) and n > MAX_REPEAT:
            self.state.error(RangeError(f"expected at most {MAX_REPEAT} repetitions, found {n}",
                                        pos))
            return None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            if n is not None:
                self.state.error(TypeMismatch(f"expected an integer count >= 0, found "
                                              f"{describe(n)}", pos))
            return None
        return n

    def repeat(self, node: ast.Repeat, x, env, scope) -> Tensor | None:
        """`repeat ...` -> the tensor after the last repetition, or a select among the counts
        its hp allows."""
        found = self._count_cases(node, env, scope)
        if found is None or not self._shared_ok(node):
            return None
        hp, cases = found
        name = node.name or (hp.rsplit("/", 1)[-1] if hp and isinstance(node.range, ast.Range)
                             else self._anon(scope, "repeat", node.pos))
        outer = self.state.cluster(scope, Cluster.REPEAT, name, node.pos, hp=hp,
                                   counts=tuple(sorted(cases)), shared=node.shared)
        if max(cases) == 0:
            return x
        outputs: list = []
        ends = self._repetitions(_RepeatPlan(node, name, hp, cases, outer), x, env, outputs)
        if ends is None:
            return None
        if hp is None:
            if node.name and env.visible_value(node.name) is None:
                env.names[node.name] = tuple(outputs)  # `-> concat(dense)` after the repeat
            return ends[max(cases)]
        branches = [(t, scope.narrowed(hp, cases[c]).condition, f"{hp}={c}")
                    for c, t in ends.items()]
        return self.state.select(scope, "repeat", node.pos, branches, hp=hp)

    def _shared_ok(self, node: ast.Repeat) -> bool:
        """A `shared` repeat's body must not read its index or its earlier outputs: every
        repetition reuses the first one's layers, so they cannot differ by repetition."""
        for name, what in ((node.var, "index"), (node.name, "earlier outputs")):
            uses = _name_uses(node.body, name) if node.shared and name else []
            if uses:
                self.state.error(StructureError(
                    f"a shared repeat's body may not use its {what} '{name}': every "
                    "repetition reuses the first one's layers", uses[0].pos,
                    f"drop 'shared' to give each repetition its own layers, or drop the "
                    f"{what}"))
                return False
        return True

    def _repetitions(self, plan: _RepeatPlan, x, env: Env,
                     outputs: list) -> dict[int, Tensor] | None:
        """{count: the tensor after that many repetitions} for the plan's counts; `outputs`
        gets the repeat's input and each repetition's output, in order."""
        ends = {0: x} if 0 in plan.cases else {}
        current = x
        outputs.append(x)
        for k in range(max(plan.cases)):
            body_env = env.child(current)
            if plan.node.var:
                body_env.names[plan.node.var] = k
            if plan.node.name:  # what the repeat made so far: its input, then each repetition's
                body_env.names[plan.node.name] = tuple(outputs)
            current = self.chains.body(plan.node.body, body_env, self._rep_scope(plan, k))
            if current is None:
                return None
            outputs.append(current)
            if k + 1 in plan.cases:
                ends[k + 1] = current
        return ends

    def _rep_scope(self, plan: _RepeatPlan, k: int) -> Scope:
        """The scope of repetition k: present for the counts above k; a `shared` repeat's
        repetitions take their hps and weights from the first."""
        outer, name, hp = plan.outer, plan.name, plan.hp
        hp_rep = "rep0" if plan.node.shared else f"rep{k}"
        rep = replace(outer, hp_path=outer.hp_path + (name, hp_rep),
                      node_path=outer.node_path + (name, f"rep{k}"))
        present = tuple(v for c, vals in plan.cases.items() if c > k for v in vals)
        if hp and len(present) < sum(len(v) for v in plan.cases.values()):
            rep = rep.narrowed(hp, present)
        if plan.node.shared and k > 0:
            rep = replace(rep, share=("/".join(rep.node_path),
                                      "/".join(outer.node_path + (name, "rep0"))))
        return self.state.cluster(rep, Cluster.REP, f"rep{k}", plan.node.pos, index=k)

    # ---- choice
    def choice_node(self, node: ast.ChoiceNode, x, env, scope) -> Tensor | None:
        """`choice NAME { a | b }` -> a select among the alternatives' tensors."""
        labels = self._alternative_labels(node)
        if labels is None:
            return None
        hp = self._choice_hp(node, scope, self._choice_default(node, labels), labels)
        if hp is None:
            return None
        outer = self.state.cluster(scope, Cluster.CHOICE, hp.rsplit("/", 1)[-1], node.pos, hp=hp)
        domain = self._branches(hp, scope)
        branches = [self._alternative(alt, lab, hp, x, env, outer, scope)
                    for alt, lab in zip(node.alternatives, labels, strict=True) if lab in domain]
        return self.state.select(scope, "choice", node.pos, branches, hp=hp)

    def _alternative_labels(self, node: ast.ChoiceNode) -> list[str] | None:
        labels = [_alt_label(a, k) for k, a in enumerate(node.alternatives)]
        for k, lab in enumerate(labels):
            if lab in labels[:k]:
                labelled = node.alternatives[k].label is not None
                self.state.error(DuplicateName(f"two alternatives are labelled '{lab}'",
                                               node.alternatives[k].pos,
                                               None if labelled else
                                               "label them: choice { a: ... | b: ... }"))
                return None
        return labels

    def _choice_default(self, node: ast.ChoiceNode, labels: list[str]) -> str:
        if node.default is None:
            return labels[0]
        default = self.exprs.constant(node.default, self.state.globals, "a choice default",
                                      symbols=True)
        default = "none" if default is None else default
        if default not in labels:
            self.state.error(RangeError(f"default {default!r} is not one of the alternatives "
                                        f"({', '.join(labels)})", node.default.pos))
            return labels[0]
        return default

    def _choice_hp(self, node: ast.ChoiceNode, scope, default, labels) -> str | None:
        """The choice's hp, declared here or a global one with the same alternatives."""
        hp = self._structural_name(node.name, scope, "choice", Hp.CHOICE, node.pos)
        if hp is None:
            return None
        if node.name not in self.state.named_hps:
            self.exprs.declare(HpSpec(hp, Hp.CHOICE, default, node.pos, values=tuple(labels),
                                      origin=node.pos), scope)
        values = self.state.hps[hp].values or ()
        if tuple(values) != tuple(labels):
            self.state.error(TypeMismatch(f"expected the alternatives of '{hp}' to be "
                                          f"{', '.join(map(str, values))}, found "
                                          f"{', '.join(labels)}", node.pos))
            return None
        return hp

    def _alternative(self, alt: ast.Alternative, lab: str, hp: str, x, env, outer, scope):
        """One alternative -> (its tensor, its condition, its branch tag)."""
        name = hp.rsplit("/", 1)[-1]
        inner = replace(outer, hp_path=outer.hp_path + (name, lab),
                        node_path=outer.node_path + (name,)).narrowed(hp, (lab,))
        inner = self.state.cluster(inner, Cluster.ALTERNATIVE, lab, alt.pos)
        if isinstance(alt.chain, ast.Constant) and alt.chain.value is None:
            out = x
        else:
            out = self.chains.value_tensor(alt.chain, env.child(x), inner)
        return out, scope.narrowed(hp, (lab,)).condition, f"{hp}={lab}"

    # ---- if
    def if_stage(self, node: ast.If, x, env, scope) -> Tensor | None:
        """`if COND { } else { }`: a constant condition takes one branch; one on an hp keeps
        both under its values; one on shapes keeps both for resolve to decide."""
        cond = self.exprs.expr(node.condition, env.child(x), scope, "a condition")
        if not isinstance(cond, Sym):
            return self._take_branch(node, bool(cond), x, env, scope)
        if cond.shape_dependent or cond.param_dependent:
            return self._deferred_if(node, cond, x, env, scope)
        found = self._condition_hp(cond, node.condition.pos, scope)
        if found is None:
            return None
        return self._hp_if(node, cond, found, x, env, scope)

    def _hp_if(self, node: ast.If, cond: Sym, found: tuple, x, env, scope) -> Tensor | None:
        """A condition on one hp: each branch under the hp values that take it."""
        hp, domain = found
        truth = {v: bool(evaluate(cond, {hp: v})) for v in domain}
        yes = tuple(v for v in domain if truth[v])
        no = tuple(v for v in domain if not truth[v])
        if not no or not yes:
            return self._take_branch(node, bool(yes), x, env, scope)
        branches = []
        for values, taken in ((yes, True), (no, False)):
            sub = scope.narrowed(hp, values)
            inner = self.state.cluster(sub, Cluster.IF, f"if {cond}", node.pos, hp=hp,
                                       branch=taken)
            out = self._take_branch(node, taken, x, env, inner)
            branches.append((out, sub.condition, f"{hp} in {values}"))
        return self.state.select(scope, "if", node.pos, branches, hp=hp)

    def _condition_hp(self, cond: Sym, pos, scope: Scope) -> tuple[str, tuple] | None:
        """The one hp a condition depends on, and the values it branches on."""
        hps = sorted(cond.hps)
        if len(hps) > 1:
            self.state.error(StructureError(f"a condition may depend on one hyperparameter, "
                                            f"found {', '.join(hps)}", pos))
            return None
        domain = self._branches(hps[0], scope)
        if domain is None:
            self.state.error(TypeMismatch(f"a condition cannot depend on the continuous "
                                          f"hyperparameter '{hps[0]}'", pos))
            return None
        return hps[0], domain

    def _take_branch(self, node: ast.If, taken: bool, x, env, scope) -> Tensor | None:
        if taken:
            return self.chains.body(node.then, env.child(x), scope)
        if node.orelse is None:
            return x
        if isinstance(node.orelse, ast.If):
            return self.if_stage(node.orelse, x, env, scope)
        return self.chains.body(node.orelse, env.child(x), scope)

    def _deferred_if(self, node: ast.If, cond: Sym, x, env, scope) -> Tensor | None:
        """A condition on shapes (or on an unbound parameter): both branches stay."""
        outs = []
        for taken in (True, False):
            inner = self.state.cluster(scope, Cluster.IF, f"if {cond}" if taken else "else",
                                       node.pos, branch=taken, when=str(cond))
            outs.append(self._take_branch(node, taken, x, env, inner))
        if any(o is None for o in outs):
            return None
        label = self.state.label(scope, "if", None, node.pos)
        sel = self.state.node(scope, label, kind=Node.SELECT, op=Node.SELECT, pos=node.pos,
                              args={}, when=cond)
        for slot, (out, tag) in enumerate(zip(outs, ("then", "else"), strict=True)):
            self.state.edge(out, sel, scope.condition, slot=slot, branch=tag)
        return Tensor(sel)

    # ---- merge
    def merge(self, node: ast.Merge, env: Env, scope: Scope) -> Tensor | None:
        """`merge NAME (a, b, ...) by OP { s1 -> s2 -> ... }` -> its tensor; NAME chooses the
        stage after which the inputs' own copies of the stages join."""
        inputs = self._merge_inputs(node, env, scope)
        stages = None if inputs is None else self._merge_stages(node)
        if stages is None:
            return None
        labels = [self.state.label(scope, _stage_label(stage, k), None, stage.pos)
                  for k, stage in enumerate(stages)]
        op = self.exprs.expr(node.op, env, scope, "a merge op", hp_name=scope.hp_path + (
            node.name or "merge", "op"), symbols=True)
        if not self._merge_op_ok(op, node.op.pos):
            return None
        hp = self._merge_hp(node, scope, labels)
        if hp is None:
            return None
        outer = self.state.cluster(scope, Cluster.MERGE, hp.rsplit("/", 1)[-1], node.pos, hp=hp,
                                   stages=tuple(labels), inputs=tuple(n for n, _ in inputs))
        plan = _MergePlan(node, inputs, stages, labels, hp, self._branches(hp, outer), env, outer)
        return self._merge_paths(plan, op)

    def _merge_inputs(self, node: ast.Merge, env: Env, scope: Scope) -> list | None:
        """[(name, tensor)] of the merged inputs; None after a fault."""
        inputs = []
        for name in node.inputs:
            value = self.exprs.expr(name, env, scope, "a merge input")
            if not isinstance(value, Tensor):
                self.state.error(TypeMismatch(
                    f"expected a tensor to merge, found {describe(value)}", name.pos))
                return None
            inputs.append((name.id, value))
        if len(inputs) < 2:
            self.state.error(ArgumentError(f"merge joins two or more inputs, found {len(inputs)}",
                                           node.pos))
            return None
        return inputs

    def _merge_stages(self, node: ast.Merge) -> list | None:
        stmts = node.body.statements
        if len(stmts) != 1 or not isinstance(stmts[0], ast.ChainStatement):
            self.state.error(StructureError(
                "expected one chain of stages in a merge body", node.body.pos,
                "merge m (a, b) by add { stage1 -> stage2 -> stage3 }"))
            return None
        chain = stmts[0].chain
        stages = [chain.head, *chain.stages] if isinstance(chain, ast.Chain) else [chain]
        bad = [s for s in stages if not isinstance(s, (ast.Call, *ast.Structural.__args__))]
        if bad:
            self.state.error(StructureError("expected a stage (an op, a block or a structure), "
                                            "found an expression", bad[0].pos))
            return None
        return stages

    def _merge_op_ok(self, op, pos) -> bool:
        for v in self.exprs.domain_values(op):
            if v not in ("add", "concat", "multiply"):
                self.state.error(TypeMismatch(f"expected add, concat or multiply, found {v!r}",
                                              pos))
                return False
        return True

    def _merge_hp(self, node: ast.Merge, scope: Scope, labels: list[str]) -> str | None:
        hp = self._structural_name(node.name, scope, "merge", Hp.CHOICE, node.pos)
        if hp is not None and node.name not in self.state.named_hps:
            self.exprs.declare(HpSpec(hp, Hp.CHOICE, labels[0], node.pos, values=tuple(labels),
                                      origin=node.pos), scope)
        return hp

    def _merge_paths(self, plan: _MergePlan, op) -> Tensor | None:
        """Each input's copies of the stages up to the latest merge point, the merge node,
        the stages after it, and a select of the output per merge point."""
        copies = self._input_copies(plan)
        if copies is None:
            return None
        joined = self._join(plan, copies, op)
        merged = self._after_merge(plan, joined)
        if merged is None:
            return None
        last = len(plan.stages) - 1
        scope, hp, labels = plan.scope, plan.hp, plan.labels
        final = [(joined, scope.narrowed(hp, (labels[-1],)).condition, "merge")] \
            if labels[-1] in plan.domain else []
        if last in merged:
            final.append((merged[last], scope.narrowed(hp, plan.before(last)).condition, "path"))
        return self.state.select(scope, "merge_out", plan.node.pos, final, hp=hp)

    def _input_copies(self, plan: _MergePlan) -> dict[tuple[str, int], Tensor] | None:
        """{(input, j): that input's copy of stage j}, for the stages a merge may follow."""
        outs: dict[tuple[str, int], Tensor] = {}
        for name, x in plan.inputs:
            copy = replace(plan.scope, node_path=plan.scope.node_path + (name,))
            for j in range(max(plan.points, default=-1) + 1):
                when = copy.narrowed(plan.hp, plan.from_point(j))
                x = self._merge_stage(plan.stages[j], plan.labels[j], x, plan.env, when)
                if x is None:
                    return None
                outs[(name, j)] = x
        return outs

    def _join(self, plan: _MergePlan, copies: dict, op) -> Tensor:
        """The merge node: under `hp = label k`, it joins the inputs' copies of stage k."""
        scope, hp = plan.scope, plan.hp
        label = self.state.label(scope, "merge", None, plan.node.pos)
        m = self.state.node(scope, label, kind=Node.OP, op="merge", args={"op": op},
                            pos=plan.node.pos, merge_hp=hp)
        for k in plan.points:
            cond = scope.narrowed(hp, (plan.labels[k],)).condition
            for slot, (name, _) in enumerate(plan.inputs):
                self.state.edge(copies[(name, k)], m, cond, slot=slot,
                                branch=f"{hp}={plan.labels[k]}")
        return Tensor(m)

    def _after_merge(self, plan: _MergePlan, joined: Tensor) -> dict[int, Tensor] | None:
        """{j: stage j applied after the merge}, for the stages some merge point precedes."""
        merged: dict[int, Tensor] = {}
        for j in range(1, len(plan.stages)):
            before = plan.before(j)
            if not before:
                continue
            x = self._merged_input(plan, joined, merged, j)
            out = self._merge_stage(plan.stages[j], plan.labels[j], x, plan.env,
                                    plan.scope.narrowed(plan.hp, before))
            if out is None:
                return None
            merged[j] = out
        return merged

    def _merged_input(self, plan: _MergePlan, joined: Tensor, merged: dict, j: int) -> Tensor:
        """Stage j's input after the merge: the merge node when it merges right before j, else
        stage j - 1's merged output."""
        scope, hp, previous = plan.scope, plan.hp, plan.labels[j - 1]
        before = plan.before(j)
        branches = []
        if previous in plan.domain:
            branches.append((joined, scope.narrowed(hp, (previous,)).condition, "merge"))
        if j - 1 in merged:
            branches.append((merged[j - 1], scope.narrowed(hp, before[:-1] or before).condition,
                             "path"))
        if len(branches) > 1:
            return self.state.select(scope, "merged", plan.node.pos, branches)
        return branches[0][0]

    def _merge_stage(self, stage, label, x, env, scope) -> Tensor | None:
        if isinstance(stage, ast.Call):
            stage = replace(stage, label=label)
            return self.chains.call(stage, x, env, scope)
        return self.chains.stage(stage, x, env, scope)


@dataclass(frozen=True)
class MergeInput:
    """One input of a merge op: its tensor (None when it is never there), the condition
    under which it is there, and for an `optional` input its hp and whether it may be off."""

    tensor: Tensor | None
    condition: tuple
    hp: str | None = None
    may_drop: bool = False
    pos: object = None


@dataclass(frozen=True)
class _RepeatPlan:
    """A repeat being expanded: its name, hp (None for a fixed count), {count: hp values
    giving it}, and the scope of its cluster."""

    node: ast.Repeat
    name: str
    hp: str | None
    cases: dict
    outer: Scope


@dataclass(frozen=True)
class _MergePlan:
    """A merge being expanded: its (name, tensor) inputs, stages and their labels, the hp
    naming the stage after which the inputs join, and the values that hp takes here."""

    node: ast.Merge
    inputs: list
    stages: list
    labels: list
    hp: str
    domain: tuple
    env: Env
    scope: Scope

    @property
    def points(self) -> list[int]:
        """The stages a merge may follow, by index."""
        return [k for k in range(len(self.stages)) if self.labels[k] in self.domain]

    def before(self, j: int) -> tuple:
        """The labels of the merge points before stage j."""
        return tuple(self.labels[k] for k in self.points if k < j)

    def from_point(self, j: int) -> tuple:
        """The labels of the merge points at or after stage j."""
        return tuple(self.labels[k] for k in self.points if k >= j)


def _name_uses(tree, name: str) -> list:
    """The `ast.Name`s reading `name` anywhere inside an AST node, in source order."""
    if isinstance(tree, ast.Name):
        return [tree] if tree.id == name else []
    if isinstance(tree, tuple | list):
        return [u for item in tree for u in _name_uses(item, name)]
    if not is_dataclass(tree):
        return []
    return [u for f in fields(tree) if f.name != "pos"
            for u in _name_uses(getattr(tree, f.name), name)]


def _symbolic_count(n: Sym, pos) -> StructureError:
    """Why a count known only later cannot be a repeat count, and what to write instead."""
    if n.shape_dependent:
        return StructureError(f"a repeat count must be known before shapes are, found '{n}', "
                              "which reads a tensor's shape", pos,
                              "compute it from params, block arguments or one named hp")
    hps = sorted(n.hps)
    return StructureError(f"a repeat count may depend on one hyperparameter, found '{n}', "
                          f"which depends on {len(hps)}: {', '.join(hps)}", pos,
                          "search the count itself: repeat NAME: 1..4 { ... }, or name one "
                          "hp for it: hp n = int(1, 4) then repeat n { ... }")


def _range_fault(low: int, high: int, step: int, pos) -> RangeError | None:
    if high > MAX_REPEAT:
        return RangeError(f"expected at most {MAX_REPEAT} repetitions, found {low}..{high}", pos)
    if low < 0 or step < 1:
        return RangeError(f"expected a range of counts >= 0 with step >= 1, found "
                          f"{low}..{high} step {step}", pos)
    if high < low:
        return RangeError(f"reversed range {low}..{high}: the upper bound is below the lower",
                          pos, f"write {high}..{low}")
    if high == 0:
        return RangeError("empty range 0..0: the body would never run", pos)
    return None


def _alt_label(alt: ast.Alternative, k: int) -> str:
    """An alternative's label: given, else its op, block or name, else alt{k}."""
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


def _stage_label(stage, k: int) -> str:
    """A merge stage's label: its op or block, its structure's name, else stage{k + 1}."""
    if isinstance(stage, ast.Call):
        return stage.label or stage.func
    named = (ast.Repeat, ast.Optional, ast.ChoiceNode, ast.Residual)
    if isinstance(stage, named) and stage.name:
        return stage.name
    return f"stage{k + 1}"

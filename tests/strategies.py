"""Hypothesis strategies for `.arch` text: random well-formed templates, and random mutations.

`templates()` draws a template that is valid by construction: every construct of the
grammar (inputs, params, named and anonymous hyperparameters, blocks with hp defaults, a
block library imported from a second file, optional / residual / residual? / repeat in its
range and count forms / choice nodes with labels and `none` / if on a constant, on a block
argument and on one hyperparameter / concat, add and multiply of branches / merge points /
train settings), nested to a bounded depth. The generator keeps track of what makes a
template semantically valid:

* shapes: every conv keeps the spatial size (`padding=same`; a pool or a stride 2 only where
  nothing compares spatial sizes, never inside a block), a residual body and a "keep" or
  recursive block keep the shape entirely (`in.channels`), branches of `add` end in the
  same fixed channel count, branches of `concat` keep the spatial size;
* hyperparameters: choice values are distinct, ranges have low < high, repeat ranges have
  low <= high and high >= 1, defaults are in range, a named hp is used at least once in a
  place that is certainly expanded (never only inside a block body, which cannot see
  globals, nor in a branch that a constant or a narrowed domain may make dead), a structure
  named after a named hp matches its domain (repeat range = int range, choice labels =
  choice values);
* names: every binding, label and structure name is fresh; every input reaches the output;
* size: a rough count of the layers the expansion will hold (repeats multiply, block calls
  add the block's weight) stops adding structures past LAYER_BUDGET, so that one example
  expands to at most a few thousand nodes.

Values use literals, template params (`width * 2`), loop-index arithmetic (`8 * (i + 1)`,
`2 ** (i + 2)`, `max(4, 8 * i)`), block parameters, `in.channels` / `in.shape[-1]`,
anonymous `choice` / `int` / `float` hps and named hps; blocks take filters, kernel, rate,
count and flag parameters (some with hp defaults), use them in `repeat n`, `if flag` and
op arguments, may call the blocks before them, and a "rec" block calls itself until an
`if n > 0` on its count stops it (called with a constant or a count hp, as UNet-Auto does).

`mutations(text)` draws a damaged copy of a text, as bytes: characters deleted, inserted
(punctuation of the language, letters, arbitrary unicode, NUL and control characters),
swapped; tokens deleted, duplicated, swapped or replaced; the text truncated, or raw bytes
(invalid UTF-8) inserted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from hypothesis import strategies as st

# ---------------------------------------------------------------- generated templates

ACTIVATIONS = ("relu", "swish", "tanh", "sigmoid", "gelu", "elu", "relu6")
RATES = (0.0, 0.1, 0.25, 0.5)
FILTERS = (4, 8, 16, 32)
LAYER_BUDGET = 1500  # past this many expanded layers, no more structures or block calls

# Forms that a compiler bug rejected while this generator was written (all fixed since). The
# tests generate them all (AVOID is empty); to hunt past a bug that makes nearly every
# example fail, fill AVOID for a while: "power" (`**`), "optimizer_call" (`optimizer =
# sgd(momentum=0.9)`), "head_label" (`relu as x` at the head of a chain), "bare_alternative"
# (a choice alternative `relu` without parentheses), "name_bound" (`repeat 1..depth`).
AVOID: set[str] = set()


@dataclass
class Generated:
    """A generated template: its text, the files it imports, what it declares."""

    source: str
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text
    named_hps: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    name: str = "generated"

    def write(self, directory: str | Path) -> Path:
        """Write the template (and its imports) into `directory`; the template's path."""
        directory = Path(directory)
        for rel, text in self.files.items():
            (directory / rel).parent.mkdir(parents=True, exist_ok=True)
            (directory / rel).write_text(text, encoding="utf-8")
        path = directory / f"{self.name}.arch"
        path.write_text(self.source, encoding="utf-8")
        return path

    def __repr__(self) -> str:  # shown by hypothesis when an example fails: the files
        parts = [f"\n--- {self.name}.arch\n{self.source}"]
        parts += [f"--- {rel}\n{text}" for rel, text in self.files.items()]
        return "\n".join(parts)


@dataclass
class NamedHp:
    name: str
    kind: str  # width | rate | act | count | flag | pool
    decl: str
    domain: tuple
    used: bool = False


@dataclass(frozen=True)
class BlockSig:
    name: str
    kind: str  # conv (has filters f) | keep (keeps the shape) | rec (recursive, keeps shape)
    params: tuple[tuple[str, str | None], ...]  # (name, default text or None)
    library: bool = False  # defined in the imported library file
    weight: int = 1  # layers one call expands to, roughly

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.params)


@dataclass(frozen=True)
class Ctx:
    """Where a piece of text is generated."""

    depth: int  # how much deeper structures may nest
    spatial: bool = False  # must keep height and width
    channels: bool = False  # must keep the channel count (spatial too: a residual body)
    has_in: bool = False  # `in` is defined here
    live: bool = True  # certainly expanded: named hps may be used here
    block: BlockSig | None = None  # inside this block's body (globals are not visible)
    loop_vars: tuple[tuple[str, int], ...] = ()  # (name, largest index)
    narrowed: frozenset = frozenset()  # named hps whose domain an enclosing structure narrows
    mult: int = 1  # how many times the expansion repeats this text, roughly

    @property
    def globals_visible(self) -> bool:
        return self.block is None

    def inner(self, **changes) -> Ctx:
        return replace(self, depth=self.depth - 1, has_in=True, **changes)


class _Builder:
    def __init__(self, draw, max_depth: int):
        self.draw = draw
        self.max_depth = max_depth
        self.counter = 0
        self.named: list[NamedHp] = []
        self.blocks: list[BlockSig] = []
        self.vector = False  # dense-only template on rank-1 inputs
        self.emitted = 0  # layers the expansion will hold, roughly (kept under LAYER_BUDGET)
        self.depth_param = 3  # the value of the template's `param depth`

    # ---- drawing helpers (each shrinks towards the simplest case)
    def pick(self, items):
        return self.draw(st.sampled_from(list(items)))

    def num(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def maybe(self, k: int = 1, n: int = 2) -> bool:
        """True with probability k/n; shrinks to False."""
        return self.draw(st.integers(0, n - 1)) >= n - k

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def distinct(self, pool, low: int = 2, high: int = 3) -> list:
        values = self.draw(st.lists(st.sampled_from(list(pool)), min_size=low,
                                    max_size=min(high, len(pool)), unique=True))
        return values

    # ---- named hyperparameters
    def named_hp(self, ctx: Ctx, kind: str, structural: bool = False) -> NamedHp | None:
        """An existing or new named hp of `kind` usable here, or None."""
        if not ctx.live or not ctx.globals_visible:
            return None
        existing = [h for h in self.named if h.kind == kind
                    and not (structural and h.name in ctx.narrowed)]
        if existing and self.maybe():
            hp = self.pick(existing)
        elif len(self.named) < 6:
            hp = self._new_named(kind)
            self.named.append(hp)
        else:
            return None
        hp.used = True
        return hp

    def _new_named(self, kind: str) -> NamedHp:
        name = self.fresh(f"h_{kind}")
        if kind == "width":
            if self.maybe():
                low = self.pick((4, 8))
                step = self.pick((4, 8))
                high = low + step * self.num(1, 3)
                values = tuple(range(low, high + 1, step))
                default = f", default={self.pick(values)}" if self.maybe() else ""
                return NamedHp(name, kind, f"int({low}, {high}, step={step}{default})", values)
            values = tuple(self.distinct(FILTERS + (64,)))
        elif kind == "rate":
            if self.maybe(1, 3):
                step = self.pick((0.1, 0.25))
                high = step * self.num(1, 2)
                n = int(round(high / step))
                values = tuple(round(i * step, 12) for i in range(n + 1))
                return NamedHp(name, kind, f"float(0.0, {high:g}, step={step})", values)
            values = tuple(self.distinct(RATES))
        elif kind == "act":
            values = tuple(self.distinct(ACTIVATIONS))
        elif kind == "count":
            low = self.num(0, 2)
            high = low + self.num(1, 3)
            values = tuple(range(low, high + 1))
            default = f", default={self.pick(values)}" if self.maybe() else ""
            return NamedHp(name, kind, f"int({low}, {high}{default})", values)
        elif kind == "flag":
            default = self.pick(("", "default=false", "default=true"))
            return NamedHp(name, kind, f"bool({default})", (False, True))
        else:  # pool
            values = tuple(self.distinct(("max", "avg"), 2, 2))
        text = ", ".join(_lit(v) for v in values)
        if self.maybe(1, 3):
            text += f", default={_lit(self.pick(values))}"
        return NamedHp(name, kind, f"choice({text})", values)

    # ---- values
    def loop_expr(self, ctx: Ctx, kind: str) -> str | None:
        if not ctx.loop_vars:
            return None
        var, _ = self.pick(ctx.loop_vars)
        if kind == "filters":
            return self.pick((f"8 * ({var} + 1)", f"4 + 4 * {var}",
                              f"2 ** ({var} + 2)" if "power" not in AVOID else f"4 * {var} + 4",
                              f"max(4, 8 * {var})", f"({var} + 2) * 8 // 2"))
        return self.pick((f"0.1 * {var}", f"min(0.5, 0.05 * {var})"))

    def filters(self, ctx: Ctx, fixed: bool = False) -> str:
        """A positive channel count; `fixed`: the same value wherever the text is repeated."""
        if ctx.channels:
            return self.pick(("in.channels", "in.shape[-1]", "in.channels * 1"))
        options = ["literal"]
        if not fixed:
            options += ["choice", "int"]
        if ctx.globals_visible:
            options += ["param", "named"]
        if ctx.loop_vars:
            options.append("loop")
        if ctx.block is not None and "f" in ctx.block.names:
            options += ["f", "f"]
        how = self.pick(options)
        if how == "choice":
            values = self.distinct(FILTERS)
            default = f", default={self.pick(values)}" if self.maybe(1, 3) else ""
            return f"choice({', '.join(map(str, values))}{default})"
        if how == "int":
            low = self.pick((4, 8))
            return f"int({low}, {low * 4}, step={low})"
        if how == "param":
            return self.pick(("width", "width * 2", "width // 2", "max(width, 8)"))
        if how == "named":
            hp = self.named_hp(ctx, "width")
            if hp is not None:
                return hp.name
        if how == "loop":
            return self.loop_expr(ctx, "filters")
        if how == "f":
            return self.pick(("f", "f * 2", "f // 2 + 1"))
        return str(self.pick(FILTERS))

    def rate(self, ctx: Ctx) -> str:
        options = ["literal", "choice"]
        if ctx.globals_visible:
            options.append("named")
        if ctx.loop_vars:
            options.append("loop")
        if ctx.block is not None and "r" in ctx.block.names:
            options += ["r", "r"]
        how = self.pick(options)
        if how == "choice":
            return f"choice({', '.join(_lit(v) for v in self.distinct(RATES))})"
        if how == "named":
            hp = self.named_hp(ctx, "rate")
            if hp is not None:
                return hp.name
        if how == "loop":
            return self.loop_expr(ctx, "rate")
        if how == "r":
            return "r"
        return _lit(self.pick(RATES))

    def kernel(self, ctx: Ctx) -> str:
        options = ["literal", "literal", "pair", "choice"]
        if ctx.block is not None and "k" in ctx.block.names:
            options += ["k", "k"]
        how = self.pick(options)
        if how == "pair":
            k = self.pick((1, 3, 5))
            return f"({k}, {k})"
        if how == "choice":
            return f"choice({', '.join(map(str, self.distinct((1, 3, 5))))})"
        if how == "k":
            return "k"
        return str(self.pick((3, 1, 5)))

    def act(self, ctx: Ctx) -> str:
        how = self.pick(("literal", "choice", "named") if ctx.globals_visible
                        else ("literal", "choice"))
        if how == "choice":
            return f"choice({', '.join(self.distinct(ACTIVATIONS))})"
        if how == "named":
            hp = self.named_hp(ctx, "act")
            if hp is not None:
                return hp.name
        return self.pick(ACTIVATIONS)

    # ---- ops
    def op(self, ctx: Ctx) -> str:
        """One op call: it keeps what `ctx` requires kept."""
        self.emitted += ctx.mult
        if ctx.channels:
            kinds = ["batch_norm", "relu", "act_op", "dropout", "activation", "identity"]
            if not self.vector:
                kinds += ["depthwise", "same_conv", "same_pool", "spatial_dropout"]
            else:
                kinds += ["same_dense", "layer_norm"]
        elif self.vector:
            kinds = ["dense", "dense", "dropout", "batch_norm", "relu", "act_op", "layer_norm"]
        else:
            kinds = ["conv2d", "conv2d", "batch_norm", "relu", "dropout", "separable",
                     "act_op", "transpose", "depthwise", "spatial_dropout"]
            if not ctx.spatial:
                kinds += ["pool", "strided"]
        kind = self.pick(kinds)
        text = self._op_text(kind, ctx)
        if self.maybe(1, 8):
            if "head_label" in AVOID and "(" not in text:
                text += "()"
            text += f" as {self.fresh('L')}"
        return text

    def _op_text(self, kind: str, ctx: Ctx) -> str:
        if kind == "conv2d":
            f, k = self.filters(ctx), self.kernel(ctx)
            form = self.num(0, 3)
            act = f", activation={self.act(ctx)}" if self.maybe() else ""
            if form == 1:
                return f"conv2d({f}, {k}, 1, same{act})"
            if form == 2:
                return f"conv2d(filters={f}, kernel_size={k}, padding=same{act})"
            if form == 3:
                return f"conv2d({f}, {k}, strides=(1, 1), padding=same, use_bias=false{act})"
            return f"conv2d({f}, {k}, padding=same{act})"
        if kind == "same_conv":
            return f"conv2d({self.filters(ctx)}, {self.kernel(ctx)}, padding=same)"
        if kind == "separable":
            return f"separable_conv2d({self.filters(ctx)}, {self.kernel(ctx)}, padding=same)"
        if kind == "transpose":
            return f"conv2d_transpose({self.filters(ctx)}, {self.kernel(ctx)}, padding=same)"
        if kind == "depthwise":
            return f"depthwise_conv2d({self.kernel(ctx)}, padding=same)"
        if kind == "strided":
            return f"conv2d({self.filters(ctx)}, 3, strides=2, padding=same)"
        if kind == "pool":
            return self.pick(("max_pool2d(2, padding=same)", "avg_pool2d(2, padding=same)",
                              "max_pool2d(3, 2, same)", "max_pool2d(padding=same)"))
        if kind == "same_pool":
            return self.pick(("max_pool2d(3, strides=1, padding=same)",
                              "avg_pool2d(3, 1, same)"))
        if kind == "batch_norm":
            return self.pick(("batch_norm", "batch_norm()", "batch_norm(momentum=0.9)",
                              "batch_norm(epsilon=1e-3, momentum=0.999)"))
        if kind == "layer_norm":
            return "layer_norm"
        if kind == "relu":
            return self.pick(("relu", "relu()", "relu(max_value=6.0)", "relu6",
                              "leaky_relu(0.1)"))
        if kind == "act_op":
            return self.pick(("sigmoid", "tanh", "swish", "gelu", "elu", "hard_swish"))
        if kind == "activation":
            return f"activation({self.act(ctx)})"
        if kind == "identity":
            return "identity"
        if kind == "dropout":
            return f"dropout({self.rate(ctx)})"
        if kind == "spatial_dropout":
            return f"spatial_dropout2d({self.rate(ctx)})"
        if kind == "same_dense":
            return f"dense({self.filters(ctx)})"
        # dense
        act = f", activation={self.act(ctx)}" if self.maybe() else ""
        return f"dense({self.filters(ctx)}{act})"

    def fixed_channels_op(self, ctx: Ctx, f: str) -> str:
        if self.vector:
            return f"dense({f})"
        return f"conv2d({f}, {self.pick((1, 3))}, padding=same)"

    # ---- stages and chains
    def stage(self, ctx: Ctx) -> str:
        kinds = ["op", "op", "op"]
        room = self.emitted < LAYER_BUDGET
        callable_blocks = [b for b in self._callable_blocks(ctx) if b.weight * ctx.mult <= 300]
        if callable_blocks and room:
            kinds.append("block")
        if ctx.depth > 0 and room:
            kinds += ["optional", "residual", "choice", "if"]
            if ctx.mult <= 4:
                kinds.append("repeat")
        kind = self.pick(kinds)
        if kind == "block":
            return self.block_call(ctx, self.pick(callable_blocks))
        if kind == "optional":
            return self.optional(ctx)
        if kind == "residual":
            return self.residual(ctx)
        if kind == "repeat":
            return self.repeat(ctx)
        if kind == "choice":
            return self.choice(ctx)
        if kind == "if":
            return self.if_stage(ctx)
        return self.op(ctx)

    def chain(self, ctx: Ctx, low: int = 1, high: int = 3) -> str:
        return " -> ".join(self.stage(ctx) for _ in range(self.num(low, high)))

    def statements(self, ctx: Ctx) -> list[str]:
        """Statements consuming `in`: one chain, or bindings and merges of branches."""
        statements = []
        prev = "in"
        n = self.num(1, 3) if ctx.depth > 0 else 1
        for k in range(n):
            last = k == n - 1
            if self.maybe(1, 4):
                text = self.merge_op(ctx, prev)
                if self.maybe():
                    text += " -> " + self.chain(ctx)
            elif prev == "in" and self.maybe():
                text = self.chain(ctx)  # a call or structure at the head consumes `in`
            else:
                text = f"{prev} -> {self.chain(ctx)}"
            if not last or self.maybe(1, 4):
                name = self.fresh("t")
                statements.append(f"{name} = {text}")
                prev = name
            else:
                statements.append(text)
        return statements

    def body(self, ctx: Ctx) -> str:
        sep = self.pick(("\n", "; ", "\n"))
        return "{ " + sep.join(self.statements(ctx)) + " }"

    def merge_op(self, ctx: Ctx, src: str) -> str:
        """concat / add / multiply of branches of `src` (a tensor name or `in`)."""
        branch_ctx = replace(ctx, spatial=True, depth=max(ctx.depth - 1, 0))
        kind = self.pick(("concat", "add", "multiply"))
        if kind == "multiply":
            if self.vector:
                gate = f"dense({src}.channels, activation=sigmoid)"
            else:
                gate = (f"global_avg_pool2d(keepdims=true) -> dense({src}.channels, "
                        "activation=sigmoid)")
            return f"multiply({src}, {src} -> {gate})"
        if kind == "add":
            if ctx.channels:
                if self.maybe():
                    return f"add({src}, {src} -> {self.chain(branch_ctx)})"
                return f"add({src} -> {self.chain(branch_ctx)}, {src} -> {self.chain(branch_ctx)})"
            f = self.filters(branch_ctx, fixed=True)
            tails = []
            for _ in range(2):
                pre = f"{self.chain(branch_ctx, 1, 2)} -> " if self.maybe() else ""
                tails.append(f"{src} -> {pre}{self.fixed_channels_op(branch_ctx, f)}")
            return f"add({', '.join(tails)})"
        parts = [src if self.maybe(1, 3) else f"{src} -> {self.chain(branch_ctx)}"]
        parts.append(f"{src} -> {self.chain(branch_ctx)}")
        axis = ", axis=-1" if self.maybe(1, 4) else ""
        text = f"concat({', '.join(parts)}{axis})"
        if ctx.channels:  # back to the input's channel count
            text += f" -> {self.fixed_channels_op(ctx, f'{src}.channels')}"
        return text

    def _callable_blocks(self, ctx: Ctx) -> list[BlockSig]:
        blocks = self.blocks  # while a block is drawn, only the blocks before it exist
        if ctx.block is not None and ctx.block.library:  # a library sees only its own
            blocks = [b for b in blocks if b.library]
        if ctx.channels:
            blocks = [b for b in blocks if b.kind != "conv"]
        if self.vector:
            blocks = []
        return blocks

    def block_call(self, ctx: Ctx, block: BlockSig) -> str:
        self.emitted += ctx.mult * block.weight
        args, positional = [], True
        for name, default in block.params:
            if default is not None and self.maybe():
                positional = False  # leave it out: the default applies
                continue
            value = self.block_arg(ctx, name)
            if positional and self.maybe(2, 3):
                args.append(value)
            else:
                positional = False
                args.append(f"{name}={value}")
        text = f"{block.name}({', '.join(args)})" if args or self.maybe() else block.name
        if self.maybe(1, 4):
            if "head_label" in AVOID and "(" not in text:
                text += "()"
            text += f" as {self.fresh('B')}"
        return text

    def block_arg(self, ctx: Ctx, name: str) -> str:
        if name == "f":
            return self.filters(replace(ctx, channels=False))
        if name == "k":  # compared with numbers in the block: no pairs
            return self.pick(("3", "1", "5", "choice(1, 3)"))
        if name == "r":
            return self.rate(ctx)
        own = ctx.block.names if ctx.block is not None else ()
        if name == "n":
            hp = self.named_hp(ctx, "count") if self.maybe(1, 3) else None
            if hp is not None:
                return hp.name
            if "n" in own and self.maybe():
                return "n"
            return str(self.num(1, 3))
        # flag
        hp = self.named_hp(ctx, "flag") if self.maybe(1, 3) else None
        if hp is not None:
            return hp.name
        if "flag" in own and self.maybe():
            return self.pick(("flag", "not flag"))
        return self.pick(("true", "false"))

    # ---- structures
    def _name_or_hp(self, ctx: Ctx, kind: str) -> tuple[str, NamedHp | None]:
        """A structure's name: none, a fresh one, or a named hp of `kind`."""
        how = self.num(0, 2)
        if how == 2:
            hp = self.named_hp(ctx, kind, structural=True)
            if hp is not None:
                return f" {hp.name}", hp
        if how >= 1:
            return f" {self.fresh('s')}", None
        return "", None

    def optional(self, ctx: Ctx) -> str:
        name, hp = self._name_or_hp(ctx, "flag")
        default = self.pick(("", " default true", " default false")) if hp is None else ""
        inner = ctx.inner(narrowed=ctx.narrowed | {hp.name} if hp else ctx.narrowed)
        return f"optional{name}{default} {self.body(inner)}"

    def residual(self, ctx: Ctx) -> str:
        inner = ctx.inner(spatial=True, channels=True)
        if self.maybe(1, 3):
            return f"residual {self.body(inner)}"
        name, hp = self._name_or_hp(ctx, "flag")
        default = self.pick(("", " default true", " default false")) if hp is None else ""
        if hp:
            inner = replace(inner, narrowed=inner.narrowed | {hp.name})
        return f"residual?{name}{default} {self.body(inner)}"

    def repeat(self, ctx: Ctx) -> str:
        var = self.fresh("i") if self.maybe(2, 3) else None
        form = self.num(0, 3)
        head, largest, narrowed = "", 0, ctx.narrowed
        if form == 0:  # LOW..HIGH [step S] [default D]
            name, hp = self._name_or_hp(ctx, "count")
            if hp is not None:
                low, high = hp.domain[0], hp.domain[-1]
                rng, counts = f"{low}..{high}", hp.domain
                narrowed |= {hp.name}
            else:
                low = self.num(0, 2)
                high = max(low, 1) + self.num(0, 2)
                step = self.num(1, 2) if high - low >= 2 else 1
                counts = tuple(range(low, high + 1, step))
                rng = f"{low}..{high}" + (f" step {step}" if step > 1 else "")
                if ctx.globals_visible and high == self.depth_param and self.maybe(1, 3):
                    dots = " .. " if "name_bound" in AVOID else ".."
                    rng = f"{low}{dots}depth" + (f" step {step}" if step > 1 else "")
                if len(counts) > 1 and self.maybe(1, 3):
                    rng += f" default {self.pick(counts)}"
            head = f"{name.strip()}: " if name else ""
            largest = max(counts)
        elif form == 1:  # a constant count
            n = self.num(1, 3)
            rng, largest = str(n), n
        elif form == 2 and ctx.block is not None and "n" in ctx.block.names:
            rng, largest = "n", 3  # a block argument (1..3 or a count hp)
        else:  # a count from one hyperparameter
            hp = self.named_hp(ctx, "count")
            if hp is None:
                n = self.num(1, 2)
                rng, largest = str(n), n
            else:
                plus = self.num(0, 1)
                rng = hp.name + (f" + {plus}" if plus else "")
                largest = hp.domain[-1] + plus
                narrowed |= {hp.name}
        loop = ((var, max(largest - 1, 0)),) if var else ()
        inner = ctx.inner(loop_vars=ctx.loop_vars + loop, narrowed=narrowed,
                          mult=ctx.mult * max(largest, 1))
        var_text = f"{var} in " if var else ""
        if not var and form == 0 and not head and self.maybe():
            var_text = ""
        return f"repeat {head}{var_text}{rng} {self.body_using(inner, var)}"

    def body_using(self, ctx: Ctx, var: str | None) -> str:
        """A body; with a loop variable, sometimes an if on it."""
        if var and ctx.depth > 0 and self.maybe(1, 4):
            cond = self.pick((f"{var} == 0", f"{var} % 2 == 1", f"{var} < 1",
                              f"not {var} > 0", f"{var} >= 1 and {var} < 3"))
            dead = replace(ctx, live=False)
            return f"{{ if {cond} {self.body(dead)} else {self.body(dead)} }}"
        return self.body(ctx)

    def choice(self, ctx: Ctx) -> str:
        inner = ctx.inner()
        name, hp = "", None
        if not ctx.spatial and not self.vector and self.maybe(1, 4):
            hp = self.named_hp(ctx, "pool", structural=True)
        if hp is None and self.maybe(1, 5):
            hp = self.named_hp(ctx, "act", structural=True)
        if hp is not None:  # alternatives labelled by the hp's values
            inner = replace(inner, narrowed=inner.narrowed | {hp.name})
            alts = []
            for value in hp.domain:
                if hp.kind == "pool":
                    op = f"{value}_pool2d(2, padding=same)"
                    if self.maybe():
                        op += " -> " + self.chain(inner, 1, 1)
                    alts.append(f"{value}: {op}")
                elif self.maybe():  # a single call's label is its op name
                    alts.append(value + ("()" if "bare_alternative" in AVOID else ""))
                else:
                    alts.append(f"{value}: {value} -> {self.chain(inner, 1, 1)}")
            return f"choice {hp.name} {{ {' | '.join(alts)} }}"
        if self.maybe():
            name = f" {self.fresh('c')}"
        labels, alts = [], []
        for k in range(self.num(2, 3)):
            if k > 0 and "none" not in labels and self.maybe(1, 3):
                labels.append("none")
                alts.append("none")
                continue
            label = self.fresh("a")
            labels.append(label)
            alts.append(f"{label}: {self.chain(inner, 1, 2)}")
        if self.maybe(1, 3) and len(labels) > 1:
            # an unlabelled single call: its label is the op name (unique here: a fresh block
            # would be needed for a block, so use an op no other alternative names)
            op = "identity" if not ctx.channels else "batch_norm"
            if op not in labels:
                labels.append(op)
                alts.append(op + ("()" if "bare_alternative" in AVOID else ""))
        default = ""
        real = [lab for lab in labels if lab != "none"]
        if self.maybe(1, 3):
            default = f" default {self.pick(real)}"
        return f"choice{name}{default} {{ {' | '.join(alts)} }}"

    def if_stage(self, ctx: Ctx) -> str:
        inner = ctx.inner()
        how = self.num(0, 2)
        if how == 2 and ctx.live and ctx.globals_visible:
            usable = [h for h in self.named if h.kind in ("count", "flag", "width")
                      and h.name not in ctx.narrowed and h.used]
            hp = self.pick(usable) if usable and self.maybe() else None
            if hp is None:
                hp = self.named_hp(ctx, self.pick(("count", "flag", "width")), structural=True)
            if hp is not None:
                hp.used = True
                cond = self._splitting_condition(hp)
                branch = replace(inner, narrowed=inner.narrowed | {hp.name})
                orelse = f" else {self.body(branch)}" if self.maybe() else ""
                return f"if {cond} {self.body(branch)}{orelse}"
        # on a constant: a param, a block argument, a loop index, a literal
        conds = ["true", "1 < 2", "not false"]
        if ctx.globals_visible:
            conds += ["width > 8", "classes == 10", "depth >= 2 and width < 64"]
        if ctx.block is not None:
            if "k" in ctx.block.names:
                conds.append("k > 1")
            if "flag" in ctx.block.names:
                conds.append("flag")
            if "f" in ctx.block.names:
                conds.append("f >= 16")
        if ctx.loop_vars:
            var, _ = self.pick(ctx.loop_vars)
            conds += [f"{var} == 0", f"{var} % 2 == 0"]
        cond = self.pick(conds)
        dead = replace(inner, live=False)
        text = f"if {cond} {self.body(dead)}"
        more = self.num(0, 2)
        if more == 1:
            text += f" else {self.body(dead)}"
        elif more == 2:
            other = self.pick(conds)
            text += f" else if {other} {self.body(dead)} else {self.body(dead)}"
        return text

    def _splitting_condition(self, hp: NamedHp) -> str:
        """A condition on `hp` that is true for some of its values and false for others."""
        if hp.kind == "flag":
            return self.pick((hp.name, f"not {hp.name}", f"{hp.name} == true"))
        values = sorted(hp.domain)
        k = self.num(0, len(values) - 2)
        return self.pick((f"{hp.name} > {values[k]}", f"{hp.name} <= {values[k]}",
                          f"{hp.name} == {values[0]}", f"{hp.name} != {values[-1]}",
                          f"{values[k]} < {hp.name}"))

    # ---- blocks
    def block(self, in_library: bool) -> tuple[BlockSig, str]:
        """A block definition: conv (takes filters f), keep (keeps the shape) or rec."""
        kind = self.pick(("conv", "keep", "rec"))
        name = self.fresh("blk")
        if kind == "rec":  # recursion ended by an if on its count
            params = [("n", None)]
            if self.maybe():
                params.append(("r", self.pick(("0.1", "choice(0.0, 0.2)"))))
            sig = BlockSig(name, kind, tuple(params), in_library)
            ctx = Ctx(depth=1, spatial=True, channels=True, has_in=True, live=False, block=sig)
            start = self.emitted
            step, base = self.chain(ctx, 1, 2), self.chain(ctx, 1, 1)
            sig = replace(sig, weight=4 * (self.emitted - start))  # n is at most 3 or 4
            again = f"{name}(n - 1{', r' if len(params) > 1 else ''})"
            return sig, (f"block {name}({_params(sig)}) {{\n  if n > 0 {{ {step} -> {again} }}"
                         f"\n  else {{ {base} }}\n}}")
        params = [("f", None)] if kind == "conv" else []
        for pname, defaults in (("k", ("3", "1", "choice(1, 3)")),
                                ("r", ("0.1", "choice(0.0, 0.25, 0.5)", "0.0")),
                                ("n", ("1", "2")), ("flag", ("false", "true"))):
            if self.maybe():
                params.append((pname, self.pick(defaults + (None,))))
        params.sort(key=lambda p: p[1] is not None)  # defaults last: callers may omit them
        sig = BlockSig(name, kind, tuple(params), in_library)
        keep = kind == "keep"
        ctx = Ctx(depth=self.num(1, 2), spatial=True, channels=keep, has_in=True, live=False,
                  block=sig)  # every block keeps the spatial size: callable in any branch
        start = self.emitted
        uses = []  # every parameter is used
        if "n" in sig.names:
            uses.append(f"repeat n {self.body(replace(ctx, depth=0))}")
        if "flag" in sig.names:
            flat = replace(ctx, depth=0)
            uses.append(f"if flag {self.body(flat)} else {self.body(flat)}")
        if "r" in sig.names:
            uses.append("dropout(r)")
        if "k" in sig.names:
            uses.append("depthwise_conv2d(k, padding=same)")
        if kind == "conv":
            uses.append(f"conv2d(f, {'k' if 'k' in sig.names else 3}, padding=same)")
        statements = self.statements(ctx)
        sig = replace(sig, weight=self.emitted - start + len(uses) + 3 * ("n" in sig.names))
        if uses:
            statements[-1] += " -> " + " -> ".join(self.draw(st.permutations(uses)))
        comment = f"# {name}: a {kind} block\n" if self.maybe(1, 3) else ""
        body = "\n  ".join(statements)
        return sig, f"{comment}block {name}({_params(sig)}) {{\n  {body}\n}}"


def _params(sig: BlockSig) -> str:
    return ", ".join(p if d is None else f"{p} = {d}" for p, d in sig.params)


def _lit(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@st.composite
def templates(draw, max_depth: int = 3) -> Generated:
    """A random well-formed template (see the module docstring)."""
    b = _Builder(draw, max_depth)
    b.vector = b.maybe(1, 5)
    b.depth_param = b.pick((3, 2))  # before anything that may write `..depth`
    name = b.fresh("gen")
    lines = [f"template {name}"]
    library: list[str] = []
    top_blocks: list[str] = []
    if not b.vector:
        for _ in range(b.num(0, 3)):
            in_library = b.maybe(1, 3)
            sig, text = b.block(in_library)
            b.blocks.append(sig)
            (library if in_library else top_blocks).append(text)
    files = {}
    if library:
        lib = f"lib_{name}.arch"
        files[lib] = "# generated block library\n" + "\n\n".join(library) + "\n"
        lines.append(f'import "{lib}"')
    classes = b.num(2, 12)
    lines += [f"param classes = {classes}", f"param width = {b.pick((8, 16, 32))}",
              f"param depth = {b.depth_param}"]
    # inputs
    two = b.maybe(1, 3)
    if b.vector:
        dims = [f"[{b.pick((8, 16, 468))}]"]
        dims.append(dims[0])
    else:
        side = b.pick((32, 16, 28))
        dims = [f"[{side}, {side}, {b.pick((3, 1))}]", f"[{side}, {side}, {b.pick((1, 3))}]"]
    inputs = ["image", "aux"] if two else ["image"]
    for inp, dim in zip(inputs, dims, strict=False):
        lines.append(f"input {inp} {dim}")
    # graph
    top = Ctx(depth=max_depth)
    statements = []
    if two and b.maybe():  # a merge point
        stages = [b.fixed_channels_op(top, b.filters(replace(top, spatial=True), fixed=True))]
        stages += [b.stage(replace(top, depth=1, mult=2)) for _ in range(b.num(1, 3))]
        op = b.pick(("add", "concat", "multiply", "choice(add, concat)"))
        mname = f" {b.fresh('m')}" if b.maybe() else ""
        statements.append(f"t0 = merge{mname} (image, aux) by {op} {{ {' -> '.join(stages)} }}")
    elif two:
        spatial = replace(top, spatial=True)
        statements.append(f"t0a = image -> {b.chain(spatial)}")
        statements.append(f"t0b = aux -> {b.chain(spatial)}")
        statements.append(b.pick(("t0 = concat(t0a, t0b)", "t0 = concat(t0a, t0b, axis=-1)")))
    else:
        statements.append(f"t0 = image -> {b.chain(top)}")
    prev = "t0"
    for _ in range(b.num(0, 3)):
        name_t = b.fresh("t")
        if b.maybe(1, 3):
            statements.append(f"{name_t} = {b.merge_op(top, prev)}")
        else:
            statements.append(f"{name_t} = {prev} -> {b.chain(top)}")
        prev = name_t
    heads = ["flatten -> dense(classes) -> softmax"] if b.vector else [
        "global_avg_pool2d -> dense(classes) -> softmax",
        "conv2d(classes, 1) -> global_avg_pool2d -> softmax",
        "flatten -> dense(classes, activation=softmax)",
        "global_max_pool2d -> dense(classes, activation=softmax)",
    ]
    outputs = []
    n_out = 2 if b.maybe(1, 5) else 1
    for k in range(n_out):
        head = b.pick(heads)
        if n_out == 1 and b.maybe():
            statements.append(f"{prev} -> {head}")
            outputs.append("output")
        else:
            out = f"out{k}"
            statements.append(f"output {out} = {prev} -> {head}")
            outputs.append(out)
    graph = "graph {\n  " + "\n  ".join(statements) + "\n}"
    # train
    settings = []
    if b.maybe(2, 3):
        for key in ("optimizer", "learning_rate", "batch_size", "loss", "metrics", "epochs"):
            if not b.maybe(2, 3):
                continue
            settings.append(f"{key} = {_setting(b, key)}")
    train = ("train { " + b.pick(("; ", "\n  ")).join(settings) + " }") if settings else ""
    named = [h for h in b.named if h.used]
    hp_lines = [f"hp {h.name} = {h.decl}" for h in named]
    source = "\n".join(lines + hp_lines + top_blocks + [graph, train]) + "\n"
    return Generated(source, files, tuple(h.name for h in named), tuple(inputs),
                     tuple(outputs), name)


def _setting(b: _Builder, key: str) -> str:
    if key == "optimizer":
        return b.pick(("adam", "sgd", "choice(adam, sgd(momentum=0.9), rmsprop)",
                       "sgd(momentum=0.9)" if "optimizer_call" not in AVOID else "rmsprop",
                       "choice(rmsprop, adamw)"))
    if key == "learning_rate":
        return b.pick(("1e-3", "0.01", "choice(1e-3, 1e-4)", "choice(0.1, 0.01, 0.001)"))
    if key == "batch_size":
        return b.pick(("32", "choice(16, 32, 64)", "int(16, 64, step=16)"))
    if key == "loss":
        return b.pick(("categorical_crossentropy", "sparse_categorical_crossentropy", "mse"))
    if key == "metrics":
        return b.pick(("[accuracy]", "[accuracy, auc]", "[]"))
    return str(b.num(1, 100))


# ---------------------------------------------------------------- mutations

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|->|\.\.|//|\*\*"
                    r"|[=!<>]=|\"[^\"\n]*\"|#[^\n]*|\s+|.", re.S)
PUNCTUATION = list("{}()[],;:.=-><?#\"'*/%+|!") + ["->", "..", "//", "**", "\n", " ", "\t"]
WORDS = ["template", "import", "param", "input", "hp", "block", "graph", "train", "output",
         "optional", "residual", "repeat", "choice", "merge", "if", "else", "in", "as", "by",
         "default", "step", "none", "true", "false", "and", "or", "not", "int", "float",
         "bool", "in.channels", "relu", "conv2d", "0", "1", "-1", "1e999", "99999999999",
         "0.5", "'x'", '"blocks/fire.arch"']
ODD_CHARS = ["\0", "\x0b", "\x0c", "\r", "\x1c", "\x85", "\u2028", "\u2029", "\ufeff",
             "\u00e9", "\u0301", "\U0001f600", "\t", "\x7f", "\ud7ff"]


def _chars():
    return st.one_of(st.sampled_from(PUNCTUATION + ODD_CHARS + WORDS),
                     st.characters(codec="utf-8"), st.text(min_size=1, max_size=3))


@st.composite
def mutations(draw, text: str, max_mutations: int = 3) -> bytes:
    """`text` damaged by 1..max_mutations random edits, as bytes (maybe invalid UTF-8)."""
    n = draw(st.integers(1, max_mutations))
    raw: bytes | None = None
    for _ in range(n):
        kind = draw(st.sampled_from([
            "delete_char", "insert_char", "swap_chars", "delete_token", "duplicate_token",
            "swap_tokens", "replace_token", "truncate", "delete_span", "insert_bytes",
            "truncate_bytes",
        ]))
        if kind in ("insert_bytes", "truncate_bytes"):
            raw = text.encode("utf-8") if raw is None else raw
            at = draw(st.integers(0, len(raw)))
            if kind == "truncate_bytes":
                raw = raw[:at]
            else:
                junk = draw(st.sampled_from([b"\0", b"\xff", b"\xc3", b"\xe2\x80", b"\xed\xa0\x80",
                                             b"\x80", b"\xf4\x90\x80\x80"]))
                raw = raw[:at] + junk + raw[at:]
            continue
        if raw is not None:  # already bytes: keep editing the text part we can decode
            text = raw.decode("utf-8", errors="surrogateescape")
        text = _mutate_text(draw, kind, text)
        if raw is not None:
            raw = text.encode("utf-8", errors="surrogateescape")
    return raw if raw is not None else text.encode("utf-8", errors="surrogatepass")


def _mutate_text(draw, kind: str, text: str) -> str:
    size = len(text)
    if kind == "delete_char" and size:
        i = draw(st.integers(0, size - 1))
        return text[:i] + text[i + 1:]
    if kind == "insert_char":
        i = draw(st.integers(0, size))
        return text[:i] + draw(_chars()) + text[i:]
    if kind == "swap_chars" and size >= 2:
        i = draw(st.integers(0, size - 2))
        j = draw(st.integers(i + 1, min(size - 1, i + 40)))
        return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    if kind == "truncate":
        return text[: draw(st.integers(0, size))]
    if kind == "delete_span" and size:
        i = draw(st.integers(0, size - 1))
        j = draw(st.integers(i, min(size, i + 80)))
        return text[:i] + text[j:]
    tokens = [t for t in _TOKEN.findall(text)]
    if not tokens:
        return text + draw(_chars())
    words = [k for k, t in enumerate(tokens) if not t.isspace()] or list(range(len(tokens)))
    k = draw(st.sampled_from(words))
    if kind == "delete_token":
        del tokens[k]
    elif kind == "duplicate_token":
        tokens.insert(k, tokens[k] + draw(st.sampled_from(["", " "])))
    elif kind == "swap_tokens":
        j = draw(st.sampled_from(words))
        tokens[k], tokens[j] = tokens[j], tokens[k]
    elif kind == "replace_token":
        tokens[k] = draw(st.one_of(st.sampled_from(WORDS + PUNCTUATION),
                                   st.sampled_from([tokens[j] for j in words])))
    return "".join(tokens)

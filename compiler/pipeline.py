"""The pipeline, written once: a template's name or path -> found -> loaded (parsed once,
imports included) -> expanded and checked -> values chosen -> resolved -> costed -> built ->
summarised. It owns the public `Template`; `archc.load`, the CLI, search, report and the data
adapters all go through it.

    >>> template = load("squeezenet_auto", params={"classes": 10})
    >>> template.cost()["params"]
    124394
    >>> smaller = template.reconfigure(inputs={"image": (28, 28, 1)})
    >>> smaller.inputs["image"], smaller.params["classes"]
    ((28, 28, 1), 10)

Stages, each in its own module: `imports.load` (`parse.parse_file` per file) ->
`graph.build_graph` -> `space.declare_space` | `resolve.resolve` (-> `shapes`) ->
`lower.lower`. TensorFlow is imported by `build`, `hypermodel` and `compile_summary` only.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import ast, text
from .diagnostics import ArchError, ArchWarning, SourcePos
from .factories import keras_result
from .graph import COSTS, Constraint, TemplateGraph, build_graph
from .hyper import show_condition
from .imports import Loaded, templates_dir
from .imports import load as load_source
from .kinds import Hp, Node
from .resolve import Architecture, Unchecked, resolve
from .space import count_configurations, declare_space, sample

MAX_SAMPLE_DRAWS = 100  # seeds tried by `choose` until a sample's shapes work


@dataclass
class Template(TemplateGraph):
    """A checked template with the verbs that run the later stages on it.

    `source` is the parsed file with its imports, and `given` the params and input shapes it
    was expanded with: `reconfigure` expands it again for others without parsing anything.
    """

    source: Loaded | None = field(default=None, repr=False, compare=False)
    given: tuple[dict, dict] = field(default=({}, {}), repr=False, compare=False)

    def resolve(self, values=None) -> Architecture:
        """The concrete architecture for `values` (a mapping, a kt.HyperParameters, or None
        for the defaults): see resolve.py."""
        return resolve(self, values, keras_result)

    def build(self, values=None, compile: bool = True):
        """A keras.Model for `values`, compiled with the template's training settings."""
        from .lower import lower  # TensorFlow: only when a model is built

        return lower(self.resolve(values), compile=compile)

    def cost(self, values=None) -> dict[str, int]:
        """Parameters, float32 bytes, FLOPs (multiply-adds) and peak activation bytes."""
        return self.resolve(values).cost()

    def space(self):
        """The keras_tuner.HyperParameters of this template, conditions included."""
        return declare_space(self)

    def hypermodel(self):
        """A keras_tuner.HyperModel that any Keras Tuner tuner can search."""
        from .hypermodel import ArchHyperModel  # TensorFlow: only for a search

        return ArchHyperModel(self)

    def constrained(self, **limits: float) -> Template:
        """This template with budgets on its costs (`params=2e6, flops=5e8`; also `bytes`,
        `peak_activation_bytes`): `resolve` then raises `OverBudget` beyond them, and its
        hypermodel rejects such candidates before Keras builds them.

        >>> small = load("squeezenet_auto", params={"classes": 10}).constrained(params=1e5)
        >>> small.resolve({"group1": 2})
        Traceback (most recent call last):
        ...
        archc.resolve.OverBudget: over budget: 223,274 params breaks the budget (params <= 100,000)
        """
        unknown = sorted(set(limits) - set(COSTS))
        if unknown:
            raise ValueError(f"expected budgets among {', '.join(COSTS)}, found {unknown}")
        extra = tuple(Constraint(k, "<=", v, source="the budget") for k, v in limits.items())
        return replace(self, constraints=self.constraints + extra)

    def reconfigure(self, params: dict | None = None,
                    inputs: dict[str, tuple] | None = None) -> Template:
        """This template expanded again with `params` and `inputs` over those it was given
        (the source is not parsed again)."""
        given_params, given_inputs = self.given
        again = expand(self.source or load_source(self.path), {**given_params, **(params or {})},
                       {**given_inputs, **(inputs or {})})
        added = tuple(c for c in self.constraints if c.pos is None)  # `constrained`'s
        return replace(again, constraints=again.constraints + added) if added else again


def find(name: str | Path) -> Path:
    """A path as given, else a bundled template by name (`squeezenet_se_auto`, `blocks/fire`)."""
    path = Path(name)
    text = str(name)
    if path.exists() or path.suffix == ".arch" or "/" in text.rstrip("/") and path.suffix:
        return path
    bundled = templates_dir()
    for candidate in (bundled / f"{text}.arch", bundled / "blocks" / f"{text}.arch"):
        if candidate.is_file():
            return candidate
    return path


def read(path_or_name: str | Path, import_path=()) -> Loaded:
    """A template file found (`find`) and parsed with the files it imports; `import_path`:
    folders imports may name files in besides the template's own and the bundled ones."""
    path = find(path_or_name)
    with recursion_guard(path):
        return load_source(path, tuple(import_path))


def load(path_or_name: str | Path | Loaded, params: dict | None = None,
         inputs: dict[str, tuple] | None = None, import_path=()) -> Template:
    """A checked template from a file path, a bundled template's name, or a source already
    `read`.

    Args:
        path_or_name: `templates/x.arch`, or a bundled name such as `squeezenet_se_auto`.
        params: values for the template's `param`s (e.g. `{"classes": 10}`).
        inputs: input shapes overriding the declared ones (e.g. `{"image": (64, 64, 3)}`).
        import_path: folders that imports may name files in, besides the template's folder
            and the bundled templates (docs/language.md, "The import path").
    Raises:
        ArchError, ArchErrors: the template has faults.
    """
    source = path_or_name if isinstance(path_or_name, Loaded) else read(path_or_name, import_path)
    return expand(source, params, inputs)


def load_with_settings(path_or_name: str | Path, settings: dict,
                       inputs: dict[str, tuple] | None = None,
                       import_path=()) -> tuple[Template, dict]:
    """The template with the params among `settings` (`--set NAME=VALUE`), and the rest of
    `settings`: hyperparameter values. The file is parsed once."""
    source = read(path_or_name, import_path)
    params, hp_values = split(param_names(source), settings)
    return expand(source, params, inputs), hp_values


def expand(source: Loaded, params: dict | None = None,
           inputs: dict[str, tuple] | None = None) -> Template:
    """A loaded source expanded and checked (graph.py) into a public Template."""
    with recursion_guard(source.main.path):
        graph = build_graph(source, params, inputs)
    return Template(**{f.name: getattr(graph, f.name) for f in fields(TemplateGraph)},
                    source=source, given=(dict(params or {}), dict(inputs or {})))


@contextmanager
def recursion_guard(path):
    """Python's RecursionError, should some walk still pass the parser's nesting limit, as a
    whole-file ArchError: never an internal error."""
    try:
        yield
    except RecursionError:
        raise ArchError("nested too deeply to compile", SourcePos(str(path), 0, 0),
                        "split deep expressions or structures, or use blocks") from None


def param_names(source: Loaded) -> set[str]:
    """The names of the `param`s the main file declares."""
    return {d.name for d in source.main.of_type(ast.ParamDecl)}


def split(names: set[str], settings: dict) -> tuple[dict, dict]:
    """`settings` for the params called `names`, and the rest (hyperparameter values)."""
    return ({k: v for k, v in settings.items() if k in names},
            {k: v for k, v in settings.items() if k not in names})


def choose(template: TemplateGraph, hp_values: dict, seed: int | None = None) -> Architecture:
    """The template resolved at `hp_values`, or, for a `seed`, at a random valid sample with
    `hp_values` over it (further seeds drawn from it until a sample's shapes work).

    Raises:
        ArchError: the values are infeasible, or no sample of `MAX_SAMPLE_DRAWS` was.
    """
    if seed is None:
        return resolve(template, hp_values, keras_result)
    rng = random.Random(seed)
    last = None
    for _ in range(MAX_SAMPLE_DRAWS):
        values = {**sample(template, rng.randrange(2**31)), **hp_values}
        try:
            return resolve(template, values, keras_result)
        except ArchError as exc:
            last = exc
    raise ArchError(f"no feasible configuration in {MAX_SAMPLE_DRAWS} random draws from seed "
                    f"{seed}; the last: {last.message}", last.pos,
                    "most of this space cannot be built: narrow its ranges (archc space "
                    "counts what can be built), or set some hyperparameters with --set")


def inactive(template: TemplateGraph, given: dict, arch: Architecture) -> dict[str, str]:
    """The given hyperparameters that the chosen values leave inactive, each with the
    condition under which it would be active: their values change nothing."""
    return {name: show_condition(template.hp(name).condition) for name in given
            if name not in arch.choices and name not in template.params}


def defaults(template: TemplateGraph) -> tuple[Architecture | None, list[Unchecked]]:
    """Infer the shapes of the default configuration: a template whose baseline cannot be
    built is wrong (shape inference only; Keras is not imported).

    Returns:
        The architecture at the defaults (None for a block library, or when a
        `keras_layer` stops the inference), and what could not be checked without
        Keras (`keras_layer` calls), as warnings.
    Raises:
        ArchError: the defaults do not build, prefixed "at the defaults".
    """
    if template.is_library:
        return None, []
    try:
        arch = resolve(template)
        return arch, list(arch.unchecked)
    except Unchecked as warning:
        return None, [warning]
    except ArchError as exc:
        exc.message = f"at the defaults, {exc.message}"
        raise


def check_defaults(template: TemplateGraph) -> list[Unchecked]:
    """`defaults`' warnings: what `archc check` could not check without Keras.

    Raises:
        ArchError: the defaults do not build, prefixed "at the defaults".
    """
    return defaults(template)[1]


def lint(template: TemplateGraph) -> list[ArchWarning]:
    """Warnings on a valid template: each `choice` with a single option (a constant that
    `archc space` counts as a hyperparameter), located at the choice."""
    return [ArchWarning(f"choice '{h.name}' has one option, {text.value(h.values[0])}: it is "
                        "a constant", h.pos, "write the option without the choice, or give it "
                        "more options")
            for h in template.hyperparameters
            if h.kind == Hp.CHOICE and h.values is not None and len(h.values) == 1]


def check_summary(template: TemplateGraph) -> dict:
    """What `archc check` says of a valid template."""
    layers = sum(1 for _, d in template.graph.nodes(data=True) if d.get("kind") == Node.OP)
    return {
        "template": template.name, "library": template.is_library,
        "inputs": {k: list(v) for k, v in template.inputs.items()},
        "outputs": list(template.outputs), "layers": layers,
        "hyperparameters": len(template.hyperparameters),
        "configurations": count_configurations(template),
    }


def compile_summary(arch: Architecture, model) -> dict:
    """The facts `archc compile` reports, from the concrete graph and the Keras model."""
    from .lower import layer_name  # beside the model, which needs TensorFlow anyway

    g = arch.graph

    def keras_layer(n):
        return model.get_layer(layer_name(g.nodes[n]["shares"] or n))

    layers = [{"name": layer_name(n), "node": n, "type": type(keras_layer(n)).__name__,
               "output_shape": [None, *g.nodes[n]["shape"]],
               "params": 0 if g.nodes[n]["shares"] else g.nodes[n]["params"],
               "shares": g.nodes[n]["shares"]} for n in arch.layers()]
    return {
        "template": arch.template.name, **arch.cost(), "keras_params": model.count_params(),
        "choices": arch.choices,
        "inputs": {k: [None, *v] for k, v in arch.inputs.items()},
        "outputs": {k: [None, *g.nodes[v]["shape"]] for k, v in arch.outputs.items()},
        "train": arch.train, "layers": layers,
    }

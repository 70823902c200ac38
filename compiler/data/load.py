"""`load_data(spec, fraction=, seed=, template=)`: parse the spec, load, split, subsample,
fit the template's inputs."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from .. import pipeline
from ..diagnostics import did_you_mean
from .context import Context
from .dataset import Dataset, Source, label_mode, split_source, stratified_subsample, target_shape
from .errors import DataError


@dataclass(frozen=True)
class Spec:
    """A data spec: its loader, named as `module:function` inside archc.data and imported only
    when used (TensorFlow, OpenCV and scikit-learn load lazily)."""

    name: str
    loader: str
    arg: str          # one of ARG_KINDS
    usage: str
    takes_template: bool = False  # the loader needs the template (an SSD head's anchors)

    def loader_function(self):
        module, function = self.loader.split(":")
        return getattr(import_module(f".{module}", __package__), function)

    def load(self, arg, ctx, template):
        extra = (template,) if self.takes_template else ()
        return self.loader_function()(arg, ctx, *extra)


ARG_KINDS = ("none", "optional", "required")


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("digits", "builtin:load_digits", "none", "digits"),
    Spec("fashion_mnist", "builtin:load_fashion_mnist", "optional", "fashion_mnist[:DIR]"),
    Spec("cifar10", "builtin:load_cifar10", "optional", "cifar10[:PATH]"),
    Spec("folder", "folders:load_folder", "required", "folder:DIR"),
    Spec("pairs", "folders:load_pairs", "required", "pairs:DIR"),
    Spec("segmentation", "folders:load_segmentation", "required", "segmentation:DIR"),
    Spec("mnist_boxes", "boxes:load_mnist_boxes", "optional", "mnist_boxes[:N]",
         takes_template=True),
)}


def parse_spec(spec: str) -> tuple[Spec, str | None]:
    """(the spec's entry, its argument or None) for `name` or `name:ARG`."""
    if not isinstance(spec, str) or not spec.strip():
        raise DataError("empty data spec", hint="specs: " + ", ".join(
            s.usage for s in SPECS.values()))
    name, sep, arg = spec.strip().partition(":")
    entry = SPECS.get(name)
    if entry is None:
        hint = did_you_mean(name, SPECS) or ("data specs: " + ", ".join(
            s.usage for s in SPECS.values()))
        raise DataError(f"unknown data spec '{name}'", hint=hint)
    arg = arg.strip() if sep else None
    if entry.arg == "required" and not arg:
        raise DataError(f"the data spec '{name}' needs an argument: {entry.usage}")
    if entry.arg == "none" and arg:
        raise DataError(f"the data spec '{name}' takes no argument, found '{spec}'")
    return entry, arg or None


def _template(template):
    if template is None or hasattr(template, "inputs"):
        return template
    return pipeline.load(template)


def load_data(spec: str = "digits", *, fraction: float = 1.0, seed: int = 0,
              template=None) -> Dataset:
    """The data set of `spec`, split into train / validation (/ test).

    Args:
        spec: see the package docstring (`digits`, `folder:DIR`, ...).
        fraction: 0 < F <= 1: keep this part of train and of validation, stratified.
        seed: the splits, the subsample and the training shuffle follow it.
        template: a `Template` (or a template name / path): inputs are fitted to its
            shapes, labels to its loss, and an SSD head gets its targets.
    Raises:
        DataError: a bad spec, missing or corrupt files, a template that cannot take it.
    """
    entry, arg = parse_spec(spec)
    try:
        fraction = float(fraction)
    except (TypeError, ValueError):
        raise DataError(f"fraction must be a number in (0, 1], found {fraction!r}") from None
    if not 0.0 < fraction <= 1.0:
        raise DataError(f"fraction must be in (0, 1], found {fraction:g}",
                        hint="the paper's fidelities are 0.1, 0.4 and 1")
    template = _template(template)
    want = dict(template.inputs) if template is not None else None
    ctx = Context(spec.strip(), getattr(template, "name", None), want, int(seed))
    src: Source = entry.load(arg, ctx, template)
    src.notes[:0] = ctx.notes
    splits = split_source(src, int(seed))
    if fraction < 1.0:
        for i, name in enumerate(("train", "validation")):
            arrays = splits[name]
            splits[name] = arrays.take(stratified_subsample(
                arrays.strata, len(arrays), fraction, int(seed) + 7919 * (i + 1)))
    inputs = {}
    for name, info in src.inputs.items():
        wanted = want.get(name) if want is not None else None
        if want is not None and wanted is None:
            raise DataError(f"template '{template.name}' has no input '{name}' "
                            f"(its inputs: {', '.join(want)})")
        inputs[name] = target_shape(name, info, wanted, ctx.template, ctx.spec)
    mode = "sparse"
    if template is not None:
        mode = label_mode(template.train.get("loss"), src.task) or mode
    return Dataset(ctx.spec, src.task, inputs, src.inputs, splits, src.classes,
                   class_names=src.class_names, notes=src.notes, seed=int(seed), mode=mode,
                   fraction=fraction)

"""What a loader is told: the spec, the template's inputs (if any), the seed, and where to
write notes about skipped examples."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dataset import fmt_shape
from .errors import DataError

DEFAULT_INPUT = "image"


@dataclass
class Context:
    spec: str
    template: str | None = None             # the template's name, for messages
    want: dict[str, tuple] | None = None    # the template's inputs
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def single(self) -> tuple[str, tuple | None]:
        """(input name, wanted shape or None) for data with one input per example."""
        if self.want is None:
            return DEFAULT_INPUT, None
        if len(self.want) != 1:
            listed = ", ".join(f"{k} {fmt_shape(v)}" for k, v in self.want.items())
            raise DataError(f"template '{self.template}' takes {len(self.want)} inputs "
                            f"({listed}), but the data '{self.spec}' gives one per example",
                            hint="use pairs:DIR for data with several inputs per example")
        name, shape = next(iter(self.want.items()))
        return name, tuple(shape)

    def image_size(self, name: str, shape: tuple | None) -> tuple[tuple | None, int | None]:
        """((height, width), channels) to read images of input `name` at, from the wanted
        shape; (None, None) when the template does not say (no template, a flat input).
        An input that can never take images is an error before any file is read."""
        if shape is None:
            return None, None
        if len(shape) == 3:
            return (int(shape[0]), int(shape[1])), (int(shape[2]) if shape[2] in (1, 3) else None)
        if len(shape) == 1:
            return None, None
        raise DataError(f"template '{self.template}' input '{name}' has shape "
                        f"{fmt_shape(shape)}, but the data '{self.spec}' gives images",
                        hint="an image input is [height, width, channels] with 1 or 3 channels")

"""The options of a search, validated: `Settings`, what `archc search` builds from its
command line and what a Python caller gives `archc.search.search`.

A pydantic model, so that a wrong option from Python is refused when the settings are made,
with the field and what it accepts (`trials: Input should be greater than or equal to 1`),
instead of failing inside Keras Tuner minutes later. The command line builds its settings
here too, and turns a refusal into a usage error naming the option (`cli._settings`);
`archc check` never imports this module.

    >>> Settings(trials=10, epochs=5).stop_early
    'median'
    >>> Settings(fraction=0)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings
    fraction
      Input should be greater than 0 [type=greater_than, input_value=0, input_type=int]
    ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=1)]


class Settings(BaseModel):
    """The `archc search` options (the paper's settings are the defaults). results.json
    records `tuner`, `seed` and the `RecordedSettings`.

    `tuner` is a name of `tuners.TUNERS` (checked when the oracle is made, which lists
    them). `objective` is NAME[:min|max], or a list of them for a multi-objective search.
    `params` are the template's params (`--set NAME=VALUE`), `inputs` input shapes over the
    template's (`--input NAME=H,W,C`), `start_from` "defaults" or "DIR[:TRIAL]"
    (`start.py`); `extend` allows `guard.EXTENDABLE` settings to differ from the recorded
    ones; `strategy` "mirrored" trains each trial on every GPU (tf.distribute).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tuner: str = "random"
    trials: Count = 100
    epochs: Count = 100
    patience: Annotated[int, Field(ge=0)] = 5
    seed: Annotated[int, Field(ge=0)] | None = None
    objective: str | list[str] | None = None
    fraction: Annotated[float, Field(gt=0, le=1)] = 1.0
    max_params: Count | None = None
    max_bytes: Count | None = None
    max_flops: Count | None = None
    keep: Annotated[int, Field(ge=0)] = 3
    stop_early: Literal["never", "chance", "median"] = "median"
    params: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    start_from: str | None = None
    overwrite: bool = False
    extend: bool = False
    verbose: bool = False
    strategy: Literal["none", "mirrored"] = "none"

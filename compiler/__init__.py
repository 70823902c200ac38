"""archc: architecture templates (.arch) -> Keras Tuner search spaces -> Keras models.

    >>> import archc
    >>> template = archc.load("squeezenet_se_auto")
    >>> template.name
    'squeezenet_se_auto'

`load` imports neither TensorFlow nor Keras; `template.build(...)` does. The stages are
chained in `archc.pipeline`; this module only names its public parts.
"""

from __future__ import annotations

__all__ = ["Template", "load"]
__version__ = "0.1.0"

_PUBLIC = {"load", "Template"}


def __getattr__(name: str):
    """`archc.load` and `archc.Template`, imported on first use so that `import archc.cli`
    (every `archc` command) does not pay for the front end it may not need."""
    if name in _PUBLIC:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'archc' has no attribute '{name}'")

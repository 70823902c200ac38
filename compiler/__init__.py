"""archc: architecture templates (.arch) -> Keras Tuner search spaces -> Keras models.

    >>> import archc
    >>> template = archc.load("squeezenet_se_auto")
    >>> template.name
    'squeezenet_se_auto'

`load` imports neither TensorFlow nor Keras; `template.build(...)` does.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["load"]
__version__ = "0.1.0"


def load(path_or_name: str | Path, params: dict | None = None,
         inputs: dict[str, tuple] | None = None):
    """A checked template from a file path or a bundled template's name.

    Args:
        path_or_name: `templates/x.arch`, or a bundled name such as `squeezenet_se_auto`.
        params: values for the template's `param`s (e.g. `{"classes": 10}`).
        inputs: input shapes overriding the declared ones (e.g. `{"image": (64, 64, 3)}`).
    Raises:
        archc.diagnostics.ArchError, ArchErrors: the template has faults.
    """
    from .cli import resolve_template
    from .graph import build_graph

    return build_graph(resolve_template(str(path_or_name)), params, inputs)

"""Template graphs and concrete architectures -> Graphviz DOT text drawn like the paper's
figures; DOT text -> SVG, PNG or PDF.

`to_dot` draws a template, `template_highlight_dot` the same with one set of choices'
path highlighted (`template.py`); `architecture_to_dot` draws one concrete architecture
(`architecture.py`); `render_format` runs Graphviz (`graphviz.py`). Both drawings share the
house style (`common.py`), the cluster and spine layout (`layout.py`) and the DOT syntax
(`dot.py`).
"""

from __future__ import annotations

from .architecture import architecture_to_dot
from .dot import quote
from .graphviz import FORMATS, ToolFailed, ToolMissing, render_format
from .template import template_highlight_dot, to_dot

__all__ = ["FORMATS", "ToolFailed", "ToolMissing", "architecture_to_dot", "quote",
           "render_format", "template_highlight_dot", "to_dot"]

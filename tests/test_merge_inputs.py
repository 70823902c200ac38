"""Optional inputs of merge ops (docs/language.md, "Optional inputs"): an `optional` that is
an argument of `concat`, `add`, ... drops out of the join when it is off; a join left with
one input is that input; one that could be left with none is an error of `check`. Costs come
from `resolve` (no Keras)."""

from __future__ import annotations

import textwrap

import pytest

import archc
from archc.diagnostics import ArchErrors

CELL = """
    input image [8, 8, 4]
    block cell() {
      concat(conv2d(8, 1),
             optional b3 { conv2d(8, 3, padding=same) },
             in -> optional pool { max_pool2d(3, 1, padding=same) -> conv2d(2, 1) })
    }
    graph { image -> cell -> global_avg_pool2d -> dense(3) }
    """


def load(tmp_path, text: str):
    path = tmp_path / "t.arch"
    path.write_text(textwrap.dedent(text))
    return archc.load(path)


@pytest.mark.parametrize(("b3", "pool", "channels"), [
    (False, False, 8), (True, False, 16), (False, True, 10), (True, True, 18)])
def test_an_optional_input_that_is_off_drops_out_of_the_concat(tmp_path, b3, pool, channels):
    template = load(tmp_path, CELL)
    arch = template.resolve({"cell/b3": b3, "cell/pool": pool})
    weights = (4 * 8 + 8) + b3 * (9 * 4 * 8 + 8) + pool * (4 * 2 + 2) + channels * 3 + 3
    assert arch.cost()["params"] == weights
    assert arch.graph.nodes["global_avg_pool2d"]["shape"] == (channels,)


def test_a_join_left_with_one_input_is_that_input(tmp_path):
    arch = load(tmp_path, CELL).resolve({"cell/b3": False, "cell/pool": False})
    assert "cell/concat" not in arch.graph
    assert list(arch.graph.predecessors("global_avg_pool2d")) == ["cell/conv2d"]


def test_an_optional_outside_a_join_still_passes_its_input(tmp_path):
    template = load(tmp_path, """
        input image [8, 8, 4]
        graph { image -> optional b { conv2d(8, 1) } -> global_avg_pool2d -> dense(3) }
        """)
    assert template.cost({"b": False})["params"] == 4 * 3 + 3


def test_optional_inputs_of_add_keep_their_conditions(tmp_path):
    template = load(tmp_path, """
        input image [8, 8, 4]
        block unit() {
          add(in, optional a { conv2d(4, 1) }, in -> optional b { conv2d(4, 3, padding=same) })
        }
        graph { image -> unit -> global_avg_pool2d -> dense(3) }
        """)
    assert {h.name: h.condition for h in template.hyperparameters} == {"unit/a": (), "unit/b": ()}
    assert template.cost({"unit/a": True, "unit/b": True})["params"] == 20 + 148 + 15
    assert template.cost({"unit/a": False, "unit/b": False})["params"] == 15


@pytest.mark.parametrize(("join", "message"), [
    ("add(optional a { conv2d(4, 1) }, optional b { conv2d(4, 1) })",
     "add can be left with no input: when cell/a = false and cell/b = false"),
    ("subtract(in, optional a { conv2d(4, 1) })", "subtract takes no optional input"),
])
def test_a_join_that_could_lose_its_meaning_is_an_error(tmp_path, join, message):
    with pytest.raises(ArchErrors) as caught:
        load(tmp_path, f"""
            input image [8, 8, 4]
            block cell() {{ {join} }}
            graph {{ image -> cell -> global_avg_pool2d -> dense(3) }}
            """)
    errors = [e for e in caught.value.errors if message in e.message]
    assert errors and all(e.pos is not None for e in errors), caught.value.errors


def test_the_drawing_dashes_an_input_that_may_drop_out(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "cell.arch"
    path.write_text(textwrap.dedent(CELL))
    dot = subprocess.run([sys.executable, "-m", "archc", "dot", str(path)], capture_output=True,
                         text=True, check=True, timeout=120).stdout
    edges = [line for line in dot.splitlines()
             if '-> "cell/concat"' in line and 'invis' not in line]
    assert len(edges) == 3
    assert sum('style="dashed"' in e for e in edges) == 2
    assert any('label="b3=true"' in e for e in edges)

"""`archc.draw`: template graphs drawn as Graphviz DOT, and DOT rendered by the `dot` program.

Graphviz is needed to check that `dot` accepts the text: without it these checks skip on a
workstation but fail under CI (`.ci/run` installs graphviz, so a missing `dot` there is a bug).
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

import archc
from archc import draw as dot
from archc.diagnostics import ArchError, ArchErrors, SourcePos
from archc.draw import common, graphviz
from archc.graph import TemplateGraph as Template
from archc.graph import build_graph, templates_dir
from archc.hyper import HpSpec, clause
from archc.space import sample
from archc.text import shape as shape_text

FIRE = """
block fire(s, e) {
  sq = conv2d(s, 1, activation=relu) as squeeze
  concat(sq -> conv2d(e, 1, activation=relu) as expand1x1,
         sq -> conv2d(e, 3, padding=same, activation=relu) as expand3x3)
}
block se(ratio = choice(8, 16, 32)) {
  multiply(in, in -> global_avg_pool2d -> dense(in.channels // ratio, activation=relu)
               -> dense(in.channels, activation=sigmoid) -> reshape((1, 1, in.channels)))
}
"""

SQUEEZE = """
template sq
import "fire.arch"
param classes = 10
input image [32, 32, 3]
block fire_se(s, e) {
  fire(s, e) -> optional use_se { residual? se_skip { se() } }
}
graph {
  image -> conv2d(96, 3, strides=2, activation=relu) as conv1 -> max_pool2d(3, strides=2)
  -> repeat group1: i in 1..2 default 2 {
       fire_se(16 * (i + 1), 64 * (i + 1)) as first
       -> residual? bypass { fire_se(16 * (i + 1), 64 * (i + 1)) as second }
     }
  -> choice pool1 { max_pool2d(3, strides=2) | avg_pool2d(3, strides=2) }
  -> dropout(choice(0.0, 0.5, 0.8))
  -> conv2d(classes, 1) -> global_avg_pool2d -> softmax
}
train { optimizer = choice(sgd(momentum=0.9), rmsprop); learning_rate = choice(1e-3, 1e-4) }
"""

MERGE = """
template sem
import "fire.arch"
input image [32, 32, 3]
input depth [32, 32, 1]
graph {
  merge merge_point (image, depth) by add {
    conv2d(96, 3, strides=2) as conv1
    -> repeat group1: 1..2 { fire(16, 64) }
    -> max_pool2d(2) as pool
    -> repeat group2: 0..2 { fire(32, 128) }
  }
  -> conv2d(10, 1) -> global_avg_pool2d -> softmax
}
"""

UNET = """
template unet_auto
input image [64, 64, 3]
hp levels = int(2, 4, default=3)
hp start = choice(8, 16, 32, default=16)
block conv_block(filters, n) {
  repeat i in n { conv2d(filters, 3, padding=same, activation=relu) }
}
block level(filters, depth) {
  if depth == 0 { conv_block(filters, 2) as bottom }
  else {
    skip = conv_block(filters, 2) as down
    concat(skip -> max_pool2d(2) -> level(filters * 2, depth - 1)
                -> conv2d_transpose(filters, 2, strides=2, padding=same), skip)
    -> conv_block(filters, 2) as up
  }
}
graph {
  image -> level(start, levels) -> conv2d(1, 1, activation=sigmoid)
}
"""

SHAPES = """
template shapes
input image [32, 32, 3]
hp width = choice(16, 32)
graph {
  image -> conv2d(width, 3, padding=same, activation=relu) as stem
  -> choice attention { se: multiply(in, in -> global_avg_pool2d
                                         -> dense(in.channels, activation=sigmoid)
                                         -> reshape((1, 1, in.channels)))
                      | none }
  -> repeat blocks: 0..4 step 2 { residual { conv2d(width, 3, padding=same) -> batch_norm() } }
  -> if in.channels == 32 { conv2d(64, 1) } else { max_pool2d(2) }
  -> global_avg_pool2d -> dense(10, activation=softmax)
}
"""

FOLDED = """
template folded
input image [8, 8, 4]
graph {
  x = image -> residual? r { conv2d(4, 3, padding=same) }
  x -> conv2d(x.channels * 2, 1) -> dense(x.channels)
}
"""

TEMPLATES = {"sq": SQUEEZE, "sem": MERGE, "unet_auto": UNET, "shapes": SHAPES, "folded": FOLDED}


# ---------------------------------------------------------------- helpers


def dot_program() -> str:
    """The `dot` executable: skip without it, except under CI, where it must be there."""
    exe = shutil.which("dot")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz 'dot' is missing under CI: .ci/run should install graphviz")
        pytest.skip("Graphviz 'dot' is not installed")
    return exe


def assert_dot_accepts(text: str, what: str = "the DOT text") -> None:
    proc = subprocess.run([dot_program(), "-Tsvg"], input=text.encode(), capture_output=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, f"dot rejected {what}: {proc.stderr.decode()}"
    assert b"<svg" in proc.stdout


def write_template(tmp_path: Path, source: str, name: str = "t.arch") -> Path:
    (tmp_path / "fire.arch").write_text(FIRE)
    path = tmp_path / name
    path.write_text(source)
    return path


def build(tmp_path: Path, name: str) -> Template:
    return build_graph(write_template(tmp_path, TEMPLATES[name]))


def clusters_of(text: str) -> dict[str, dict[str, str]]:
    """Each cluster's attributes, from the `key="value";` lines that open its subgraph."""
    found: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        opening = re.match(r'\s*subgraph "(.*)" \{$', line)
        setting = re.match(r'\s*(\w+)="((?:[^"\\]|\\.)*)";$', line)
        if opening:
            current = found.setdefault(opening.group(1), {})
        elif setting and current is not None:
            current[setting.group(1)] = setting.group(2)
        else:
            current = None
    return found


def edge_line(text: str, u: str, v: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip().startswith(f"{dot.quote(u)} -> "
                                                                       f"{dot.quote(v)}")]
    assert lines, f"no edge {u} -> {v}"
    return lines[0]


def labels_with(text: str, words: str) -> list[dict[str, str]]:
    return [c for c in clusters_of(text).values() if words in c.get("label", "")]


# ---------------------------------------------------------------- every drawing


def snapshot(template: Template) -> tuple:
    g = template.graph
    return (copy.deepcopy(dict(g.graph)), [(n, dict(d)) for n, d in g.nodes(data=True)],
            [(u, v, k, dict(d)) for u, v, k, d in g.edges(keys=True, data=True)])


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_to_dot_is_deterministic_and_leaves_the_template_alone(tmp_path, name):
    template = build(tmp_path, name)
    before = snapshot(template)
    assert dot.to_dot(template) == dot.to_dot(template)
    assert dot.to_dot(build(tmp_path, name)) == dot.to_dot(template)
    assert snapshot(template) == before


def test_to_dot_does_not_depend_on_hash_seeds(tmp_path):
    path = write_template(tmp_path, SQUEEZE)
    code = ("import sys; from archc.graph import build_graph; from archc.draw import to_dot; "
            "sys.stdout.write(to_dot(build_graph(sys.argv[1])))")
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, env=env, check=True, cwd=tmp_path)
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_dot_accepts_the_drawing(tmp_path, name):
    assert_dot_accepts(dot.to_dot(build(tmp_path, name)), name)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_node_is_drawn_once_with_a_tooltip_naming_it(tmp_path, name):
    template = build(tmp_path, name)
    text = dot.to_dot(template)
    for node, data in template.graph.nodes(data=True):
        statements = [ln for ln in text.splitlines()
                      if ln.strip().startswith(dot.quote(node) + " [")]
        if data["kind"] == "select" and not statements:
            continue  # folded away
        assert len(statements) == 1, node
        assert "tooltip=" + dot.quote(node)[:-1] in statements[0]


def test_no_python_object_ids_in_the_text(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    assert "object at 0x" not in text
    assert not re.search(r"0x[0-9a-f]{6,}", text)


# ---------------------------------------------------------------- what the paper draws


def test_optional_and_repeat_clusters_are_dashed_with_their_hp(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    repeat = labels_with(text, "repeat group1 ∈ 1..2")
    optional = labels_with(text, "optional use_se")
    residual = labels_with(text, "residual? bypass")
    choice = labels_with(text, "choice pool1: max_pool2d | avg_pool2d")
    assert len(repeat) == 1 and len(optional) == 4 and len(residual) == 2 and len(choice) == 1
    for cluster in repeat + optional + residual + choice:
        assert "dashed" in cluster["style"]


def test_repetitions_say_when_they_exist(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    assert labels_with(text, "rep1 (if group1 ≥ 2)")[0]["style"].startswith("dashed")
    assert labels_with(text, "rep0")[0]["style"].startswith("dotted")  # always there


def test_blocks_are_solid_boxes_named_after_the_block(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    first = labels_with(text, "first: fire_se")
    se = labels_with(text, "se\\lratio ∈ {8, 16, 32}")
    assert first and se
    for cluster in first + se:
        assert "dashed" not in cluster["style"] and "filled" in cluster["style"]


def test_skip_connections_are_dashed_edges(tmp_path):
    template = build(tmp_path, "sq")
    text = dot.to_dot(template)
    skips = [(u, v) for u, v, d in template.graph.edges(data=True) if d.get("style") == "skip"]
    assert len(skips) == 6
    for u, v in skips:
        line = edge_line(text, u, v)
        assert 'style="dashed"' in line and common.SKIP_COLOUR in line


def test_an_optional_residual_labels_its_skip_and_dashes_its_add(tmp_path):
    template = build(tmp_path, "sq")
    text = dot.to_dot(template)
    line = edge_line(text, "group1/rep0/first/optional", "group1/rep0/add")
    assert 'label="bypass?"' in line
    add = next(ln for ln in text.splitlines() if ln.strip().startswith('"group1/rep0/add" ['))
    assert "dashed" in add


def test_conditional_edges_carry_their_branch(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    for label in ("use_se=true", "use_se=false", "group1=1", "group1=2",
                  "pool1=max_pool2d", "pool1=avg_pool2d"):
        assert f'label="{label}"' in text, label
    shortcut = edge_line(text, "group1/rep0/add", "repeat")
    assert 'style="dashed"' in shortcut  # it jumps over the second repetition


def test_ops_are_labelled_with_their_key_arguments(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    assert 'label="conv1\\nconv2d 96, 3×3/2, relu"' in text
    assert 'label="squeeze\\nconv2d 16, 1×1, relu"' in text
    assert 'label="max_pool2d 3×3/2"' in text
    assert "rate ∈ {0.0, 0.5, 0.8}" in text
    assert "dense in.channels // ratio" in text


def test_inputs_outputs_and_selects_have_their_own_shapes(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    assert re.search(r'^\s*"image" \[label="image\\n32×32×3", shape="invhouse"', text, re.M)
    assert re.search(r'^\s*"output" \[label="output", shape="house"', text, re.M)
    assert re.search(r'^\s*"choice" \[shape="point"', text, re.M)


def test_merge_point_and_its_input_paths(tmp_path):
    text = dot.to_dot(build(tmp_path, "sem"))
    merge = labels_with(text, "merge merge_point ∈ {conv1, group1, pool, group2}")
    assert len(merge) == 1 and "dashed" in merge[0]["style"]
    assert labels_with(text, "image path") and labels_with(text, "depth path")
    assert 'label="merge\\nby add"' in text
    assert labels_with(text, "(if merge_point=group2)")


def test_if_on_a_hyperparameter_and_fixed_repeats(tmp_path):
    text = dot.to_dot(build(tmp_path, "unet_auto"))
    assert labels_with(text, "if levels=2") and labels_with(text, "else (levels ∈ {3, 4})")
    fixed = labels_with(text, "repeat ×2")
    assert fixed and all("dotted" in c["style"] for c in fixed)
    assert not labels_with(text, "rep0")  # a constant repeat shows no repetitions
    assert "conv2d start * 4, 3×3" in text  # (start * 2) * 2, folded
    assert "levels ∈ 2..4" in text and "start ∈ {8, 16, 32}" in text  # the title


def test_if_on_shapes_choice_with_none_and_stepped_repeat(tmp_path):
    text = dot.to_dot(build(tmp_path, "shapes"))
    assert labels_with(text, "if in.channels == 32")
    assert labels_with(text, "else")
    assert labels_with(text, "repeat blocks ∈ {0, 2, 4}")
    assert labels_with(text, "choice attention: se | none")
    assert 'label="then"' in text and 'label="else"' in text


def test_a_shape_of_a_folded_select_still_reads(tmp_path):
    text = dot.to_dot(build(tmp_path, "folded"))
    assert "conv2d in.channels * 2" in text
    assert 'label="r?"' in text


def test_a_block_library_has_an_empty_drawing(tmp_path):
    (tmp_path / "lib.arch").write_text(FIRE)
    text = dot.to_dot(build_graph(tmp_path / "lib.arch"))
    assert "a block library, no graph" in text
    assert_dot_accepts(text, "a block library")


# ---------------------------------------------------------------- quoting


@pytest.mark.parametrize(("raw", "quoted"), [
    ("plain", '"plain"'),
    ("a/b/c", '"a/b/c"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ('\\"', '"\\\\\\""'),
    ("two\nlines", '"two\\nlines"'),
    ("x'", "\"x'\""),
])
def test_quote_escapes(raw, quoted):
    assert dot.quote(raw) == quoted


@pytest.mark.parametrize("module", ["dot", "common"])
def test_doctests(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(f"archc.draw.{module}")).failed == 0


def odd_template() -> Template:
    """A hand-made graph whose names hold quotes, backslashes, slashes and newlines."""
    pos = SourcePos("odd.arch", 1, 1)
    g = nx.MultiDiGraph(clusters={
        'cluster_"0"': dict(kind="optional", label='use "se"', parent=None, hp='a"/use_se',
                            condition=()),
    }, name="odd")
    g.add_node('in"put', kind="input", op="input", label='in"put', shape=(8, 8, 3),
               condition=(), cluster=None, pos=pos, args={})
    g.add_node('a"/b\\c/conv', kind="op", op="conv2d", label='c"onv\nx',
               args={"filters": 4, "kernel_size": 3, "activation": 'r"elu'},
               condition=(clause('a"/use_se', (True,)),), cluster='cluster_"0"', pos=pos)
    g.add_node("sel", kind="select", op="select", label="sel", condition=(), cluster=None,
               pos=pos, args={}, hp='a"/use_se')
    g.add_node("out\\", kind="output", op="output", label="out\\", condition=(), cluster=None,
               pos=pos, args={})
    g.add_edge('in"put', 'a"/b\\c/conv', slot=0, condition=())
    g.add_edge('a"/b\\c/conv', "sel", slot=0, condition=(clause('a"/use_se', (True,)),),
               branch='a"/use_se=true')
    g.add_edge('in"put', "sel", slot=1, condition=(clause('a"/use_se', (False,)),),
               branch='a"/use_se=false')
    g.add_edge("sel", "out\\", slot=0, condition=())
    hps = [HpSpec('a"/use_se', "bool", False, pos)]
    return Template('o"dd', "odd.arch", g, hps, {'in"put': (8, 8, 3)}, {"out": "out\\"}, {},
                    {}, {})


def test_names_with_quotes_and_slashes_are_escaped():
    text = dot.to_dot(odd_template())
    assert 'digraph "o\\"dd" {' in text
    assert '"in\\"put" -> "a\\"/b\\\\c/conv"' in text
    assert 'subgraph "cluster_\\"0\\"" {' in text
    assert "c\\\"onv\\nx" in text and 'r\\"elu' in text
    assert_dot_accepts(text, "names with quotes")


# ---------------------------------------------------------------- rendering


def test_render_format_svg_and_png(tmp_path):
    dot_program()
    text = dot.to_dot(build(tmp_path, "sem"))
    assert b"<svg" in dot.render_format(text, "svg")
    assert dot.render_format(text, "png").startswith(b"\x89PNG")


def test_render_format_without_dot_on_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(dot.ToolMissing) as caught:
        dot.render_format("digraph { a }", "svg")
    assert isinstance(caught.value, ArchError)
    assert caught.value.message == "Graphviz 'dot' is not installed"
    assert "apt-get install graphviz" in caught.value.hint
    assert "--format dot" in caught.value.hint


def test_render_format_when_which_finds_nothing(monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    with pytest.raises(dot.ToolMissing, match="Graphviz 'dot' is not installed"):
        dot.render_format("digraph { a }", "png")


def test_a_failing_dot_is_reported_with_its_message():
    dot_program()
    with pytest.raises(dot.ToolFailed) as caught:
        dot.render_format("digraph { a -> }", "svg")
    assert "Graphviz 'dot' failed" in caught.value.message
    assert "syntax error" in caught.value.message


def test_a_dot_that_cannot_run_is_reported(monkeypatch, tmp_path):
    fake = tmp_path / "dot"
    fake.write_text("not a program")
    fake.chmod(0o644)
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: str(fake))
    with pytest.raises(dot.ToolFailed, match="cannot run Graphviz 'dot'"):
        dot.render_format("digraph { a }", "svg")


def test_an_unknown_format_is_refused():
    with pytest.raises(ArchError, match="expected a format of svg, png, pdf, found 'gif'"):
        dot.render_format("digraph { a }", "gif")


# ---------------------------------------------------------------- bundled templates


def bundled() -> list[Path]:
    root = templates_dir()
    return sorted(root.glob("*.arch")) + sorted(root.glob("blocks/*.arch"))


def test_every_bundled_template_is_drawn():
    """Whatever templates ship (none is fine), dot accepts each drawing."""
    files = bundled()
    if files:
        dot_program()
    failures = []
    for path in files:
        try:
            template = build_graph(path)
        except (ArchError, ArchErrors):
            continue  # a template that does not build is reported by the template tests
        text = dot.to_dot(template)
        proc = subprocess.run([dot_program(), "-Tsvg"], input=text.encode(),
                              capture_output=True, timeout=300, check=False)
        if proc.returncode != 0 or dot.to_dot(template) != text:
            failures.append(f"{path.name}: {proc.stderr.decode().strip() or 'not deterministic'}")
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- one architecture


ROOT = Path(__file__).resolve().parent.parent
ARCH_TEMPLATES = ("squeezenet_se_auto", "squeezenet_sem_auto", "mobilenetv2_ssd_auto",
                  "unet_auto", "mlp_auto")


@functools.cache
def bundled_template(name: str) -> Template:
    return archc.load(name)


def sampled(template: Template, seed: int):
    """The architecture of the first of seeds seed, seed + 1, ... whose sample resolves."""
    for k in range(20):
        try:
            return template.resolve(sample(template, seed * 100 + k))
        except ArchError:
            continue
    raise AssertionError(f"no sample of {template.name} resolves")


def node_line(text: str, node: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip().startswith(dot.quote(node) + " [")]
    assert len(lines) == 1, f"{node} drawn {len(lines)} times"
    return lines[0]


def label_of(line: str) -> str:
    found = re.search(r'label="((?:[^"\\]|\\.)*)"', line)
    assert found, line
    return found.group(1)


@pytest.mark.parametrize("name", ARCH_TEMPLATES)
@pytest.mark.parametrize("seed", [None, 0, 1])
def test_architecture_drawing_is_deterministic_and_accepted(name, seed):
    template = bundled_template(name)
    arch = template.resolve() if seed is None else sampled(template, seed)
    before = snapshot(template)
    text = dot.architecture_to_dot(arch)
    assert text == dot.architecture_to_dot(arch)
    again = template.resolve() if seed is None else sampled(template, seed)
    assert dot.architecture_to_dot(again) == text
    assert snapshot(template) == before
    assert "object at 0x" not in text
    for node, data in arch.graph.nodes(data=True):
        line = node_line(text, node)
        if data["op"] != "input" and "⊕" not in line:
            assert shape_text(data["shape"]) in label_of(line), node
    assert_dot_accepts(text, f"{name} at seed {seed}")


def test_architecture_drawing_does_not_depend_on_hash_seeds():
    code = ("import sys, archc; from archc.draw import architecture_to_dot; "
            "from archc.space import sample; t = archc.load('squeezenet_sem_auto'); "
            "sys.stdout.write(architecture_to_dot(t.resolve(sample(t, 1))))")
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=env, check=True, cwd=ROOT)
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]


def test_layers_show_op_key_arguments_shape_and_params():
    arch = bundled_template("squeezenet_se_auto").resolve(
        {"group1": 2, "group1/rep0/first/use_se": True})
    text = dot.architecture_to_dot(arch)
    assert label_of(node_line(text, "conv1")) == \
        "conv1\\nconv2d 96, 3×3/2, relu\\n(15, 15, 96)\\n2,688 params"
    assert label_of(node_line(text, "max_pool2d")) == "max_pool2d 3×3/2\\n(7, 7, 96)"
    assert label_of(node_line(text, "global_avg_pool2d")) == "global_avg_pool2d\\n(10,)"
    assert "dense 8, relu\\n(1, 1, 8)\\n1,032 params" in text  # 128 // ratio 16
    assert re.search(r'^\s*"image" \[label="image\\n\(32, 32, 3\)", shape="invhouse"', text,
                     re.M)
    assert re.search(r'^\s*"output" \[label="output\\n\(10,\)", shape="house"', text, re.M)
    assert '"softmax" -> "output";' in text
    for u, v in arch.graph.edges:
        edge_line(text, u, v)


def test_the_title_names_the_template_the_changed_choices_and_the_totals():
    template = bundled_template("squeezenet_se_auto")
    arch = template.resolve({"group1": 2, "group1/rep0/first/use_se": True})
    title = re.search(r'^  label="(.*)";$', dot.architecture_to_dot(arch), re.M).group(1)
    lines = title.split("\\l")
    assert lines[0] == "squeezenet_se_auto: one architecture"
    assert lines[1] == "choices: group1=2, group1/rep0/first/use_se=true"
    assert lines[2].startswith(f"{arch.params:,} parameters, {arch.flops:,} multiply-adds")
    defaults = dot.architecture_to_dot(template.resolve())
    assert "choices: the defaults" in defaults


def test_residual_adds_are_circles_with_a_dashed_skip():
    arch = bundled_template("squeezenet_se_auto").resolve(
        {"group1/rep0/bypass": True, "group1/rep0/first/use_se": True,
         "group1/rep0/first/se_skip": True})
    text = dot.architecture_to_dot(arch)
    for add, skip, body in [("group1/rep0/add", "group1/rep0/first/add",
                             "group1/rep0/second/fire/concat"),
                            ("group1/rep0/first/add", "group1/rep0/first/fire/concat",
                             "group1/rep0/first/se/multiply")]:
        assert 'label="⊕", shape="circle"' in node_line(text, add)
        assert 'style="dashed"' in edge_line(text, skip, add)
        assert common.SKIP_COLOUR in edge_line(text, skip, add)
        assert "style" not in edge_line(text, body, add)


def test_clusters_follow_the_blocks_and_repetitions():
    arch = bundled_template("squeezenet_se_auto").resolve(
        {"group1": 2, "group1/rep0/first/use_se": True})
    text = dot.architecture_to_dot(arch)
    assert labels_with(text, "group1 ×2") and labels_with(text, "group2 ×1")
    assert len(labels_with(text, "rep0")) == 1 and labels_with(text, "rep1")  # group1's
    assert labels_with(text, "first: fire_se\\l")  # holds fire and se: drawn apart
    assert len(labels_with(text, "first: fire_se › fire")) == 2  # group1/rep1, group2/rep0
    assert labels_with(text, "se\\lratio=16")
    for words in ("optional", "residual", "choice", "pool1"):
        assert not labels_with(text, words), words


def test_merge_paths_are_clusters():
    arch = bundled_template("squeezenet_sem_auto").resolve({"merge_after": "group1"})
    text = dot.architecture_to_dot(arch)
    assert labels_with(text, "merge of image, depth after group1")
    assert labels_with(text, "image path") and labels_with(text, "depth path")
    merge = node_line(text, "merge")
    assert label_of(merge).startswith("merge\\nadd\\n(") and 'shape="ellipse"' in merge


def test_shared_replicas_are_marked():
    template = bundled_template("mobilenetv2_ssd_auto")
    arch = template.resolve({"rep_B3_3": 3})
    assert arch.params == template.resolve().params  # tied: no new weights
    text = dot.architecture_to_dot(arch)
    tied = labels_with(text, "= rep0's layers (tied)")
    assert len(tied) == 2
    for cluster in tied:
        assert "dashed" in cluster["style"] and cluster["color"] == common.SHARED_COLOUR
    assert labels_with(text, "rep_B3_3 ×3\\lone set of weights")
    assert not labels_with(text, "rep_B4_3 ×1\\lone set of weights")
    for k in (1, 2):
        line = node_line(text, f"rep_B3_3/rep{k}/B3_3/bottleneck/conv2d")
        assert "dashed" in line and common.SHARED_COLOUR in line
        assert label_of(line).endswith("\\nweights of rep0")
        assert "reuses the layer of rep_B3_3/rep0/B3_3/bottleneck/conv2d" in line
    original = node_line(text, "rep_B3_3/rep0/B3_3/bottleneck/conv2d")
    assert "dashed" not in original and label_of(original).endswith("\\n6,144 params")
    assert re.search(r'^\s*"classes" \[label="classes\\n\(\d+, 11\)", shape="house"', text,
                     re.M)
    assert re.search(r'^\s*"boxes" \[label="boxes\\n\(\d+, 4\)", shape="house"', text, re.M)


# ---------------------------------------------------------------- archc dot --set / --sample


def archc_dot(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "archc", "dot", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def test_cli_draws_a_set_architecture():
    proc = archc_dot("mobilenetv2_ssd_auto", "--set", "rep_B3_3=3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('digraph "mobilenetv2_ssd_auto" {')
    assert "choices: rep_B3_3=3" in proc.stdout
    assert "= rep0's layers (tied)" in proc.stdout


def test_cli_draws_a_sampled_architecture():
    proc = archc_dot("squeezenet_sem_auto", "--sample", "3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('digraph "squeezenet_sem_auto" {')
    assert "squeezenet_sem_auto: one architecture" in proc.stdout
    assert proc.stdout == archc_dot("squeezenet_sem_auto", "--sample", "3").stdout


def test_cli_renders_a_set_architecture_to_svg(tmp_path):
    dot_program()
    out = tmp_path / "x.svg"
    proc = archc_dot("squeezenet_se_auto", "--set", "group1=2", "--set",
                     "group1/rep0/first/use_se=true", "--format", "svg", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert b"<svg" in out.read_bytes() and "ratio=16" in out.read_text()


def test_cli_refuses_an_unknown_hyperparameter():
    proc = archc_dot("squeezenet_se_auto", "--set", "grup1=2")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "no hyperparameter 'grup1' in template squeezenet_se_auto" in proc.stderr
    assert "did you mean 'group1'?" in proc.stderr


# ---------------------------------------------------------------- the chosen path


def node_lines(text: str) -> dict[str, str]:
    return {m.group(1): ln for ln in text.splitlines()
            if (m := re.match(r'\s*"((?:[^"\\]|\\.)*)" \[', ln))}


def test_highlight_greys_out_what_the_choices_leave_out():
    template = bundled_template("squeezenet_se_auto")
    arch = template.resolve({"group1": 1, "pool1": "avg"})
    text = dot.template_highlight_dot(template, arch.choices)
    assert text == dot.template_highlight_dot(template, arch.choices)
    lines = node_lines(text)
    for n in arch.graph:
        assert "not chosen" not in lines[n] and 'penwidth="2"' in lines[n], n
    for n in ("group1/rep1/first/fire/squeeze", "pool1/max_pool2d", "group1/rep0/add",
              "group1/rep0/first/se/dense"):
        assert common.GREY_LINE in lines[n] and "dotted" in lines[n] and "not chosen" in lines[n]
    grey = [c for c in clusters_of(text).values() if c.get("color") == common.GREY_LINE]
    assert any("rep1" in c["label"] for c in grey)
    assert all("dotted" in c["style"] for c in grey)
    assert common.GREY_LINE in edge_line(text, "group1/rep0/residual",  # a select: bypass?
                                      "group1/rep1/first/fire/squeeze")
    assert 'penwidth="1.8"' in edge_line(text, "group1/rep0/residual", "repeat")
    assert 'penwidth="1.8"' in edge_line(text, "conv1", "max_pool2d")
    assert "highlighted: pool1=avg" in text
    assert_dot_accepts(text, "a highlighted template")


def test_highlight_follows_shape_decided_branches():
    template = bundled_template("mobilenetv2_ssd_auto")
    text = dot.template_highlight_dot(template, template.resolve().choices)
    lines = node_lines(text)
    assert "not chosen" in lines["B1_1/residual"]  # 32 -> 16 channels: no residual
    assert "not chosen" not in lines["B2_2/residual"]
    assert "not chosen" in lines["rep_B3_3/rep1/B3_3/bottleneck/conv2d"]


def test_highlight_without_a_resolvable_choice_uses_the_conditions():
    template = bundled_template("squeezenet_se_auto")
    choices = {**template.resolve().choices, "group1/rep0/first/se/ratio": 999}
    text = dot.template_highlight_dot(template, choices)
    assert "not chosen" in node_lines(text)["pool1/avg_pool2d"]
    assert "not chosen" not in node_lines(text)["conv1"]


def test_plain_to_dot_is_not_highlighted(tmp_path):
    text = dot.to_dot(build(tmp_path, "sq"))
    assert "not chosen" not in text and common.GREY_LINE not in text


# ---------------------------------------------------------------- compact drawings


def drawn_graph(text: str) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(node_lines(text))
    for u, v in re.findall(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"', text, re.M):
        g.add_edge(u, v)
    return g


@pytest.mark.parametrize("name", sorted(p.stem for p in templates_dir().glob("*.arch")))
def test_compact_drawing_draws_each_repeat_once_and_is_accepted(name):
    template = bundled_template(name)
    compact, expanded = dot.to_dot(template, compact=True), dot.to_dot(template)
    nodes = set(node_lines(compact))
    assert nodes <= set(node_lines(expanded))                  # nothing invented
    assert not [n for n in nodes if re.search(r"/rep[1-9]\d*/", n)]
    assert nx.is_directed_acyclic_graph(drawn_graph(compact))
    repeats = [c for c in clusters_of(expanded).values() if c["label"].startswith("repeat")]
    assert len([c for c in clusters_of(compact).values() if "one repetition drawn" in
                c["label"]]) == len(repeats)
    assert_dot_accepts(compact, f"{name}, compact")


def test_compact_repeat_keeps_the_bypass_of_zero_repetitions():
    text = dot.to_dot(bundled_template("squeezenet_se_auto"), compact=True)
    assert "repeat group2 ∈ 0..2" in text
    assert "group2=0" in edge_line(text, "choice", "repeat_1")  # pool1 -> no repetition
    assert "group1=2" not in text                # the count is the label's, not an edge's


def test_collapsed_blocks_are_one_node_each_joined_where_their_layers_were():
    template = bundled_template("squeezenet_se_auto")
    text = dot.to_dot(template, compact=True, collapse={"se"})
    lines = node_lines(text)
    se = [n for n in lines if n.endswith("/se")]
    assert se == ["group1/rep0/first/se", "group1/rep0/second/se", "group2/rep0/first/se",
                  "group2/rep0/second/se"]
    assert not [n for n in lines if "/se/" in n]
    assert "ratio ∈ {8, 16, 32}" in lines[se[0]] and "4 layers" in lines[se[0]]
    g = drawn_graph(text)
    assert all(g.in_degree(n) >= 1 and g.out_degree(n) >= 1 for n in se)
    everything = dot.to_dot(template, compact=True, collapse={"all"})
    assert not [c for c in clusters_of(everything).values() if c.get("fillcolor") == "#f7f9fb"]
    assert nx.is_directed_acyclic_graph(drawn_graph(everything))
    assert_dot_accepts(everything, "every block collapsed")


def test_cli_draws_compact_by_default_and_expands_on_request():
    template = bundled_template("squeezenet_auto")
    proc = archc_dot("squeezenet_auto")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == dot.to_dot(template, compact=True)
    assert archc_dot("squeezenet_auto", "--expand").stdout == dot.to_dot(template)
    collapsed = archc_dot("squeezenet_auto", "--collapse", "fire").stdout
    assert collapsed == dot.to_dot(template, compact=True, collapse={"fire"})

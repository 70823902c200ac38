"""A repeat's earlier outputs by its name (issue 10, item 4): `concat(feats)` inside the body
joins the repeat's input and every earlier repetition's output (dense connectivity),
`feats[k]` names one of them (skips across repetitions), and after a repeat of fixed count
the name holds them all."""

from __future__ import annotations

import pytest

import archc
from archc.diagnostics import ArchError, ArchErrors, render

DENSE = """
template dense
input image [8, 8, 4]
graph {
  image -> conv2d(8, 3, padding=same) as stem
  -> repeat feats: 3 { concat(feats) -> conv2d(4, 3, padding=same) }
  -> concat(feats)
  -> global_avg_pool2d -> dense(2, activation=softmax)
}
"""


def load(tmp_path, source: str):
    path = tmp_path / "t.arch"
    path.write_text(source)
    return archc.load(path)


def inputs_of(arch, node: str) -> list[str]:
    return [u for u, _, _ in sorted(arch.graph.in_edges(node, data=True),
                                    key=lambda e: e[2].get("slot", 0))]


def test_each_repetition_joins_the_repeat_input_and_every_earlier_output(tmp_path):
    arch = load(tmp_path, DENSE).resolve()
    convs = [f"feats/rep{k}/conv2d" for k in range(3)]
    assert "feats/rep0/concat" not in arch.graph          # a list of one tensor is that tensor
    assert inputs_of(arch, "feats/rep1/concat") == ["stem", convs[0]]
    assert inputs_of(arch, "feats/rep2/concat") == ["stem", convs[0], convs[1]]
    assert inputs_of(arch, "concat") == ["stem", *convs]   # after the repeat: each once
    assert arch.graph.nodes["concat"]["shape"] == (8, 8, 8 + 3 * 4)


def test_matches_the_same_network_written_in_keras(tmp_path):
    import keras
    from keras import layers

    x = inputs = keras.Input((8, 8, 4))
    feats = [layers.Conv2D(8, 3, padding="same")(x)]
    for _ in range(3):
        y = layers.Concatenate()(feats) if len(feats) > 1 else feats[0]
        feats.append(layers.Conv2D(4, 3, padding="same")(y))
    y = layers.GlobalAveragePooling2D()(layers.Concatenate()(feats))
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(y))
    template = load(tmp_path, DENSE)
    assert template.resolve().cost()["params"] == model.count_params()
    assert template.build().count_params() == model.count_params()


def test_an_index_names_one_output_for_a_skip_across_repetitions(tmp_path):
    source = DENSE.replace("{ concat(feats) -> conv2d(4, 3, padding=same) }",
                           "{ conv2d(8, 3, padding=same) -> add(feats[0]) }").replace(
        "-> concat(feats)\n", "")
    arch = load(tmp_path, source).resolve()
    for k in range(3):
        assert "stem" in inputs_of(arch, f"feats/rep{k}/add")  # every repetition adds the input


def test_a_repeat_with_a_hyperparameter_count_names_its_outputs_in_its_body(tmp_path):
    source = DENSE.replace("repeat feats: 3", "repeat feats: 1..3").replace(
        "-> concat(feats)\n", "")
    template = load(tmp_path, source)
    assert template.resolve({"feats": 3}).graph.nodes["feats/rep2/concat"]["shape"] == (8, 8, 16)
    with pytest.raises((ArchError, ArchErrors), match="undefined name 'feats'") as caught:
        load(tmp_path, DENSE.replace("repeat feats: 3", "repeat feats: 1..3"))
    errors = caught.value.errors if isinstance(caught.value, ArchErrors) else [caught.value]
    assert "only inside its body, since its count is a hyperparameter" in errors[0].hint


@pytest.mark.parametrize("body, message", [
    ("{ add(feats[5]) }", "index 5 is out of range for 1 items"),
    ("shared { concat(feats) -> conv2d(8, 3, padding=same) }",
     "a shared repeat's body may not use its earlier outputs 'feats'"),
])
def test_faults_are_located(tmp_path, body, message):
    source = DENSE.replace("{ concat(feats) -> conv2d(4, 3, padding=same) }", body).replace(
        "-> concat(feats)\n", "")
    with pytest.raises((ArchError, ArchErrors)) as caught:
        load(tmp_path, source)
    errors = caught.value.errors if isinstance(caught.value, ArchErrors) else [caught.value]
    text = "\n".join(render(e) for e in errors)
    assert message in text and ":6:" in text, text

"""The pipeline (compiler/pipeline.py): one chain of the stages for every caller, a template
parsed once however often it is expanded again."""

from __future__ import annotations

from pathlib import Path

import pytest

import archc
from archc import imports, pipeline
from archc.cli import main
from archc.diagnostics import ArchError
from archc.graph import TemplateGraph

TINY = """
template tiny
param classes = 10
param width = 2 * classes
input image [8, 8, 1]
graph {
  image -> flatten -> dense(width, activation=relu) -> dropout(choice(0.0, 0.5))
  -> dense(classes, activation=softmax)
}
train { optimizer = adam; learning_rate = 1e-3; batch_size = 64;
        loss = categorical_crossentropy; metrics = [accuracy] }
"""


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.arch"
    path.write_text(TINY, encoding="utf-8")
    return path


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every file `imports` parses, in order."""
    seen: list[str] = []
    real = imports.parse_file

    def counting(path):
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(imports, "parse_file", counting)
    return seen


def test_the_package_front_door_is_the_pipeline():
    assert archc.load is pipeline.load
    assert archc.Template is pipeline.Template
    assert isinstance(archc.load("squeezenet_auto"), TemplateGraph)


def test_find_takes_paths_and_bundled_names(tiny):
    assert pipeline.find(tiny) == tiny
    assert pipeline.find("fire").name == "fire.arch"
    assert pipeline.find("squeezenet_se_auto").parent.name == "templates"
    assert pipeline.find("no_such_template") == Path("no_such_template")


def test_reconfigure_expands_again_without_parsing(tiny, parses):
    template = pipeline.load(tiny, params={"classes": 3})
    assert parses == [str(tiny)]
    wider = template.reconfigure(inputs={"image": (16, 16, 1)})
    other = wider.reconfigure(params={"classes": 5})
    assert parses == [str(tiny)]
    assert (wider.params, wider.inputs["image"]) == ({"classes": 3, "width": 6}, (16, 16, 1))
    assert (other.params, other.inputs["image"]) == ({"classes": 5, "width": 10}, (16, 16, 1))


def test_settings_are_split_into_params_and_hyperparameters_with_one_parse(tiny, parses):
    template, hp_values = pipeline.load_with_settings(
        tiny, {"classes": 4, "dropout/rate": 0.5})
    assert parses == [str(tiny)]
    assert template.params["classes"] == 4 and hp_values == {"dropout/rate": 0.5}


def test_compile_with_set_parses_the_template_once(tiny, parses, capsys):
    assert main(["compile", str(tiny), "--set", "classes=4", "--set", "dropout/rate=0.5"]) == 0
    assert parses == [str(tiny)]
    assert "dense" in capsys.readouterr().out


def test_choose_takes_values_or_samples_reproducibly(tiny):
    template = pipeline.load(tiny)
    assert pipeline.choose(template, {"dropout/rate": 0.5}).choices == {"dropout/rate": 0.5}
    first, again = (pipeline.choose(template, {}, seed=3) for _ in range(2))
    assert first.choices == again.choices


def test_check_defaults_names_the_defaults(tmp_path):
    path = tmp_path / "bad.arch"
    path.write_text(TINY.replace("dense(width, activation=relu)",
                                 "residual { dense(width, activation=relu) }"), encoding="utf-8")
    with pytest.raises(ArchError) as caught:
        pipeline.check_defaults(pipeline.load(path))
    assert caught.value.message.startswith("at the defaults, ")


def test_a_search_parses_its_template_once(tiny, parses, tmp_path):
    from archc.search import Settings, search

    search(str(tiny), "digits", tmp_path / "run", Settings(trials=1, epochs=1, keep=0),
           log=lambda line: None)
    assert parses == [str(tiny)]

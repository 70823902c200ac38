"""Golden tests for invalid templates: each tests/bad/NAME.arch -> `archc check` -> NAME.expected.

Every case must exit 1 with nothing on stdout, no Python traceback, and stderr equal to its
`.expected` file byte for byte. Regenerate the goldens after a deliberate message change with
`ARCHC_UPDATE_GOLDEN=1 pytest tests/test_bad.py`, then review the diff before committing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad"
UPDATE = os.environ.get("ARCHC_UPDATE_GOLDEN") == "1"

# Every case, with the class of fault it stands for. tests/bad/lib/ holds helper files
# that cases import; they are not cases themselves.
CASES = {
    # syntax
    "unclosed_brace": "syntax: unclosed brace",
    "stray_token": "syntax: stray token",
    "missing_arrow_target": "syntax: missing '->' target",
    "bad_number": "syntax: bad number",
    "unterminated_string": "syntax: unterminated string",
    "keyword_as_name": "syntax: reserved word used as a name",
    "keyword_as_param_name": "syntax: reserved word used as a name",
    "empty_file": "syntax: empty file",
    "only_comments": "syntax: only comments",
    # not text
    "nul_byte": "binary garbage",
    "invalid_utf8": "binary garbage",
    "binary_png": "binary garbage",
    # names and arguments
    "unknown_op": "unknown op",
    "unknown_block": "unknown block",
    "bidirectional_dense": "an op call as an argument that the op cannot wrap",
    "softmax_axis": "an axis the input lacks (Keras builds it, then fails)",
    "unknown_keyword": "unknown keyword argument",
    "too_many_positional": "too many positional arguments",
    "missing_required_arg": "missing required argument",
    "argument_twice": "argument given twice",
    "block_wrong_args": "block called with wrong arguments",
    "block_missing_arg": "block called with wrong arguments",
    "block_unknown_keyword": "block called with wrong arguments",
    "undefined_name": "undefined name",
    "unknown_function": "undefined name",
    "unknown_attribute": "undefined name",
    # duplicates
    "duplicate_block": "duplicate block",
    "block_named_like_op": "duplicate block",
    "duplicate_param": "duplicate param",
    "duplicate_input": "duplicate input",
    "duplicate_hp": "duplicate hp",
    "duplicate_assignment": "duplicate assignment",
    "duplicate_label": "duplicate label",
    "duplicate_output": "duplicate output",
    "duplicate_alternative": "duplicate choice alternative label",
    "duplicate_implicit_alternative": "duplicate choice alternative label",
    "duplicate_graph": "duplicate section",
    "duplicate_setting": "duplicate training setting",
    # hyperparameters, ranges and defaults
    "empty_choice": "empty choice",
    "reversed_repeat": "reversed or empty range",
    "empty_repeat": "reversed or empty range",
    "reversed_int": "reversed or empty range",
    "reversed_float": "reversed or empty range",
    "log_sampling_zero": "reversed or empty range",
    "default_outside_range": "default outside range",
    "repeat_default_outside": "default outside range",
    "fixed_count_default": "default outside range",
    "default_not_in_values": "default not among values",
    "choice_default_unknown": "default not among values",
    "hp_kind_mismatch": "wrong hyperparameter kind",
    # values
    "string_filters": "wrong value type",
    "rate_too_large": "wrong value type",
    "bad_padding": "wrong value type",
    "bad_activation": "wrong value type",
    "zero_kernel": "wrong value type",
    "string_arithmetic": "bad arithmetic",
    "division_by_zero": "bad arithmetic",
    "float_count": "float where an int is needed",
    "float_count_integral": "float where an int is needed",
    # structure
    "unbounded_recursion": "unbounded recursion",
    "import_cycle": "import cycle",
    "missing_import": "missing import file",
    "import_holds_graph": "imported file holds a graph",
    "in_at_top_level": "'in' at top level",
    "output_in_block": "'output' inside a block",
    "merge_mid_chain": "merge in the middle of a chain",
    "merge_one_input": "merge of one input",
    "merge_op_one_tensor": "merge of one input",
    "header_without_graph": "template header without a graph",
    "graph_without_inputs": "graph without inputs",
    "unused_input": "unused input",
    "unused_hp": "unused hp",
    "condition_two_hps": "condition on two hyperparameters",
    "condition_float_hp": "condition on a float hyperparameter",
    # constraints
    "constraint_unknown_cost": "unknown constraint cost",
    "constraint_lower_bound": "constraint that is not an upper bound",
    "constraint_over_budget": "defaults over a constraint",
    # training
    "unknown_setting": "unknown training setting",
    "unknown_optimizer": "unknown optimizer",
    "unknown_loss": "unknown loss",
    "unknown_metric": "unknown metric",
    "negative_batch_size": "bad training value",
    # shapes
    "zero_input_dim": "static shape",
    "negative_input_dim": "static shape",
    "string_input_dim": "static shape",
    "empty_input_shape": "static shape",
    "add_shape_mismatch": "static shape",
    # derived values
    "let_tensor": "derived value",
    "def_recursion": "derived value",
    "def_builtin_name": "derived value",
    "let_then_if": "syntax: a statement starting with 'if' after a let",
    # optional inputs of merge ops
    "merge_no_input": "merge op that can lose its inputs",
    "subtract_optional": "merge op that can lose its inputs",
    # messages that made a user guess (issue 10, item 9)
    "float_floordiv": "float where an int is needed",
    "label_as_value": "undefined name",
    "count_two_hps": "repeat count known only later",
    "chain_faults": "several faults in one chain",
    "shared_uses_index": "shared repeat reading its index",
}

REQUIRED_CLASSES = (
    "derived value", "syntax: a statement starting with 'if' after a let",
    "merge op that can lose its inputs", "repeat count known only later",
    "several faults in one chain", "shared repeat reading its index",
    "syntax: unclosed brace", "syntax: stray token", "syntax: missing '->' target",
    "syntax: bad number", "syntax: unterminated string", "syntax: reserved word used as a name",
    "syntax: empty file", "syntax: only comments", "binary garbage",
    "unknown op", "unknown block", "unknown keyword argument", "too many positional arguments",
    "missing required argument", "argument given twice", "block called with wrong arguments",
    "undefined name",
    "duplicate block", "duplicate param", "duplicate input", "duplicate hp",
    "duplicate assignment", "duplicate label", "duplicate output",
    "duplicate choice alternative label", "duplicate section", "duplicate training setting",
    "empty choice", "reversed or empty range", "default outside range",
    "default not among values", "wrong hyperparameter kind", "wrong value type",
    "bad arithmetic", "float where an int is needed",
    "unbounded recursion", "import cycle", "missing import file", "imported file holds a graph",
    "'in' at top level", "'output' inside a block", "merge in the middle of a chain",
    "merge of one input", "template header without a graph", "graph without inputs",
    "unused input", "unused hp",
    "condition on two hyperparameters", "condition on a float hyperparameter",
    "unknown constraint cost", "constraint that is not an upper bound",
    "defaults over a constraint",
    "unknown training setting", "unknown optimizer", "unknown loss", "unknown metric",
    "bad training value", "static shape",
    "an op call as an argument that the op cannot wrap",
    "an axis the input lacks (Keras builds it, then fails)",
)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def case_files() -> list[Path]:
    return sorted(BAD.glob("*.arch"))


def run_check(case: Path) -> subprocess.CompletedProcess:
    rel = case.relative_to(ROOT).as_posix()
    return subprocess.run([sys.executable, "-m", "archc", "check", rel], cwd=ROOT,
                          capture_output=True, timeout=60)


@pytest.mark.parametrize("case", case_files(), ids=lambda p: p.stem)
def test_bad_template(case: Path):
    result = run_check(case)
    golden = case.with_suffix(".expected")
    if UPDATE:
        golden.write_bytes(result.stderr)
    assert b"Traceback" not in result.stdout + result.stderr
    assert result.stdout == b""
    assert result.returncode == 1, result.stderr.decode(errors="replace")
    assert golden.exists(), f"no golden {golden.name}: run with ARCHC_UPDATE_GOLDEN=1"
    assert _text(result.stderr) == _text(golden.read_bytes())
    assert result.stderr == golden.read_bytes()


def test_every_case_is_classified():
    on_disk = {p.stem for p in case_files()}
    assert on_disk == set(CASES), "tests/bad and CASES disagree"
    assert len(CASES) >= 45


def test_every_class_has_a_case():
    assert set(REQUIRED_CLASSES) <= set(CASES.values())
    assert set(CASES.values()) <= set(REQUIRED_CLASSES), "a class missing from REQUIRED_CLASSES"


def test_every_case_has_a_golden_and_a_readme_line():
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    for name in CASES:
        assert (BAD / f"{name}.expected").exists(), name
        assert f"`{name}`" in readme, f"{name} is not described in tests/bad/README.md"

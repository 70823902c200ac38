"""Messages that made a user guess (issue 10, item 9) and are not `archc check` goldens
(those are tests/bad/): `--sample` on a mostly infeasible space says so, instead of showing
its last draw's shape error as if the space were broken."""

from __future__ import annotations

import subprocess
import sys
import textwrap

MOSTLY_INFEASIBLE = """\
template mostly_infeasible
input image [8, 8, 16]
graph {
  image -> residual { conv2d(int(16, 1000), 3, padding=same) } -> flatten -> dense(10)
}
"""


def test_sample_of_a_mostly_infeasible_space_says_so(tmp_path):
    path = tmp_path / "mostly_infeasible.arch"
    path.write_text(MOSTLY_INFEASIBLE)
    result = subprocess.run([sys.executable, "-m", "archc", "dot", str(path), "--sample", "3"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stdout == ""
    expected = textwrap.dedent(f"""\
        {path}:4:12: error: no feasible configuration in 100 random draws from seed 3; the last: add 'residual': element-wise merge of shapes that differ: (8, 8, 16) and (8, 8, 476)
              image -> residual {{ conv2d(int(16, 1000), 3, padding=same) }} -> flatten -> dense(10)
                       ^~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
        hint: most of this space cannot be built: narrow its ranges (archc space counts what can be built), or set some hyperparameters with --set
        """)  # noqa: E501
    assert result.stderr == expected

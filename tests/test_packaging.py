"""A plain (non-editable) install ships the grammar and the bundled templates, so templates
resolve by name and `import "blocks/..."` works from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_plain_install_finds_grammar_and_templates(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(ROOT)],
                   check=True, timeout=300, cwd=tmp_path)
    env = {**os.environ, "PYTHONPATH": str(target)}
    script = ("import archc, archc.graph as g; t = archc.load('squeezenet_se_auto'); "
              "print(archc.__file__); print(g.templates_dir()); print(t.name)")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    module, templates, name = done.stdout.split()
    assert module.startswith(str(target)) and templates.startswith(str(target))
    assert name == "squeezenet_se_auto"

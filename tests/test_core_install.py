"""The light core install (``pip install dataset-expander``: no TensorFlow, Keras or matplotlib): every
``expander`` command works, and every command that needs the train extra exits 2 saying what to install.

The commands run in subprocesses whose imports of the train extra's packages fail as they do where those are
not installed (a finder ahead of the others reports them missing), so the whole CLI is checked here, and CI
checks a real core venv too (.ci/run).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, SAMPLE, make_tree

BLOCKED = ("tensorflow", "keras", "matplotlib")
HINT = "pip install 'dataset-expander[train]'"


@pytest.fixture(scope="module")
def core(tmp_path_factory) -> Path:
    """A folder with a sitecustomize that makes the train extra's packages missing."""
    folder = tmp_path_factory.mktemp("core")
    (folder / "sitecustomize.py").write_text(
        textwrap.dedent(f'''
        import sys

        class _Missing:
            """The train extra is not installed: its packages cannot be found."""

            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, _Missing())
    ''')
    )
    return folder


def run(core: Path, program: str, *args: str) -> subprocess.CompletedProcess:
    code = f"import sys; from {program}.cli import main; sys.argv = [{program!r}, *sys.argv[1:]]; main()"
    env = {"PYTHONPATH": f"{core}:{REPO}", "PATH": "/usr/bin:/bin", "NO_ALBUMENTATIONS_UPDATE": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_blocker_blocks(core: Path) -> None:
    result = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True,
                            env={"PYTHONPATH": str(core)}, timeout=60)  # fmt: skip
    assert result.returncode == 1 and "No module named 'tensorflow'" in result.stderr


TRAIN_COMMANDS = [
    ("compare", str(SAMPLE), str(SAMPLE)),
    ("fit", str(SAMPLE)),
    ("evaluate", "model.keras", str(SAMPLE)),
    ("ablate", str(SAMPLE)),
    ("curve", str(SAMPLE)),
    ("search", str(SAMPLE)),
    ("augnet", str(SAMPLE)),
    ("paper", str(SAMPLE)),
    ("models",),
]


@pytest.mark.parametrize("command", TRAIN_COMMANDS, ids=[c[0] for c in TRAIN_COMMANDS])
def test_every_train_command_exits_2_with_the_install_hint(core: Path, tmp_path: Path, command: tuple) -> None:
    result = run(
        core, "train", *command, *(["--out", str(tmp_path / "o")] if command[0] not in ("models", "evaluate") else [])
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert HINT in result.stderr and "Traceback" not in result.stderr


def test_expand_with_a_generator_exits_2_with_the_install_hint(core: Path, tmp_path: Path) -> None:
    model = tmp_path / "g.keras"
    model.write_bytes(b"not read")
    result = run(core, "expander", "expand", str(SAMPLE), "-o", str(tmp_path / "o"), "--generator", str(model))
    assert result.returncode == 2 and HINT in result.stderr and "Traceback" not in result.stderr


def test_every_expander_command_works_without_the_train_extra(core: Path, tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"train/a": 3, "train/b": 2, "test/a": 1})
    out = tmp_path / "out"
    checks = [
        ("--version",),
        ("presets",),
        ("presets", "show", "light"),
        ("inspect", str(src), "-j", "1"),
        ("preview", str(src), "-n", "2", "--out", str(tmp_path / "sheet.png")),
        ("expand", str(src), "-o", str(out), "--per-image", "2", "-j", "2", "-q"),
        ("expand", str(src), "-o", str(tmp_path / "shards"), "--shards", "tfrecord", "-q"),
        ("verify", str(out), "--replay", "3"),
    ]
    for args in checks:
        result = run(core, "expander", *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr

"""The Python example in the README runs and prints what it says; every test the README cites exists."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1
    assert len(blocks[0].strip().splitlines()) <= 10
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(blocks[0], str(README), "exec"), {})
    assert output.getvalue().strip() == "torch.Size([3, 16]) torch.Size([3, 16])"


def test_every_test_the_readme_cites_exists():
    root = README.parent
    cited = set(re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?", README.read_text()))
    assert len(cited) > 30
    for path, name in sorted(cited):
        assert (root / path).is_file(), path
        if name:
            assert re.search(rf"^def {name}\(", (root / path).read_text(), re.M), f"{path}::{name}"

"""Nothing topodist reads can run code: its file formats load without pickle, checkpoints load as weights only,
and no module evaluates text from a config or data file (class paths go through LightningCLI's own resolution)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "topodist"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def _name(function: ast.expr) -> str:
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return f"{_name(function.value)}.{function.attr}"
    return ""


FORBIDDEN = {"eval", "exec", "pickle.load", "pickle.loads", "yaml.load", "yaml.unsafe_load", "os.system"}


def problems_in(source: str, where: str) -> list[str]:
    """Calls that could run code from what a file or config holds."""
    problems = []
    for call in _calls(ast.parse(source)):
        name = _name(call.func)
        keywords = {keyword.arg: keyword.value for keyword in call.keywords}
        if name in FORBIDDEN:
            problems.append(f"{where}:{call.lineno} calls {name}")
        if name.endswith(("np.load", "numpy.load")):
            allowed = keywords.get("allow_pickle")
            if not (isinstance(allowed, ast.Constant) and allowed.value is False):
                problems.append(f"{where}:{call.lineno} np.load without allow_pickle=False")
        if name == "torch.load":
            only = keywords.get("weights_only")
            if not (isinstance(only, ast.Constant) and only.value is True):
                problems.append(f"{where}:{call.lineno} torch.load without weights_only=True")
        shell = keywords.get("shell")
        if name.startswith("subprocess.") and isinstance(shell, ast.Constant) and shell.value:
            problems.append(f"{where}:{call.lineno} runs a shell")
    return problems


def test_no_module_unpickles_evaluates_or_shells_out():
    problems = [p for path in sorted(PACKAGE.rglob("*.py")) for p in problems_in(path.read_text(), path.name)]
    assert not problems, problems


def test_the_scan_flags_what_it_forbids():
    source = (
        "import numpy as np, torch, subprocess\nnp.load('x')\nnp.load('x', allow_pickle=False)\n"
        "torch.load('y', weights_only=False)\neval('1')\nsubprocess.run('ls', shell=True)\n"
    )
    assert [problem.split(" ", 1)[1] for problem in problems_in(source, "snippet")] == [
        "np.load without allow_pickle=False", "torch.load without weights_only=True", "calls eval", "runs a shell",
    ]

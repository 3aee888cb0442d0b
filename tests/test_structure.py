"""Import hygiene: light `import srop_onnx`, CLI-over-library layering, no CuPy in math."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "srop_onnx"


def test_import_loads_no_heavy_dependency():
    code = (
        "import sys, srop_onnx; import srop_onnx.cli; "
        "heavy = [m for m in ('onnxruntime', 'cupy', 'matplotlib', 'onnx', 'scipy', 'PIL', 'rich') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


#: IPython asks a result object for its HTML (``_repr_html_``) and the notebook layer answers: the
#: one call from the results up to the presentation layer, made at display time, by protocol
DISPLAY_HOOKS = ("_repr_html_",)


def _imports(path: Path, runtime_only: bool = False) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports too); with
    ``runtime_only``, not those under ``if TYPE_CHECKING:`` (annotations only) nor inside the
    display hooks (:data:`DISPLAY_HOOKS`)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    if runtime_only:
        for n in ast.walk(tree):
            hook = isinstance(n, ast.FunctionDef) and n.name in DISPLAY_HOOKS
            if hook or (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)):
                skip.update(id(x) for b in n.body for x in ast.walk(b))
    names = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            names.add(("." * node.level) + mod)
    return names


CLI = ("cli.py", "cli_common.py", "cli_files.py", "__main__.py")  # __main__: `python -m srop_onnx`


def test_library_never_imports_the_cli():
    for f in PKG.glob("*.py"):
        if f.name in CLI:
            continue
        assert not any(n.rsplit(".", 1)[-1].startswith("cli") for n in _imports(f)), f.name


def test_only_the_cuda_adapter_imports_cupy():
    for f in PKG.glob("*.py"):
        if f.name == "cuda.py":
            continue
        assert not any(n.split(".")[0] == "cupy" for n in _imports(f)), f.name


def test_modules_stay_small():
    for f in PKG.glob("*.py"):
        assert len(f.read_text().splitlines()) < 800, f.name


def test_every_public_name_resolves():
    import srop_onnx

    for name in srop_onnx.__all__:
        assert getattr(srop_onnx, name) is not None, name


#: the public keyword facades (the API users call with keywords); click commands are exempt too
FACADES = {("analysis.py", "analyze"), ("sweeps.py", "sweep")}


def _is_click_command(fn) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
               for d in fn.decorator_list)


def test_functions_stay_short_and_take_few_parameters():
    """Issue 16: no function longer than 60 lines or with more than 8 parameters, except the
    public keyword facades and click commands (``self``/``cls`` not counted)."""
    offenders = []
    for f in sorted(PKG.glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if (f.name, node.name) in FACADES or _is_click_command(node):
                continue
            a = node.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            params = len(names) - (names[:1] in (["self"], ["cls"])) + bool(a.vararg) + bool(a.kwarg)
            lines = node.end_lineno - node.lineno + 1
            if lines > 60 or params > 8:
                offenders.append(f"{f.name}:{node.lineno} {node.name} ({lines} lines, {params} parameters)")
    assert offenders == []


def test_public_functions_are_not_shadowed_by_submodules():
    """``srop_onnx.sweep`` must stay the function after ``import srop_onnx.sweeps`` (a submodule of
    the same name would replace the attribute when first imported)."""
    code = "import srop_onnx.sweeps, srop_onnx.settings, srop_onnx; print(callable(srop_onnx.sweep))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "True"


def _module_graph() -> dict[str, set[str]]:
    """``module -> package modules it imports`` (relative and absolute, at any depth)."""
    mods = {f.stem for f in PKG.glob("*.py")}
    graph = {}
    for f in PKG.glob("*.py"):
        deps = set()
        for name in _imports(f, runtime_only=True):
            if name.startswith(".") and name.strip("."):
                deps.add(name.strip(".").split(".")[0])
            elif name.startswith("srop_onnx."):
                deps.add(name.split(".")[1])
        graph[f.stem] = (deps & mods) - {f.stem}
    return graph


def test_no_import_cycles():
    """A lower layer never imports an upper one: the package's import graph (function-level imports
    included, annotation-only ones not) has no cycle. What two modules share lives below both."""
    graph = _module_graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_the_lowest_layers_import_nothing_of_the_package_above_them():
    graph = _module_graph()
    assert graph["errors"] == set() and graph["filetypes"] == set()
    assert graph["rings"] <= {"errors"} and graph["writes"] <= {"errors", "filetypes"}
    for low in ("spectral", "stats", "rings", "fused", "modelio", "writes", "inputspec", "preprocess", "samples"):
        assert not graph[low] & {"stages", "analysis", "sweeps", "cli", "report", "plot", "htmlreport", "notebook"}, low

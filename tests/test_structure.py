"""The architecture in folders: the layer table, one import direction, no cycles, small modules,
light `import srop_onnx`, CLI over the library, no CuPy in math.

The same layer table is in docs/development.md (a test below keeps the two equal)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "srop_onnx"


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


#: the layers, lowest first, and what each may import at runtime (besides itself). The base modules
#: (``errors``, ``_version``) serve everyone; the faces (the CLI, the pytest plugin, ``srop_onnx.plot``,
#: the package's ``__init__`` and ``__main__``) may import any layer and nothing imports them.
LAYERS = {
    "base": set(),
    "files": {"base"},
    "core": {"base"},
    "model": {"base", "files", "core"},
    "config": {"base", "files", "core", "model"},
    "inputs": {"base", "files", "core", "model", "config"},
    "results": {"base", "files", "core", "model", "config", "inputs"},
    "run": {"base", "files", "core", "model", "config", "inputs", "results"},
    "show": {"base", "files", "core", "model", "config", "inputs", "results"},
    "faces": {"base", "files", "core", "model", "config", "inputs", "results", "run", "show"},
}
BASE = {"srop_onnx.errors", "srop_onnx._version"}
FACE_MODULES = {"srop_onnx", "srop_onnx.__main__", "srop_onnx.plot", "srop_onnx.pytest_plugin"}


def _modname(f: Path) -> str:
    parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_modname(f): f for f in sorted(PKG.rglob("*.py"))}


def layer_of(module: str) -> str:
    if module in BASE:
        return "base"
    if module in FACE_MODULES or module.startswith(("srop_onnx.cli", "srop_onnx.integrations")):
        return "faces"
    return module.split(".")[1]


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _module_graph() -> dict[str, set[str]]:
    """``module -> package modules it imports at runtime`` (relative and absolute, at any depth;
    ``from . import x`` counts as importing the submodule ``x``)."""
    graph = {}
    for mod, f in MODULES.items():
        tree = ast.parse(f.read_text())
        skip = _skipped(tree)
        deps = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                target = _resolve(mod, f.name == "__init__.py", node.level, node.module) if node.level else (node.module or "")
                for a in node.names:
                    if f"{target}.{a.name}" in MODULES:
                        deps.add(f"{target}.{a.name}")
                    elif target in MODULES:
                        deps.add(target)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in MODULES)
        graph[mod] = deps - {mod}
    return graph


def _skipped(tree) -> set[int]:
    skip: set[int] = set()
    for n in ast.walk(tree):
        hook = isinstance(n, ast.FunctionDef) and n.name in DISPLAY_HOOKS
        if hook or (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)):
            skip.update(id(x) for b in n.body for x in ast.walk(b))
    return skip


def test_every_module_belongs_to_a_layer_of_the_table():
    assert {layer_of(m) for m in MODULES} == set(LAYERS)
    top = sorted(f.name for f in PKG.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "_version.py", "errors.py", "plot.py", "pytest_plugin.py"]


def test_each_layer_imports_only_the_layers_below_it():
    offenders = [f"{m} ({layer_of(m)}) imports {d} ({layer_of(d)})"
                 for m, deps in sorted(_module_graph().items()) for d in sorted(deps)
                 if layer_of(d) != layer_of(m) and layer_of(d) not in LAYERS[layer_of(m)]]
    assert offenders == []


def test_the_layer_table_has_no_cycle():
    order: list[str] = []
    remaining = dict(LAYERS)
    while remaining:
        ready = [k for k, v in remaining.items() if v <= set(order)]
        assert ready, f"the layer table has a cycle among {sorted(remaining)}"
        order.extend(sorted(ready))
        for k in ready:
            del remaining[k]


def test_every_subpackage_says_what_it_holds_and_what_it_may_import():
    for init in PKG.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert doc and "May import" in doc, init
        said = {w.strip(" .,()") for w in doc.split("May import:")[1].split()}
        layer = init.parent.name
        if layer not in ("cli", "integrations"):  # faces: they may import every layer
            assert LAYERS[layer] - {"base"} <= said, (layer, said)


def test_the_layer_table_is_the_one_in_the_development_docs():
    text = (REPO / "docs" / "development.md").read_text()
    rows = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`").rstrip("/") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in LAYERS:
            rows[cells[0]] = {w.strip("`, ") for w in cells[2].split(",") if w.strip("`, ") not in ("", "nothing")}
    assert rows == LAYERS


def test_library_never_imports_the_cli():
    for mod, deps in _module_graph().items():
        if layer_of(mod) != "faces":
            assert not any(d.startswith("srop_onnx.cli") for d in deps), mod
    for mod, f in MODULES.items():  # not even for annotations
        if layer_of(mod) != "faces":
            assert not any(".cli" in n or n.startswith("cli") for n in _imports(f)), mod


def test_only_the_cuda_adapter_imports_cupy():
    for mod, f in MODULES.items():
        if mod != "srop_onnx.core.cuda":
            assert not any(n.split(".")[0] == "cupy" for n in _imports(f)), mod


def test_every_module_compiles_without_a_warning():
    """An invalid escape in a docstring (``\\m`` of ``\\mathbf``) is a SyntaxWarning on Python 3.12 and
    will be an error; the math docstrings are raw strings."""
    import warnings

    for path in sorted(PKG.rglob("*.py")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_modules_stay_small():
    sizes = {mod: len(f.read_text().splitlines()) for mod, f in MODULES.items()}
    assert {m: n for m, n in sizes.items() if n > 600} == {}


def test_every_public_name_resolves():
    import srop_onnx

    for name in srop_onnx.__all__:
        assert getattr(srop_onnx, name) is not None, name


#: the public keyword facades (the API users call with keywords); click commands are exempt too
FACADES = {("run/analysis.py", "analyze"), ("run/sweeps.py", "sweep"), ("run/tracking.py", "track")}


def _is_click_command(fn) -> bool:
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
               for d in fn.decorator_list)


def test_functions_stay_short_and_take_few_parameters():
    """Issue 16: no function longer than 60 lines or with more than 8 parameters, except the
    public keyword facades and click commands (``self``/``cls`` not counted)."""
    offenders = []
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).as_posix()
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if (rel, node.name) in FACADES or _is_click_command(node):
                continue
            a = node.args
            names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
            params = len(names) - (names[:1] in (["self"], ["cls"])) + bool(a.vararg) + bool(a.kwarg)
            lines = node.end_lineno - node.lineno + 1
            if lines > 60 or params > 8:
                offenders.append(f"{rel}:{node.lineno} {node.name} ({lines} lines, {params} parameters)")
    assert offenders == []


def test_public_functions_are_not_shadowed_by_submodules():
    """``srop_onnx.sweep`` must stay the function after ``import srop_onnx.run.sweeps`` (a submodule of
    the same name would replace the attribute when first imported)."""
    code = ("import srop_onnx.run.sweeps, srop_onnx.config.settings, srop_onnx.cli, srop_onnx; "
            "print(callable(srop_onnx.sweep), callable(srop_onnx.cli.main))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "True True"


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_import_cycles_between_modules():
    """The package's import graph (function-level imports included, annotation-only ones not) has
    no cycle. What two modules share lives below both."""
    _assert_acyclic(_module_graph())


def test_no_import_cycles_between_subpackages():
    layers: dict[str, set[str]] = {}
    for m, deps in _module_graph().items():
        layers.setdefault(layer_of(m), set()).update(layer_of(d) for d in deps if layer_of(d) != layer_of(m))
    _assert_acyclic(layers)


def test_the_run_layer_reports_progress_through_hooks_never_a_display():
    for mod, f in MODULES.items():
        if layer_of(mod) == "run":
            assert not any("show" in n.split(".") or n.startswith("rich") for n in _imports(f)), mod

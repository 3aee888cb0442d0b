"""Issue 30: what a notebook user sees, from a real kernel (nbclient runs a notebook): a profile
as HTML, a figure as a PNG without ``%matplotlib inline``, a progress bar while it runs, and short
reprs."""

from __future__ import annotations

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    "import srop_onnx",
    f"p = srop_onnx.analyze({str(EXAMPLE)!r}, {str(EXAMPLE_IMAGES)!r})",
    "p",
    "srop_onnx.plot.depth([p])",
    f"twin = srop_onnx.analyze({str(EXAMPLE_RANDOM)!r}, {str(EXAMPLE_IMAGES)!r}, progress=lambda *a: None)",
    "srop_onnx.compare(p, twin)",
    "srop_onnx.check(p, p)",
    "import numpy as np",
    f"g = srop_onnx.analyze({str(EXAMPLE)!r}, (np.full((2, 3, 64, 64), i, np.float32) for i in range(3)))",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    return nb.cells


def _outputs(cell, kind: str) -> list:
    return [o for o in cell.outputs if o.get("output_type") == kind]


def test_a_profile_shows_as_an_html_table_with_its_figure(executed):
    data = _outputs(executed[2], "execute_result")[0]["data"]
    assert "text/html" in data and "<table>" in data["text/html"] and "data:image/png;base64," in data["text/html"]
    assert data["text/html"].count("<style>") == 1 and 'style="' not in data["text/html"].split("<img")[0]


def test_a_figure_shows_as_a_png_without_any_magic(executed):
    data = _outputs(executed[3], "execute_result")[0]["data"]
    assert "image/png" in data and len(data["image/png"]) > 1000
    assert "Figure size" not in data.get("text/plain", "") or "image/png" in data


def test_analyze_shows_a_progress_bar_in_a_notebook_and_none_when_told(executed):
    err = "".join(o.get("text", "") for o in _outputs(executed[1], "stream") if o.get("name") == "stderr")
    assert "analysing [" in err and "8/8 inputs" in err
    assert not [o for o in _outputs(executed[4], "stream") if "analysing" in o.get("text", "")]


def test_reading_a_data_loader_shows_as_a_bar_of_its_own_before_the_run(executed):
    """A loader (here a generator of batches) is read before the run starts: that shows too, ended
    with what was read, then the run's bar."""
    err = "".join(o.get("text", "") for o in _outputs(executed[8], "stream") if o.get("name") == "stderr")
    assert "reading [" in err and "] 6/6 inputs\n" in err and "analysing [" in err, err
    assert err.index("reading [") < err.index("analysing [")


def test_comparisons_and_checks_show_as_html(executed):
    for cell in executed[5:7]:
        data = _outputs(cell, "execute_result")[0]["data"]
        assert "text/html" in data and len(data["text/plain"]) < 300

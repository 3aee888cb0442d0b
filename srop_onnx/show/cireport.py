"""CI-facing renderings of a check: JUnit XML, GitHub Actions annotations and job summary.

Layer names and messages are data: control characters that XML 1.0 cannot carry are replaced,
workflow-command properties escape ``%``, CR, LF, ``:`` and ``,`` as GitHub documents, and the
JUnit ``classname`` is a stable name, not the model path (``drift.onnx`` would read as package
``drift``, class ``onnx``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..results.comparison import CheckResult
from .htmlreport import f
from .text import md_code

__all__ = ["CLASSNAME", "junit_xml", "junit_error", "github_annotations", "github_error", "step_summary",
           "xml_text", "in_github_actions"]

#: the JUnit classname of every srop-onnx test case
CLASSNAME = "srop-onnx"
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text) -> str:
    """``text`` with every character XML 1.0 cannot hold shown as ``\\xNN``."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _suite(name: str, tests: int, failures: int, errors: int, skipped: int = 0):
    root = ET.Element("testsuites", name=name, tests=str(tests), failures=str(failures), errors=str(errors))
    ts = ET.SubElement(root, "testsuite", name=name, tests=str(tests), failures=str(failures), errors=str(errors),
                       skipped=str(skipped))
    return root, ts


def _text(root) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def junit_xml(result: CheckResult, suite: str = "srop-onnx check") -> str:
    """One ``<testcase>`` per layer (and per missing/extra layer); failures carry the numbers."""
    failures = len(result.failures)
    root, ts = _suite(suite, len(result.layers), failures, 0)
    props = ET.SubElement(ts, "properties")
    for k, v in (("metric", result.metric), ("tol", f"{result.tol:g}"), ("units", result.units),
                 ("profile", result.names[0]), ("golden", result.names[1]),
                 ("model", result.comparison.a.model.get("path", "")),
                 ("golden_model", result.comparison.b.model.get("path", ""))):
        ET.SubElement(props, "property", name=k, value=xml_text(v))
    for lc in result.layers:
        tc = ET.SubElement(ts, "testcase", classname=CLASSNAME, name=xml_text(lc.name), time="0")
        if lc.tol is not None:  # each layer's own tolerance (--tol LAYER=X)
            ET.SubElement(ET.SubElement(tc, "properties"), "property", name="tol", value=f"{lc.tol:g}")
        if not lc.ok:
            f = ET.SubElement(tc, "failure", message=xml_text(lc.message), type="SropDrift")
            f.text = xml_text(lc.message)
        else:
            ET.SubElement(tc, "system-out").text = xml_text(lc.message)
    return _text(root)


def junit_error(message: str, suite: str = "srop-onnx check", kind: str = "SropCheckRefused") -> str:
    """A report with one errored test case: the check could not run (the golden is missing, broken,
    or was made with other settings)."""
    root, ts = _suite(suite, 1, 0, 1)
    tc = ET.SubElement(ts, "testcase", classname=CLASSNAME, name="check", time="0")
    err = ET.SubElement(tc, "error", message=xml_text(message), type=kind)
    err.text = xml_text(message)
    return _text(root)


def _data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def in_github_actions(environ) -> bool:
    """Annotations only where GitHub Actions runs the job (``GITHUB_ACTIONS=true``)."""
    return environ.get("GITHUB_ACTIONS") == "true"


def github_annotations(result: CheckResult) -> list[str]:
    """``::error`` workflow commands for failing layers (GitHub Actions shows them on the run)."""
    return [f"::error title={_property('SROP drift in ' + lc.name)}::{_data(lc.name)}: {_data(lc.message)}"
            for lc in result.failures]


def github_error(message: str) -> str:
    return f"::error title={_property('srop-onnx check refused')}::{_data(message)}"


def _md(text) -> str:
    """Data in the job summary: a code span, so no link, image, HTML or emphasis in it can act."""
    return md_code(text)


def step_summary(result: CheckResult | None, refusal: str | None = None, title: str = "refused") -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the verdict, one row per failing layer, and every
    layer's numbers in a folded table (layer, golden, new, delta, tolerance)."""
    if result is None:
        return f"### srop-onnx check: {title}\n\n{_md(refusal)}\n"
    tols = "".join(f", {_md(k)}: {v:g}" for k, v in result.tols.items())
    head = (f"### srop-onnx check: {'PASS' if result.passed else 'FAIL'}\n\n{len(result.layers)} layer(s), metric "
            f"{result.metric}, tolerance {result.tol:g}{tols} ({result.units} units), {len(result.failures)} "
            "failing.\n") + (f"\nNote: {_md(result.inputs_note)}\n" if result.inputs_note else "")
    rows = "".join(f"| {_md(lc.name)} | {_md(lc.message)} |\n" for lc in result.failures)
    failing = "\n| layer | why |\n|---|---|\n" + rows if result.failures else ""
    return head + failing + _all_layers(result)


def _all_layers(result: CheckResult) -> str:
    """Every layer in a ``<details>`` block (GitHub shows it folded)."""
    lines = ["", "<details><summary>every layer</summary>", "",
             f"| layer | golden {result.metric} | new {result.metric} | delta | tolerance | |", "|---|--:|--:|--:|--:|---|"]
    for lc in result.layers:
        pair = lc.pair
        golden = new = None
        if pair is not None and result.metric in ("mean", "median"):
            new, golden = (getattr(lay.summary(result.units), result.metric) if lay is not None else None
                           for lay in (pair.a, pair.b))
        delta = lc.value if result.metric == "w1" else (new - golden if new is not None and golden is not None else None)
        lines.append(f"| {_md(lc.name)} | {f(golden, 4)} | {f(new, 4)} | {f(delta, 4)} | "
                     f"{'' if lc.tol is None else f'{lc.tol:g}'} | {'ok' if lc.ok else 'FAIL'} |")
    return "\n".join(lines) + "\n\n</details>\n"

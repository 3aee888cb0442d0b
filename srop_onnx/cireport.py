"""CI-facing renderings of a check: JUnit XML and GitHub Actions annotations."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .compare import CheckResult

__all__ = ["junit_xml", "github_annotations"]


def junit_xml(result: CheckResult, suite: str = "srop-onnx check") -> str:
    """One ``<testcase>`` per layer (and per missing/extra layer); failures carry the numbers."""
    failures = len(result.failures)
    root = ET.Element("testsuites", name=suite, tests=str(len(result.layers)), failures=str(failures))
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(result.layers)), failures=str(failures),
                       errors="0", skipped="0")
    props = ET.SubElement(ts, "properties")
    for k, v in (("metric", result.metric), ("tol", f"{result.tol:g}"), ("units", result.units),
                 ("profile", result.comparison.a.model.get("path", "")),
                 ("golden", result.comparison.b.model.get("path", ""))):
        ET.SubElement(props, "property", name=k, value=str(v))
    model = result.comparison.a.model.get("path", "model")
    for lc in result.layers:
        tc = ET.SubElement(ts, "testcase", classname=model, name=lc.name, time="0")
        if not lc.ok:
            f = ET.SubElement(tc, "failure", message=lc.message, type="SropDrift")
            f.text = lc.message
        else:
            ET.SubElement(tc, "system-out").text = lc.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_annotations(result: CheckResult) -> list[str]:
    """``::error`` workflow commands for failing layers (GitHub Actions shows them on the run)."""
    return [f"::error title=SROP drift in {_escape(lc.name)}::{_escape(lc.name)}: {_escape(lc.message)}"
            for lc in result.failures]

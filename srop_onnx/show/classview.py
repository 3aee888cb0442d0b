"""What people and CI see of a labelled profile: the class x layer table with its peaks, a dataset
against a benchmark class by class, the samples that do not fit (terminal, JUnit, job summary).
Built from result objects only (docs/datasets.md); nothing here computes a number."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .report import fmt, safe

if TYPE_CHECKING:
    from ..results.classcompare import ClassComparison
    from ..results.classes import ClassStats, Outliers

__all__ = ["render_classes", "render_class_comparison", "render_outliers", "class_junit", "class_summary",
           "class_annotations", "unscored_text"]


#: the most layers shown as columns; a deeper model's table has a row per layer and a column per class
WIDE_LAYERS = 12


def render_classes(stats: "ClassStats", console, *, peaks: bool = True) -> None:
    """Mean per-sample SROP per class (rows) and layer (columns), with each class's sample count (a
    model of more than :data:`WIDE_LAYERS` layers: a row per layer, a column per class); then each
    layer's peaks and the classes that make them."""
    from rich.table import Table

    by = {(c.label, c.layer): c for c in stats.cells}
    title = f"Mean SROP per class and layer ({stats.units} units)"
    table = Table(header_style="bold", title=title)
    if len(stats.layers) <= WIDE_LAYERS:
        table.add_column("class", justify="left")
        table.add_column("samples", justify="right")
        for name in stats.layers:
            table.add_column(safe(name), justify="right")
        for label in stats.classes:
            counts = [by[(label, name)].count + by[(label, name)].dead for name in stats.layers]
            dead = sum(by[(label, name)].dead for name in stats.layers)
            row = [fmt(by[(label, name)].mean) for name in stats.layers]
            table.add_row(safe(label), f"{max(counts)}" + (f" ({dead} dead)" if dead else ""), *row)
    else:
        table.add_column("layer", justify="left")
        for label in stats.classes:
            n = max(by[(label, name)].count + by[(label, name)].dead for name in stats.layers)
            table.add_column(f"{safe(label)} ({n})", justify="right")
        for name in stats.layers:
            table.add_row(safe(name), *(fmt(by[(label, name)].mean) for label in stats.classes))
    console.print(table)
    if stats.unlabelled:
        console.print(f"{stats.unlabelled} sample(s) without a label are in no class (they are in the peaks' "
                      "'(no label)')", highlight=False)
    if peaks:
        console.print("[bold]Peaks of each layer's per-sample means (band units) and the classes in them[/]")
        for name in stats.layers:
            found = stats.peaks.get(name, [])
            text = "; ".join(p.describe() for p in found) if found else "no live sample"
            console.print(f"  {safe(name)}: {safe(text)}", highlight=False)


def render_class_comparison(result: "ClassComparison", console, *, show_all: bool = False) -> None:
    """The differing layer x class cells (every cell with ``show_all``), missing classes, peak
    changes and the verdict."""
    from rich.table import Table

    console.print(f"benchmark = {safe(result.names[0])}\ncustom    = {safe(result.names[1])}", highlight=False)
    cells = result.cells if show_all else result.differences
    if cells:
        table = Table(header_style="bold", title="Per class and layer: W1 between the per-sample means (band units), "
                                                 f"permutation test ({result.permutations} splits, seed {result.seed})")
        for col in ("layer", "class", "n bench", "n custom", "bench mean", "custom mean", "W1", "p", "p (Holm)", ""):
            table.add_column(col, justify="left" if col in ("layer", "class") else "right")
        for c in cells:
            table.add_row(safe(c.layer), safe(c.label), str(c.n_reference), str(c.n_custom), fmt(c.mean_reference),
                          fmt(c.mean_custom), fmt(c.w1, 4), f"{c.p:.4g}", f"{c.p_holm:.4g}",
                          "[red]differs[/]" if c.differs else "" if c.reachable else "[dim]cannot tell[/]")
        console.print(table)
    for kind, which in (("missing from the custom set", result.missing_in_custom),
                        ("not in the benchmark", result.missing_in_reference)):
        if which:
            console.print(f"[red]class(es) {kind}:[/] {safe(', '.join(which))}", highlight=False)
    for change in result.peak_changes:
        console.print(f"peak: {safe(change.describe())}", highlight=False)
    head, _, rest = result.verdict().partition(":")
    colour = {"SAME": "green", "DIFFERENT": "red"}.get(result.outcome, "yellow")
    console.print(f"[{colour}]{head}[/]:{safe(rest)}", highlight=False)


def render_outliers(out: "Outliers", console) -> None:
    """The top samples by outlier score, with the layers that make them odd."""
    shown = out.rows[: out.top]
    if shown:
        console.print(_outliers_table(out, shown))
    else:
        console.print("no sample could be scored", highlight=False)
    line = unscored_text(out)
    if line:
        console.print(safe(line), highlight=False)


def _outliers_table(out: "Outliers", shown: list):
    from rich.table import Table

    table = Table(header_style="bold", title=f"Samples farthest from their own class (top {len(shown)} of "
                                             f"{len(out.rows)} scored)")
    for col in ("#", "sample", "class", "score", "odd in (robust z)"):
        table.add_column(col, justify="left" if col in ("sample", "class", "odd in (robust z)") else "right")
    for i, o in enumerate(shown, start=1):
        layers = ", ".join(f"{name} {z:+.1f}" for name, z in o.layers)
        table.add_row(str(i), safe(o.source), safe(o.label), fmt(o.score, 2), safe(layers))
    return table


def unscored_text(out: "Outliers") -> str | None:
    """The line that says which samples were not scored and why (None when every one was)."""
    if not out.unscored:
        return None
    why = "no label, or no layer where their class has a spread"
    if out.small:
        from ..results.classes import MIN_CLASS_SAMPLES

        shown = ", ".join(f"'{c}' ({n})" for c, n in list(out.small.items())[:8]) + (" ..." if len(out.small) > 8 else "")
        rest = out.unscored - sum(out.small.values())
        why = (f"{len(out.small)} class(es) of fewer than {MIN_CLASS_SAMPLES} samples, too few to score against: "
               f"{shown}" + (f"; {rest} other(s): {why}" if rest > 0 else ""))
    return f"{out.unscored} sample(s) not scored ({why})"


def class_junit(result: "ClassComparison", suite: str = "srop-onnx compare --by class") -> str:
    """JUnit XML: one test case per class (failing when it differs in any layer or is missing)."""
    from .cireport import CLASSNAME, _suite, _text, xml_text

    classes = sorted({c.label for c in result.cells} | set(result.missing_in_custom) | set(result.missing_in_reference))
    failing = set(result.classes_that_differ())
    untestable = {c.label for c in result.cells} - {c.label for c in result.cells if c.reachable} - failing
    root, ts = _suite(suite, len(classes), len(failing & set(classes)), 0, len(untestable))
    props = ET.SubElement(ts, "properties")
    for k, v in (("benchmark", result.names[0]), ("custom", result.names[1]), ("alpha", f"{result.alpha:g}"),
                 ("min_effect", f"{result.min_effect:g}"), ("permutations", str(result.permutations)),
                 ("seed", str(result.seed))):
        ET.SubElement(props, "property", name=k, value=xml_text(v))
    for label in classes:
        tc = ET.SubElement(ts, "testcase", classname=CLASSNAME, name=xml_text(f"class {label}"), time="0")
        message = _class_message(result, label)
        if label in failing:
            f = ET.SubElement(tc, "failure", message=xml_text(message), type="SropClassDifference")
            f.text = xml_text(message)
        elif label in untestable:  # no test of it could fail
            ET.SubElement(tc, "skipped", message=xml_text(message))
        else:
            ET.SubElement(tc, "system-out").text = xml_text(message)
    return _text(root)


def _class_message(result: "ClassComparison", label: str) -> str:
    if label in result.missing_in_custom:
        return f"class '{label}' is in the benchmark and missing from the custom set"
    if label in result.missing_in_reference:
        return f"class '{label}' is in the custom set and not in the benchmark"
    mine = [c for c in result.cells if c.label == label]
    bad = [c for c in mine if c.differs]
    short = [c for c in mine if not c.reachable]
    if not bad and len(short) == len(mine):
        return (f"class '{label}': cannot tell in {len(mine)} layer(s): no test of {short[0].n_reference} vs "
                f"{short[0].n_custom} samples can reach a Holm-corrected p < {result.alpha:g} here")
    if not bad:
        return f"class '{label}': same in {len(mine)} layer(s)" + (
            f" ({len(short)} of them cannot show a difference)" if short else "")
    worst = max(bad, key=lambda c: c.w1)
    return (f"class '{label}' differs in {len(bad)} of {len(mine)} layer(s); largest W1 {worst.w1:.4f} in "
            f"{worst.layer} (mean {worst.mean_reference:.3f} -> {worst.mean_custom:.3f}, Holm p {worst.p_holm:.3g})")


def class_summary(result: "ClassComparison") -> str:
    """Markdown for ``$GITHUB_STEP_SUMMARY``: the verdict and one row per class that differs."""
    from .text import md_code

    head = f"### srop-onnx compare --by class: {result.outcome}\n\n{md_code(result.verdict())}\n"
    rows = "".join(f"| {md_code(label)} | {md_code(_class_message(result, label))} |\n"
                   for label in result.classes_that_differ())
    return head + ("\n| class | why |\n|---|---|\n" + rows if rows else "")


def class_annotations(result: "ClassComparison") -> list[str]:
    """``::error`` workflow commands, one per class that differs or is missing, or one saying that no
    test could show a difference (GitHub Actions)."""
    from .cireport import _data, _property

    if not result.decided:  # nothing could differ: said to CI as an error, not passed in silence
        return [f"::error title={_property('SROP class comparison: cannot tell')}::{_data(result.verdict())}"]
    return [f"::error title={_property('SROP class difference: ' + label)}::{_data(_class_message(result, label))}"
            for label in result.classes_that_differ()]

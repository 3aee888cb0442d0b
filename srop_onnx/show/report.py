"""Terminal reports: rich tables built from result objects only (no computation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
import re
from pathlib import Path

from ..errors import on_command_line
from .text import visible

if TYPE_CHECKING:
    from ..results.profile import Profile

__all__ = ["render_profile", "render_taps", "shape_text", "render_comparison", "render_check", "render_verdict", "make_progress",
           "ProgressHook", "render_sweep", "fmt", "safe", "comparison_labels", "dead_text", "describe_perturbation",
           "describe_taps"]


def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def safe(text) -> str:
    """Data (layer names, paths, reasons) as terminal text: undecodable bytes replaced, control
    characters (ANSI escapes, line breaks) and bidirectional controls shown as ``\\xNN``/``\\uNNNN``
    (:func:`srop_onnx.show.text.visible`), and rich markup escaped. Text is otherwise kept as it is,
    so a name copied from a table works in ``--layers`` (``onnx::Unsqueeze_6``); only a leading
    ``::`` - the one place it could start a line that GitHub Actions reads as a workflow command -
    is shown as ``\\x3a:``."""
    from rich.markup import escape

    s = visible(text)
    if s.startswith("::"):
        s = "\\x3a" + s[1:]
    return escape(s)


def dead_text(stats) -> str:
    """Dead maps of a layer, worded one way everywhere: ``dead/all`` (``4/128``, ``0/128``)."""
    return f"{stats.dead}/{stats.count + stats.dead + stats.nonfinite}"


def describe_perturbation(pert: dict) -> str:
    """A sweep's perturbation in words: ``gaussian noise (seed 0)``, ``blend with cat.png``."""
    pert = dict(pert or {})
    kind = pert.pop("kind", "?")
    if kind == "noise":
        head = f"{pert.pop('noise', '')} noise".strip()
    elif kind == "blend":
        head = f"blend with {Path(str(pert.pop('image', '?'))).name}" if "image" in pert else "blend"
    else:
        head = str(kind)
    rest = ", ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in pert.items())
    return f"{head} ({rest})" if rest else head


def describe_taps(taps) -> str:
    """The taps setting in words: ``Conv, MaxPool`` or ``all rank-3/4 tensors``."""
    return "all rank-3/4 tensors" if taps == "all" else ", ".join(map(str, taps or [])) or "-"


def describe_preprocess(pre) -> str:
    """One line saying how inputs became model inputs (the profile's ``settings.preprocess``)."""
    if not pre:
        return "none (arrays fed as they are)"
    if not isinstance(pre, dict):
        return str(pre)
    if pre.get("audio"):
        length = f", length {pre['length']} samples" if pre.get("length") else ""
        return f"WAV at {pre.get('sample_rate')} Hz{length}"
    mean = ",".join(f"{v:g}" for v in pre.get("mean", []))
    std = ",".join(f"{v:g}" for v in pre.get("std", []))
    size = "x".join(str(v) for v in pre.get("size", []))
    return (f"{pre.get('preset')} (pixels x {pre.get('scale', 1):.4g}, mean {mean}, std {std}, {size}, "
            f"crop {pre.get('crop', 1):g}{', BGR' if pre.get('bgr') else ''})")


def _shape(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape)


def render_profile(profile: Profile, console, units: str | None = None, *, max_skipped: int = 20) -> None:
    """Print a profile as a header line, a layer table and what was skipped."""
    from rich.table import Table

    units = units or profile.units
    mdl = profile.model
    skipped = len(profile.skipped_inputs)
    console.print(
        f"[bold]{safe(mdl['path'])}[/]  input {safe(mdl['input']['name'])} ({safe(mdl['input']['layout'])})  "
        f"provider {safe(profile.settings.get('provider', '?'))}  "
        f"inputs analysed [bold]{profile.analyzed}[/], skipped {skipped}  "
        f"kappa {safe(profile.settings.get('kappa'))}  units {safe(units)}"
    )
    console.print(f"preprocess: {safe(describe_preprocess(profile.settings.get('preprocess')))}", highlight=False)
    has_base = any(lay.baseline for lay in profile.layers)
    table = Table(show_lines=False, header_style="bold", title=None)
    for col, just in (("#", "right"), ("layer", "left"), ("op", "left"), ("shape", "right"), ("mean", "right"),
                      ("median", "right"), ("IQR", "right"), ("std", "right"), ("dead", "right")):
        table.add_column(col, justify=just)
    if has_base:
        table.add_column("vs base", justify="right")
    for lay in profile.layers:
        s = lay.summary(units)
        st = lay.stats
        dead = dead_text(st)
        if st.nonfinite:
            dead += f" [red]+{st.nonfinite} NaN/Inf[/]"
        row = [str(lay.index), safe(lay.name) + ("" if lay.spatial_map else " [dim](not spatial)[/]"), safe(lay.op),
               _shape(lay.shape), fmt(s.mean), fmt(s.median), fmt(s.iqr),
               fmt(s.std), dead]
        if has_base:
            base = (lay.baseline or {}).get(f"mean_{units}")
            row.append(fmt(s.mean / base, 2) if base else "-")
        table.add_row(*row)
    console.print(table)
    base = profile.extra.get("baseline")
    if base and base.get("table"):
        bt = Table(title="Per resolution (paper Table 2)", header_style="bold", title_justify="left")
        for col in ("side", "baseline", "min mean", "layer", "ratio"):
            bt.add_column(col, justify="left" if col == "layer" else "right")
        for row in base["table"]:
            bt.add_row(safe(row["side"]), fmt(row["baseline"]), fmt(row["min_mean"]), safe(row["layer"]),
                       fmt(row["ratio"], 2))
        console.print(bt)
    _render_left_out(profile, console, max_skipped)


def _skipped_lines(skipped: list[dict], group: int = 3) -> list[str]:
    """One line per skipped tap, or, for a reason shared by ``group`` or more (an SE block's 1x1
    maps), one line for all of them: ``too small for a spectrum (1x1 per channel): 20 layers: a, b, ...``."""
    by_reason: dict[str, list[dict]] = {}
    for s in skipped:
        by_reason.setdefault(str(s["reason"]), []).append(s)
    lines, done = [], set()
    for s in skipped:
        reason = str(s["reason"])
        same = by_reason[reason]
        if len(same) < group:
            lines.append(f"{safe(s.get('name') or s['tensor'])} ({safe(s['op'])}): {safe(reason)}")
        elif reason not in done:
            done.add(reason)
            names = ", ".join(safe(t.get("name") or t["tensor"]) for t in same)
            lines.append(f"{safe(reason)}: {len(same)} layers: {names}")
    return lines


def _render_left_out(profile: Profile, console, max_skipped: int) -> None:
    """What a profile's table leaves out or marks: non-spatial layers, skipped taps and inputs."""
    flat = [lay.name for lay in profile.layers if not lay.spatial_map]
    if flat:
        console.print(f"[dim]{len(flat)} layer(s) are not maps of the input's space (a side longer than the "
                      "input's, or another number of axes than the input: a 1-D signal in an image model, a time x "
                      "frequency map in a waveform model): no baseline, left out of the per-resolution summary[/]")
    if profile.skipped_layers:
        console.print(f"[yellow]{len(profile.skipped_layers)} tapped tensor(s) skipped:[/]")
        lines = _skipped_lines(profile.skipped_layers)
        for line in lines[:max_skipped]:
            console.print(f"  {line}", highlight=False)
        if len(lines) > max_skipped:
            console.print(f"  ... and {len(lines) - max_skipped} more (see "
                          f"{'--json' if on_command_line() else 'profile.skipped_layers'})")
    if profile.skipped_inputs:
        console.print(f"[yellow]{len(profile.skipped_inputs)} input file(s) skipped:[/]")
        for s in profile.skipped_inputs[:max_skipped]:
            console.print(f"  {safe(s['reason'])}", highlight=False)


def make_progress(console, unit: str = "inputs"):
    """A rich progress bar showing done/total and items per second."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):  # noqa: D401 - rich API
            speed = task.finished_speed or task.speed
            if not speed and task.elapsed and task.completed:
                speed = task.completed / task.elapsed
            return Text(f"{speed:6.1f} {unit}/s" if speed else f"   -- {unit}/s", style="progress.data.speed")

    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    _Rate(), TimeElapsedColumn(), console=console, transient=False)


def render_sweep(sw, console, units: str = "band") -> None:
    """Per-level table of a sweep (``srop-onnx sweep``): output change, mean SROP per depth third, verdict."""
    from rich.table import Table

    from ..results.sweepresult import measure_definition, measure_label, sweep_verdict, third_means

    table = Table(header_style="bold", title=f"{sw.perturbation.get('kind', '?')} sweep, {units} units")
    measure = sw.points[-1].change.shown
    label = measure_label(measure, short=True)
    for col in ("w", label, "shallow", "middle", "deep", "inputs"):
        table.add_column(col, justify="right")
    for p in sw.points:
        thirds = third_means(p.profile, units)
        thirds = [float("nan")] * (3 - len(thirds)) + thirds
        table.add_row(f"{p.level:g}", fmt(p.change.value), *(fmt(v) for v in thirds), str(p.profile.analyzed))
    console.print(table)
    console.print(f"{label}: {measure_label(measure)}, {measure_definition(measure)} (model output {sw.output})",
                  highlight=False, markup=False)
    console.print(sweep_verdict(sw)["summary"], highlight=False, markup=False)


class ProgressHook:
    """A ``progress(done, total)`` callback for a console on stderr (None: silent).

    On a terminal it drives a rich bar with items/s; elsewhere (pipes, CI logs, where a bar shows
    nothing until the end) it prints a plain line every ``interval`` seconds and one at the end.
    A second pass (``--vs-random``: the twin) restarts the count and gets a bar of its own.
    """

    def __init__(self, console, unit: str = "inputs", interval: float = 5.0):
        self.console, self.unit, self.interval = console, unit, interval
        self.plain = console is not None and not console.is_terminal
        self.bar = None if console is None or self.plain else make_progress(console, unit)
        self.task = None
        self.last = -1
        self.what = "analysing"
        self.started = self.printed = None
        self.base = 0  # the count when the clock started
        self.state = (0, None)
        self.shown: tuple | None = None  # what the last plain line said

    def next_pass(self, what: str) -> None:
        """A new pass over the inputs named ``what`` (a track's next step): a count and a bar of its own."""
        if self.console is None:
            return
        if self.plain and self.started is not None:
            self._line(True)
        self.what, self.last, self.started, self.state = what, -1, None, (0, None)
        if self.bar is not None and self.task is not None:
            self.task = self.bar.add_task(what, total=None)

    def __call__(self, done: int, total: int | None) -> None:
        if self.console is None:
            return
        if self.last >= 0 and done < self.last and self.what == "analysing":
            self.what = "randomized twin"
            self.started = None
        self.last = done
        self.state = (done, total)
        if self.plain:
            self._line(False)
            return
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task(self.what, total=total)
        elif self.bar.tasks[-1].description != self.what:
            self.task = self.bar.add_task(self.what, total=total)
        self.bar.update(self.task, completed=done, total=total)

    def _line(self, final: bool) -> None:
        import time

        now = time.monotonic()
        if self.started is None:  # the rate counts from here (a resumed run starts past zero)
            self.started = self.printed = now
            self.base = self.state[0]
        if not final and now - self.printed < self.interval:
            return
        if final and self.shown == (self.what, self.state):  # the last line already said it all
            return
        self.printed, self.shown = now, (self.what, self.state)
        done, total = self.state
        rate = (done - self.base) / (now - self.started) if now > self.started and done > self.base else 0.0
        of = f"/{total}" if total else ""
        self.console.print(f"{self.what}: {done}{of} {self.unit}, {rate:.1f} {self.unit}/s, "
                           f"{now - self.started:.0f} s", highlight=False)

    def stop(self) -> None:
        if self.plain and self.started is not None:
            self._line(True)
        elif self.bar is not None and self.task is not None:
            self.bar.stop()


def render_taps(taps, console) -> None:
    """Print the taps of a model (``srop-onnx layers``)."""
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("#", "layer", "op", "tensor", "shape (inferred)"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for t in taps:
        shape = "?" if t.shape_hint is None else shape_text(t.shape_hint)
        table.add_row(str(t.index), safe(t.name), safe(t.op), safe(t.tensor), safe(shape))
    console.print(table)


def shape_text(dims) -> str:
    """A shape as ``Nx64x56x56``: numbers as they are; the first axis, when it is a symbol, ``N``;
    other symbols when short and meaningful, else ``?`` (ONNX's ``unk__12``, PyTorch's ``s40`` and
    expressions of it, a dim named ``None``, ``-1``, long expressions such as ``floor(s1/2)``)."""
    def one(i: int, d) -> str:
        if isinstance(d, int) and d > 0:
            return str(d)
        text = "" if d is None else str(d)
        if i == 0:
            return "N"
        unknown = (not text or text in ("None", "?", "-1") or len(text) > 8
                   or re.search(r"\b(?:unk__\d+|s\d+)\b", text) is not None)
        return "?" if unknown else text

    return "x".join(one(i, d) for i, d in enumerate(dims))


def comparison_labels(comp) -> tuple[str, str]:
    """``A = file`` and ``B = file`` labels, with each side's model when the two models differ."""
    a, b = (str(n) for n in comp.names)
    ma, mb = (str(p.model.get("path", "")) for p in (comp.a, comp.b))
    if ma != mb or (comp.a.model.get("sha256") != comp.b.model.get("sha256")):
        return f"{a} (model {ma})", f"{b} (model {mb})"
    return a, b


def render_comparison(comp, console, units: str = "band") -> None:
    """Side-by-side layer table of two profiles (``srop-onnx compare``); delta is B - A."""
    from rich.table import Table

    la, lb = comparison_labels(comp)
    console.print(f"A = {safe(la)}\nB = {safe(lb)}\ndelta = B - A ({safe(units)} units; negative: B lower)",
                  highlight=False)
    table = Table(header_style="bold")
    for col in ("layer", "A mean", "B mean", "delta mean", "A median", "B median", "A IQR", "B IQR", "W1 (band)"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for p in comp.pairs:
        sa, sb = p.a.summary(units), p.b.summary(units)
        name = safe(p.a.name if p.a.name == p.b.name else f"{p.a.name} ~ {p.b.name}")
        if p.matched_by == "position":
            name += " [pos]"
        d = sb.mean - sa.mean
        style = "" if not math.isfinite(d) else ("green" if d < 0 else "red" if d > 0 else "")
        table.add_row(name, fmt(sa.mean), fmt(sb.mean), f"[{style}]{d:+.3f}[/]" if style else fmt(d),
                      fmt(sa.median), fmt(sb.median), fmt(sa.iqr), fmt(sb.iqr), fmt(p.w1, 4))
    console.print(table)
    for w in comp.warnings:
        console.print(f"[yellow]warning:[/] {safe(w)}")
    for lay in comp.only_a:
        console.print(f"only in A: {safe(lay.name)} ({safe(lay.op)}, {_shape(lay.shape)})", highlight=False)
    for lay in comp.only_b:
        console.print(f"only in B: {safe(lay.name)} ({safe(lay.op)}, {_shape(lay.shape)})", highlight=False)


def render_check(result, console) -> None:
    """One line per failing layer and a closing verdict (``srop-onnx check``); pairs made by
    position (``--match position``) are listed first."""
    for p in result.comparison.positional:
        console.print(f"paired by position: {safe(p.a.name)} ~ golden {safe(p.b.name)}", highlight=False)
    for lc in result.failures:
        console.print(f"[red]FAIL[/] {safe(lc.name)}: {safe(lc.message)}", highlight=False)
    if result.inputs_note:
        console.print(f"[yellow]note:[/] {safe(result.inputs_note)}", highlight=False)
    head, _, rest = result.verdict().partition(":")
    console.print(f"[{'green' if result.passed else 'red'}]{head}[/]:{safe(rest)}", highlight=False)


def render_verdict(verdict: dict, console) -> None:
    """The randomized-twin comparison (``analyze --vs-random``)."""
    from rich.table import Table

    table = Table(header_style="bold", title="Trained vs randomized twin (mean SROP, band units)")
    for col in ("layer", "trained", "random", "difference", "inputs lower", "deep"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in verdict.get("layers", []):
        d = r["difference"]
        table.add_row(safe(r["layer"]), fmt(r["trained_mean"]), fmt(r["random_mean"]),
                      f"[{'green' if d < 0 else 'red'}]{d:+.4f}[/]",
                      "-" if r["inputs_lower"] is None else f"{100 * r['inputs_lower']:.0f}%", "yes" if r["deep"] else "")
    console.print(table)
    colour = {"consistent": "green", "inconsistent": "red"}.get(verdict["verdict"], "yellow")
    console.print(f"[{colour}]verdict: {safe(verdict['verdict'])}[/] - "
                  f"{safe(verdict.get('summary', verdict.get('reason', '')))}",
                  highlight=False)
    console.print("[dim](the paper's finding: deep layers of a well-trained model sit lower than its randomized twin)[/]")

"""Terminal reports: rich tables built from result objects only (no computation)."""

from __future__ import annotations

import math

from .profile import Profile

__all__ = ["render_profile", "render_taps", "make_progress", "fmt"]


def fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}f}"


def _shape(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape)


def render_profile(profile: Profile, console, units: str | None = None, *, max_skipped: int = 20) -> None:
    """Print a profile as a header line, a layer table and what was skipped."""
    from rich.table import Table

    units = units or profile.units
    mdl = profile.model
    skipped = len(profile.skipped_inputs)
    console.print(
        f"[bold]{mdl['path']}[/]  input {mdl['input']['name']} ({mdl['input']['layout']})  "
        f"provider {profile.settings.get('provider', '?')}  "
        f"inputs analysed [bold]{profile.analyzed}[/], skipped {skipped}  "
        f"kappa {profile.settings.get('kappa')}  units {units}"
    )
    has_base = any(lay.baseline for lay in profile.layers)
    table = Table(show_lines=False, header_style="bold", title=None)
    for col, just in (("#", "right"), ("layer", "left"), ("op", "left"), ("CxHxW", "right"), ("mean", "right"),
                      ("median", "right"), ("IQR", "right"), ("std", "right"), ("dead", "right")):
        table.add_column(col, justify=just)
    if has_base:
        table.add_column("vs base", justify="right")
    for lay in profile.layers:
        s = lay.summary(units)
        st = lay.stats
        total = st.count + st.dead + st.nonfinite
        dead = f"{st.dead}/{total}" if st.dead else "0"
        if st.nonfinite:
            dead += f" [red]+{st.nonfinite} NaN/Inf[/]"
        row = [str(lay.index), lay.name, lay.op, _shape(lay.shape), fmt(s.mean), fmt(s.median), fmt(s.iqr),
               fmt(s.std), dead]
        if has_base:
            base = (lay.baseline or {}).get(f"mean_{units}")
            row.append(fmt(s.mean / base, 2) if base else "-")
        table.add_row(*row)
    console.print(table)
    base = profile.extra.get("baseline")
    if base and base.get("table"):
        bt = Table(title="Per resolution (paper Table 2): baseline vs the lowest layer mean", header_style="bold")
        for col in ("side", "baseline", "min mean", "layer", "ratio"):
            bt.add_column(col, justify="left" if col == "layer" else "right")
        for row in base["table"]:
            bt.add_row(str(row["side"]), fmt(row["baseline"]), fmt(row["min_mean"]), row["layer"], fmt(row["ratio"], 2))
        console.print(bt)
    if profile.skipped_layers:
        console.print(f"[yellow]{len(profile.skipped_layers)} tapped tensor(s) skipped:[/]")
        for s in profile.skipped_layers[:max_skipped]:
            console.print(f"  {s.get('name') or s['tensor']} ({s['op']}): {s['reason']}", highlight=False)
        if len(profile.skipped_layers) > max_skipped:
            console.print(f"  ... and {len(profile.skipped_layers) - max_skipped} more (see --json)")
    if profile.skipped_inputs:
        console.print(f"[yellow]{skipped} input file(s) skipped:[/]")
        for s in profile.skipped_inputs[:max_skipped]:
            console.print(f"  {s['reason']}", highlight=False)


def make_progress(console, unit: str = "img"):
    """A rich progress bar showing done/total and items per second."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):  # noqa: D401 - rich API
            speed = task.finished_speed or task.speed
            return Text(f"{speed:6.1f} {unit}/s" if speed else f"   -- {unit}/s", style="progress.data.speed")

    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    _Rate(), TimeElapsedColumn(), console=console, transient=False)


def render_taps(taps, console) -> None:
    """Print the taps of a model (``srop-onnx layers``)."""
    from rich.table import Table

    table = Table(header_style="bold")
    for col in ("#", "layer", "op", "tensor", "shape (inferred)"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for t in taps:
        shape = "?" if t.shape_hint is None else "x".join(
            "?" if d is None or str(d).startswith("unk__") else str(d) for d in t.shape_hint)
        table.add_row(str(t.index), t.name, t.op, t.tensor, shape)
    console.print(table)

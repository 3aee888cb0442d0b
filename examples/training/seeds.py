"""Summaries across seeds for train_digits.py ``--seeds N``: ``OUT/seeds.md`` (tables of means with
95 % t intervals, examples/training/intervals.py), ``OUT/seeds.json`` and the figures
``thirds_seeds.png`` (track) or ``cases_seeds.png`` and ``case2_kde.png`` (cases)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from intervals import fmt, interval, supported

SHOWN_STEPS = (0, 1, 2, 5, 10, 15, 20)


def summarise_tracks(out: Path, n: int) -> dict:
    """Per layer and third: the mean SROP at a few steps, the change from step 0 to the last step
    and whether its interval excludes 0, and the accuracy per step, across the seeds."""
    import srop_onnx

    tracks = [srop_onnx.Track.load(out / f"seed-{s}" / "track") for s in range(n)]
    acc = [json.loads((out / f"seed-{s}" / "accuracy.json").read_text())["accuracy"] for s in range(n)]
    steps = tracks[0].steps
    names = tracks[0].layer_names
    means = np.stack([t.means() for t in tracks])  # seeds x layers x steps
    shown = [s for s in SHOWN_STEPS if s in steps]
    lines = [f"Across {n} seeds (each: another data split and initialisation); mean +- 95 % t interval.", "",
             "| layer | " + " | ".join(f"step {s}" for s in shown) + " | change 0 -> last | direction |",
             "|---|" + "---|" * (len(shown) + 2)]
    rows = {}
    for i, name in enumerate(names):
        change = means[:, i, -1] - means[:, i, 0]
        cells = [fmt(means[:, i, steps.index(s)]) for s in shown]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fmt(change)} | {supported(change)} |")
        rows[name] = {"change": interval(change), "direction": supported(change)}
    thirds = [t.thirds() for t in tracks]
    lines += ["", "| third | step 0 | last step | change | direction |", "|---|---|---|---|---|"]
    for k, (label, _) in enumerate(thirds[0]):
        series = np.stack([th[k][1] for th in thirds])
        change = series[:, -1] - series[:, 0]
        lines.append(f"| {label} | {fmt(series[:, 0])} | {fmt(series[:, -1])} | {fmt(change)} | {supported(change)} |")
        rows[f"third:{label}"] = {"change": interval(change), "direction": supported(change)}
    accuracy = np.asarray(acc)
    lines += ["", "| step | " + " | ".join(str(s) for s in shown) + " |", "|---|" + "---|" * len(shown),
              "| accuracy | " + " | ".join(fmt(accuracy[:, steps.index(s)]) for s in shown) + " |"]
    (out / "seeds.md").write_text("\n".join(lines) + "\n")
    (out / "seeds.json").write_text(json.dumps({"seeds": n, "steps": steps, "rows": rows}, indent=1) + "\n")
    _thirds_figure(steps, thirds, accuracy, out / "thirds_seeds.png")
    print("\n".join(lines))
    return rows


def _band(ax, x, series: np.ndarray, colour: str, label: str, dash: str = "-") -> None:
    mean = series.mean(axis=0)
    half = np.array([interval(series[:, j])[1] for j in range(series.shape[1])])
    ax.plot(x, mean, dash, color=colour, lw=1.6, label=label)
    ax.fill_between(x, mean - half, mean + half, color=colour, alpha=0.18, lw=0)


def _thirds_figure(steps, thirds, accuracy, path: Path) -> None:
    from matplotlib.figure import Figure

    from srop_onnx.plot import PALETTE

    fig = Figure(figsize=(8.5, 4.2), dpi=110, layout="constrained")
    ax = fig.subplots()
    for k, (label, _) in enumerate(thirds[0]):
        _band(ax, steps, np.stack([th[k][1] for th in thirds]), PALETTE[k], f"{label} third")
    ax.set(xlabel="training step (epoch)", ylabel="mean SROP (band units)",
           title=f"Depth thirds over training: mean and 95 % interval over {len(thirds)} seeds")
    right = ax.twinx()
    _band(right, steps, accuracy, "0.4", "test accuracy (right axis)", ":")
    right.set_ylabel("test accuracy (right axis)")
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    fig.legend(handles, [h.get_label() for h in handles], loc="outside right upper", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.savefig(path)


def summarise_cases(out: Path, n: int) -> dict:
    """Per case and w: the pattern's SROP at conv5, the blended test set's mean SROP at conv5 and
    the accuracy, across seeds; the per-w KDE of CASE II (the paper's Fig. 2) and the classes in the
    highest-SROP peak at w = 0."""
    import srop_onnx

    runs = [json.loads((out / f"seed-{s}" / "cases.json").read_text())["rows"] for s in range(n)]
    lines = [f"Across {n} seeds; mean +- 95 % t interval.", "",
             "| case | w | pattern SROP at conv5 | test-set SROP at conv5 | accuracy |", "|---|---|---|---|---|"]
    table = []
    for j, row in enumerate(runs[0]):
        col = {k: [r[j][k] for r in runs] for k in ("pattern_srop", "test_srop", "accuracy")}
        lines.append(f"| {row['case']} | {row['w']:g} | {fmt(col['pattern_srop'])} | {fmt(col['test_srop'])} | "
                     f"{fmt(col['accuracy'])} |")
        table.append({"case": row["case"], "w": row["w"], **{k: interval(v) for k, v in col.items()}})
    lines += ["", "Change of CASE II from w = 0 to w = 1, per seed:"]
    for key in ("pattern_srop", "test_srop"):
        first = [next(r for r in rows if r["case"] == "II" and r["w"] == 0)[key] for rows in runs]
        last = [next(r for r in rows if r["case"] == "II" and r["w"] == 1)[key] for rows in runs]
        diff = np.subtract(last, first)
        lines.append(f"- {key}: {fmt(diff)} ({supported(diff)})")
    lines += ["", "Peaks of the blended test set's per-sample SROPs at conv5 (classes in each basin), per case and w:"]
    for s in range(n):
        for row in runs[s]:
            prof = srop_onnx.Profile.load(out / f"seed-{s}" / "profiles" / f"case{row['case']}_w{row['w']:g}.json")
            peaks = prof.by_class(layers="^conv5$").peaks["conv5"]
            lines.append(f"- seed {s}, CASE {row['case']}, w = {row['w']:g}: {len(peaks)} peak(s): "
                         + "; ".join(p.describe() for p in peaks))
    (out / "seeds.md").write_text("\n".join(lines) + "\n")
    (out / "seeds.json").write_text(json.dumps({"seeds": n, "rows": table}, indent=1) + "\n")
    for case in ("I", "II"):
        _cases_kde(out, runs[0], case, out / f"case{len(case)}_kde.png")
    _cases_figure(runs, out / "cases_seeds.png")
    print("\n".join(lines))
    return {"rows": table}


def _cases_figure(runs: list[list[dict]], path: Path) -> None:
    """Per case, against w: the pattern's SROP at conv5 and the accuracy, mean and 95 % interval."""
    from matplotlib.figure import Figure

    from srop_onnx.plot import PALETTE

    fig = Figure(figsize=(9.0, 3.8), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    for k, case in enumerate(("I", "II")):
        idx = [j for j, r in enumerate(runs[0]) if r["case"] == case]
        ws = [runs[0][j]["w"] for j in idx]
        for ax, key in ((left, "pattern_srop"), (right, "accuracy")):
            series = np.array([[run[j][key] for j in idx] for run in runs])
            _band(ax, ws, series, PALETTE[k], f"CASE {case}", "-" if case == "I" else "--")
    left.set(xlabel="w (proportion of the pattern)", ylabel="mean SROP of the pattern at conv5 (band)",
             title="Pattern at the last convolution")
    right.set(xlabel="w (proportion of the pattern)", ylabel="test accuracy", title="Accuracy")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_ylim(0, 1.05)  # both quantities live in [0, 1]; a t interval of 3 seeds can reach past it
    fig.suptitle(f"Mean and 95 % interval over {len(runs)} seeds (intervals cut at 0 and 1)", fontsize=10)
    fig.savefig(path)


def _cases_kde(out: Path, rows: list[dict], case: str, path: Path) -> None:
    """Seed 0, one case: the per-sample mean SROPs of the blended test set at conv5, one curve per w
    (the paper's Fig. 2)."""
    import srop_onnx

    levels = sorted({r["w"] for r in rows if r["case"] == case})
    profiles = [srop_onnx.Profile.load(out / "seed-0" / "profiles" / f"case{case}_w{w:g}.json") for w in levels]
    fig = srop_onnx.plot.kde(profiles, labels=[f"w = {w:g}" for w in levels], layers="^conv5$")
    fig.suptitle(f"CASE {case}, seed 0: blended test set at conv5", fontsize=11)
    srop_onnx.plot.save_figure(fig, path)

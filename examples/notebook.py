# %% [markdown]
# # srop-onnx from Python: analyse, tabulate, plot, check
#
# A notebook-style script (cells marked `# %%` open as a notebook in VS Code and JupyterLab with
# jupytext). It analyses the shipped example model, turns the profile into a pandas DataFrame,
# draws the depth plot, and checks the profile against a golden one, as a test would.
# Run it from the repository root: `python examples/notebook.py [output folder]`.

# %%
import sys
import tempfile
from pathlib import Path

import srop_onnx

root = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="srop-notebook-"))
out.mkdir(parents=True, exist_ok=True)

# %% Analyse: one profile of every convolution and pooling output
profile = srop_onnx.analyze(root / "models" / "example.onnx", root / "models" / "images")
profile  # in a notebook: the header, the layer table and the depth plot

# %% Tabulate: one row per layer, flat columns, ready for .query() and plots
df = profile.to_dataframe()
print(df[["index", "layer", "op", "channels", "height", "width", "mean", "median", "ratio"]].to_string(index=False))
low = df.query("mean < 0.7")[["layer", "mean"]]
print(f"\n{len(low)} layer(s) keep 85% of their energy below 0.7 of the band:", ", ".join(low["layer"]))
per_sample = profile.to_dataframe(per="sample")  # long form: layer, sample, source, value
print(per_sample.groupby("layer", sort=False)["value"].agg(["mean", "std"]).round(3).head())

# %% Plot: mean SROP by depth against the randomized twin
twin = srop_onnx.analyze(root / "models" / "example-random.onnx", root / "models" / "images")
fig = srop_onnx.plot.depth([profile, twin], labels=["trained", "randomized"])
srop_onnx.plot.save_figure(fig, out / "depth.png")
print(f"wrote {out / 'depth.png'}")

# %% Check: the profile against a golden one, as a CI test does
golden_path = out / "golden.json"
profile.to_json(golden_path)  # in a real project the golden is committed once
result = srop_onnx.check(profile, srop_onnx.Profile.load(golden_path), tol=0.02)
assert result, str(result)  # truthy exactly when every layer passed
print(result)
drifted = srop_onnx.check(twin, srop_onnx.Profile.load(golden_path), tol=0.02)
print(drifted)  # a short summary: which layers drifted, by how much, against which tolerance
print(drifted.to_dataframe().query("not ok")[["layer", "value", "tol"]].head().to_string(index=False))

"""Issue 28, point 4: a Tracker inside training loops - a PyTorch module, a Lightning Trainer and a
Keras 3 model (on its PyTorch backend: no TensorFlow needed). The frameworks are test dependencies
(.ci/run installs them); srop-onnx never imports one unless the model comes from it."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import srop_onnx

os.environ.setdefault("KERAS_BACKEND", "torch")
torch = pytest.importorskip("torch", reason="needs the test frameworks: pip install -e '.[frameworks]'")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 8 * 8, 3))


@pytest.fixture
def images(rng):
    return rng.standard_normal((6, 1, 16, 16)).astype(np.float32)


def test_a_torch_module_is_exported_in_eval_mode_and_its_training_mode_restored(images, tmp_path):
    import io

    net = _net().train()
    example = torch.zeros(2, 1, 16, 16)
    with srop_onnx.Tracker(tmp_path / "out", images) as tk:
        prof = tk.add(0, net, example=example)
    assert net.training  # restored
    buf = io.BytesIO()  # the same export, made here: the profile equals analyze's on it
    net.eval()
    with torch.no_grad():
        torch.onnx.export(net, (example,), buf, dynamo=False, opset_version=17, input_names=["input"],
                          dynamic_axes={"input": {0: "batch"}})
    alone = srop_onnx.analyze(buf.getvalue(), images)
    assert [lay.name for lay in prof.layers] == ["0", "2", "3"]
    assert prof.to_dict()["layers"] == alone.to_dict()["layers"]
    assert srop_onnx.Track.load(tmp_path / "out").index["exporter"].startswith("torch.onnx.export")
    net.train()
    by_default = srop_onnx.Tracker(None, images).add(0, net)  # exported from the inputs' first sample
    assert by_default.to_dict()["layers"] == prof.to_dict()["layers"] and net.training
    files = tmp_path / "files"
    files.mkdir()
    np.save(files / "x.npy", images)
    with pytest.raises(srop_onnx.UsageError, match="needs an example input"):
        srop_onnx.Tracker(None, files).add(0, net)  # files are read for an ONNX model that is not there yet


def test_a_track_never_mixes_exporters(images, tmp_path):
    net = _net()
    tk = srop_onnx.Tracker(tmp_path / "out", images)
    tk.add(0, net, example=torch.zeros(1, 1, 16, 16))
    import io

    buf = io.BytesIO()
    torch.onnx.export(net.eval(), (torch.zeros(1, 1, 16, 16),), buf, dynamo=False, input_names=["input"],
                      dynamic_axes={"input": {0: "batch"}})
    with pytest.raises(srop_onnx.UsageError, match="one track never mixes exporters"):
        tk.add(1, buf.getvalue())


def test_a_torch_training_loop_tracks_every_epoch(images, tmp_path):
    net, opt = _net(), None
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.randn(32, 1, 16, 16), torch.randint(0, 3, (32,))
    with srop_onnx.Tracker(tmp_path / "out", images, tensorboard=tmp_path / "tb") as tk:
        tk.add(0, net, example=x[:1])
        for epoch in range(1, 3):
            loss = torch.nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tk.add(epoch, net, example=x[:1])
    tr = srop_onnx.Track.load(tmp_path / "out")
    assert tr.steps == [0, 1, 2] and len({p.model["sha256"] for p in tr.profiles}) == 3
    assert any((tmp_path / "tb").iterdir())


def _lightning_model():
    L = pytest.importorskip("lightning.pytorch", reason="needs the test frameworks: pip install -e '.[frameworks]'")

    class Model(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = _net()
            self.example_input_array = torch.zeros(1, 1, 16, 16)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, _i):
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 1, 16, 16), torch.randint(0, 3, (16,)))
    return L, Model, torch.utils.data.DataLoader(data, batch_size=8)  # 2 optimizer steps an epoch


def _trainer(L, epochs, callbacks, logger=None, checkpoints=None):
    return L.Trainer(max_epochs=epochs, callbacks=callbacks, logger=logger or False, enable_progress_bar=False,
                     enable_model_summary=False, enable_checkpointing=checkpoints is not None,
                     default_root_dir=str(checkpoints) if checkpoints else None, accelerator="cpu", devices=1)


def test_lightning_callback_tracks_on_rank_zero_and_logs_through_the_logger(images, tmp_path):
    L, Model, loader = _lightning_model()
    from lightning.pytorch.loggers import CSVLogger

    from srop_onnx.integrations.lightning import SropCallback

    logger = CSVLogger(str(tmp_path / "logs"))
    cb = SropCallback(tmp_path / "out", images, every=1)
    _trainer(L, 2, [cb], logger).fit(Model(), loader)
    track = srop_onnx.Track.load(tmp_path / "out")
    assert track.steps == [0, 2, 4]  # the trainer's global_step
    # Issue 37: the trainer's logged numbers are kept with each step (none yet at step 0)
    loss = track.metrics()["train_loss"]
    assert np.isnan(loss[0]) and np.all(np.isfinite(loss[1:])) and loss[1] != loss[2]
    rows = (tmp_path / "logs" / "lightning_logs" / "version_0" / "metrics.csv").read_text().splitlines()
    assert "srop/mean/net.0" in rows[0]
    head = rows[0].split(",")
    step, srop = head.index("step"), head.index("srop/mean/net.0")
    assert sorted({int(r.split(",")[step]) for r in rows[1:] if r.split(",")[srop]}) == [0, 2, 4]  # at those steps


def test_a_resumed_lightning_fit_continues_the_track(images, tmp_path):
    """Issue 37 item 1: ``trainer.fit(..., ckpt_path=...)`` continues at the restored step: no
    "holds another model at step 0", and the restored weights are never recorded as step 0."""
    L, Model, loader = _lightning_model()
    from srop_onnx.integrations.lightning import SropCallback

    _trainer(L, 2, [SropCallback(tmp_path / "out", images)], checkpoints=tmp_path / "ck").fit(Model(), loader)
    ckpt = next((tmp_path / "ck").rglob("*.ckpt"))
    _trainer(L, 4, [SropCallback(tmp_path / "out", images)]).fit(Model(), loader, ckpt_path=str(ckpt))
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 2, 4, 6, 8]
    fresh = tmp_path / "fresh"  # into a fresh folder: the resumed run starts at its own step, not at 0
    _trainer(L, 3, [SropCallback(fresh, images)]).fit(Model(), loader, ckpt_path=str(ckpt))
    assert srop_onnx.Track.load(fresh).steps == [4, 6]


def test_lightning_every_n_steps(images, tmp_path):
    L, Model, loader = _lightning_model()
    from srop_onnx.integrations.lightning import SropCallback

    _trainer(L, 2, [SropCallback(tmp_path / "out", images, every_n_epochs=None, every_n_steps=3)]).fit(Model(), loader)
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 3, 4]  # every 3 steps, and the last epoch


def test_keras_callback_tracks_fit_and_adds_the_means_to_the_logs(tmp_path, rng):
    keras = pytest.importorskip("keras", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    if keras.backend.backend() != "torch":
        pytest.skip("this test runs Keras 3 on its PyTorch backend")
    from srop_onnx.integrations.keras import SropCallback

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_b")(x)
    model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))
    model.compile("adam", "sparse_categorical_crossentropy")
    images = rng.standard_normal((6, 16, 16, 1)).astype(np.float32)
    cb = SropCallback(tmp_path / "out", images, every=1)
    history = model.fit(rng.random((16, 16, 16, 1)).astype("float32"), rng.integers(0, 3, 16), epochs=2, verbose=0,
                        callbacks=[cb])
    tr = srop_onnx.Track.load(tmp_path / "out")
    assert tr.steps == [0, 1, 2] and tr.layer_names == ["conv_a", "pool", "conv_b"]  # the Keras layers' own names
    assert tr.index["exporter"].startswith("keras")
    assert history.history["srop/mean/conv_b"] == [cb.profiles[e].layer("conv_b").summary("band").mean for e in (1, 2)]
    assert tr.metrics()["loss"][1:].tolist() == history.history["loss"]  # Issue 37: the epoch's logs kept
    # Issue 37 item 2: a second fit (fine-tuning) continues the track at the optimizer's step
    x, y = rng.random((32, 16, 16, 1)).astype("float32"), rng.integers(0, 3, 32)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[SropCallback(tmp_path / "out", images)])
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 1, 2, 4, 6]
    # the validation set as Keras holds it, (x_val, y_val): every step records each sample's class
    labels = np.array([0, 2, 1, 0, 1, 2])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[SropCallback(tmp_path / "val", (images, labels))])
    assert [p.labels for p in srop_onnx.Track.load(tmp_path / "val").profiles] == [["0", "2", "1", "0", "1", "2"]] * 2


def test_no_framework_is_imported_unless_the_model_comes_from_it(tmp_path):
    code = ("import sys, numpy as np, onnx, srop_onnx\n"
            "from onnx import helper, TensorProto, numpy_helper\n"
            "w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), 'w')\n"
            "g = helper.make_graph([helper.make_node('Conv', ['x', 'w'], ['y'], name='c', pads=[1, 1, 1, 1])], 'g',\n"
            "    [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 1, 16, 16])],\n"
            "    [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)], [w])\n"
            "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 17)], ir_version=10)\n"
            "srop_onnx.Tracker(None, np.ones((2, 1, 16, 16), np.float32)).add(0, m)\n"
            "print(','.join(k for k in ('torch', 'keras', 'tensorflow', 'lightning') if k in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_inputs_may_be_a_framework_tensor(images, tmp_path):
    """Issue 37 item 6: ``Tracker(None, x_tensor)`` with a torch tensor (with grad) works as its array."""
    import numpy as np

    import srop_onnx

    x = torch.rand(3, 1, 16, 16, requires_grad=True)
    net = _net().eval()
    with_tensor = srop_onnx.Tracker(None, x).add(0, net, example=x[:1].detach())
    with_array = srop_onnx.Tracker(None, x.detach().numpy()).add(0, net, example=x[:1].detach())
    assert with_tensor.analyzed == 3
    assert [lay.stats.histogram.tolist() for lay in with_tensor.layers] == \
        [lay.stats.histogram.tolist() for lay in with_array.layers]
    assert isinstance(np.asarray(x.detach()), np.ndarray)


def test_a_keras_model_never_called_is_called_once_and_tracked(tmp_path, rng):
    """Issue 37 item 3 (on the PyTorch backend here): a model built with ``keras.Input`` and never
    called is called once on zeros shaped like its input, then exported; its pool keeps its name."""
    keras = pytest.importorskip("keras", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    inp = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    model = keras.Model(inp, keras.layers.Conv2D(4, 3, padding="same", name="conv_b")(x))
    profile = srop_onnx.Tracker(None, rng.random((4, 16, 16, 1), dtype=np.float32)).add(0, model)
    assert [lay.name for lay in profile.layers] == ["conv_a", "pool", "conv_b"]


def test_exports_leave_no_tracer_or_deprecation_warning_in_the_training_log(images, tmp_path):
    """Issue 37 item 7: three TracerWarnings per epoch (and the legacy exporter's notice) were in
    every training log."""
    import warnings

    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)

        def forward(self, x):
            if x.shape[1] != 1:  # a Python if on a traced value: a TracerWarning when exported
                raise ValueError("one channel")
            return self.conv(x)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with srop_onnx.Tracker(None, images) as tk:
            tk.add(0, Branchy(), example=torch.zeros(1, 1, 16, 16))
    assert [str(w.message)[:80] for w in caught] == []


KERAS_TF_SCRIPT = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras, srop_onnx
from srop_onnx.integrations.keras import SropCallback
assert keras.backend.backend() == "tensorflow"
keras.utils.set_random_seed(0)
inp = keras.Input((16, 16, 1), name="image")  # built, never called before the first fit
x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(inp)
x = keras.layers.MaxPooling2D(2, name="pool")(x)
x = keras.layers.Conv2D(4, 3, padding="same", name="conv_b")(x)
model = keras.Model(inp, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x)))
model.compile("adam", "sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
images = rng.standard_normal((6, 16, 16, 1)).astype(np.float32)
x, y = rng.random((16, 16, 16, 1)).astype("float32"), rng.integers(0, 3, 16)
model.fit(x, y, epochs=2, verbose=0, callbacks=[SropCallback(sys.argv[1], images)])
model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[SropCallback(sys.argv[1], images)])
t = srop_onnx.Track.load(sys.argv[1])
print("RESULT", t.steps, t.layer_names, t.index["exporter"], sorted(t.metrics()))
"""


def test_keras_on_the_tensorflow_backend_tracks_an_uncalled_model_fitted_twice(tmp_path):
    """Issue 37 item 3: on TensorFlow, a never-called model failed at step 0, and step 1 was refused
    as "another architecture (other op types (Add))": the initial zero biases were folded away."""
    pytest.importorskip("tensorflow", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    pytest.importorskip("tf2onnx", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    script = tmp_path / "fit.py"
    script.write_text(KERAS_TF_SCRIPT)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("RESULT"))
    assert line == ("RESULT [0, 1, 2, 4] ['conv_a', 'pool', 'conv_b'] keras Model.export(format='onnx') "
                    "['loss']")

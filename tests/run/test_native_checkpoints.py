"""Issue 37: ``srop-onnx track`` over a framework's own checkpoints - PyTorch state dicts, Lightning
``.ckpt`` files and ``.keras`` files - given how to build the network. The export is the Tracker's,
so a track over ``.pt`` files equals the track over their ONNX exports."""

from __future__ import annotations


import numpy as np
import pytest
from click.testing import CliRunner

import srop_onnx
from srop_onnx.cli import main

torch = pytest.importorskip("torch", reason="needs the test frameworks: pip install -e '.[frameworks]'")

NETS = '''
import torch


def make_net():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 8 * 8, 3))


def make_other():
    return torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1))
'''


@pytest.fixture
def factory(tmp_path, monkeypatch):
    """``nets.py`` in the working folder (as a user's module beside their checkpoints)."""
    (tmp_path / "nets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    import nets

    return importlib.reload(nets)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_track_over_state_dicts_equals_the_track_over_their_onnx_exports(factory, tmp_path, rng):
    from srop_onnx.model.frameworks import to_onnx

    (tmp_path / "pt").mkdir()
    (tmp_path / "onnx").mkdir()
    example = torch.zeros(1, 1, 16, 16)
    for epoch in (0, 3, 7):
        torch.manual_seed(epoch)
        net = factory.make_net()
        torch.save(net.state_dict(), tmp_path / "pt" / f"epoch_{epoch}.pt")
        data, _ = to_onnx(net, example)
        (tmp_path / "onnx" / f"epoch_{epoch}.onnx").write_bytes(data)
    np.save(tmp_path / "x.npy", rng.standard_normal((5, 1, 16, 16)).astype(np.float32))
    res = run("track", tmp_path / "pt", "--inputs", tmp_path / "x.npy", "-o", tmp_path / "from-pt", "--model-factory",
              "nets:make_net", "--example-shape", "1,1,16,16", "-q")
    assert res.exit_code == 0, res.output
    res = run("track", tmp_path / "onnx", "--inputs", tmp_path / "x.npy", "-o", tmp_path / "from-onnx", "-q")
    assert res.exit_code == 0, res.output
    a, b = srop_onnx.Track.load(tmp_path / "from-pt"), srop_onnx.Track.load(tmp_path / "from-onnx")
    assert a.steps == b.steps == [0, 3, 7]
    assert a.index["exporter"].startswith("torch.onnx.export")  # the Tracker's own export, recorded
    for pa, pb in zip(a.profiles, b.profiles):
        assert pa.model["sha256"] == pb.model["sha256"]  # the same bytes
        assert pa.model["path"].endswith(".pt")  # named after its checkpoint
        assert [lay.to_dict("band") for lay in pa.layers] == [lay.to_dict("band") for lay in pb.layers]


def test_lightning_checkpoints_load_into_the_module_class(factory, tmp_path, rng):
    L = pytest.importorskip("lightning.pytorch", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    (tmp_path / "litnet.py").write_text(NETS + '''

import lightning.pytorch as L


class Lit(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = make_net()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _i):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)
''')
    import litnet

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(16, 1, 16, 16), torch.randint(0, 3, (16,)))
    trainer = L.Trainer(max_epochs=2, default_root_dir=str(tmp_path / "run"), logger=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1,
                        callbacks=[L.callbacks.ModelCheckpoint(dirpath=str(tmp_path / "ck"), save_top_k=-1)])
    trainer.fit(litnet.Lit(), torch.utils.data.DataLoader(data, batch_size=8))
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch=0-step=2.ckpt", "epoch=1-step=4.ckpt"]
    x = rng.standard_normal((3, 1, 16, 16)).astype(np.float32)
    track = srop_onnx.track(tmp_path / "ck", x, tmp_path / "out", model_factory="litnet:Lit",
                            example=torch.zeros(1, 1, 16, 16))
    assert track.steps == [2, 4]  # the global step in Lightning's file names
    assert track.layer_names == ["net.0", "net.2", "net.3"]


def test_keras_files_need_no_factory(tmp_path, rng):
    keras = pytest.importorskip("keras", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    if keras.backend.backend() != "torch":
        pytest.skip("this test runs Keras 3 on its PyTorch backend")
    for epoch in (1, 2):
        keras.utils.set_random_seed(epoch)
        inp = keras.Input((16, 16, 1), name="image")
        x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
        model = keras.Model(inp, keras.layers.MaxPooling2D(2, name="pool")(x))
        model(np.zeros((1, 16, 16, 1), np.float32))
        model.save(tmp_path / f"e{epoch}.keras")
    x = rng.standard_normal((3, 16, 16, 1)).astype(np.float32)
    track = srop_onnx.track([tmp_path / "e1.keras", tmp_path / "e2.keras"], x, None)
    assert track.steps == [1, 2] and track.index["exporter"].startswith("keras")


@pytest.mark.parametrize("args, message", [
    ((), "holds weights, not the network; give --model-factory module:function"),
    (("--model-factory", "nets"), "give module:function"),
    (("--model-factory", "nowhere:make"), "cannot import nowhere"),
    (("--model-factory", "nets:missing"), "nets has no missing"),
    (("--model-factory", "nets:make_other", "--example-shape", "1,1,16,16"), "its weights do not fit the network"),
    (("--model-factory", "nets:make_net"), "give --example-shape N,C,H,W"),
    (("--model-factory", "nets:make_net", "--example-shape", "1,a"), "--example-shape '1,a'"),
])
def test_native_checkpoints_without_what_they_need_are_one_line(factory, tmp_path, rng, args, message):
    torch.save(factory.make_net().state_dict(), tmp_path / "e1.pt")
    np.save(tmp_path / "x.npy", rng.standard_normal((2, 1, 16, 16)).astype(np.float32))
    res = run("track", tmp_path / "e1.pt", "--inputs", tmp_path / "x.npy", "-o", tmp_path / "out", *args)
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()

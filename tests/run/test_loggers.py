"""Issue 37: the loggers people already use, against the real backends running here - an MLflow
tracking server (sqlite store) started on 127.0.0.1 and a free port by a fixture, and W&B in
offline mode, its run file read back record by record - and a Hugging Face ``Trainer`` with a
randomly initialised ResNet (nothing downloaded). The numbers they hold are the track's own."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import onnx
import pytest

import srop_onnx
from srop_onnx import UsageError

from conftest import EXAMPLE_IMAGES
from s3server import free_port, stop
from test_tracking import _model


@pytest.fixture
def steps(tmp_path, rng):
    """Three checkpoints of one model and the inputs they are measured on."""
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for e in (0, 1, 2):
        onnx.save(_model(e), str(folder / f"e{e}.onnx"))
    return sorted(folder.glob("*.onnx")), rng.standard_normal((4, 2, 16, 16)).astype(np.float32)


@pytest.fixture
def mlflow_server(tmp_path):
    """``mlflow server`` on 127.0.0.1 and a free port, sqlite store, artifacts in tmp_path; stopped after."""
    pytest.importorskip("mlflow", reason="needs the test servers: pip install -e '.[servers]'")
    port = free_port()
    log = open(tmp_path / "mlflow.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination",
                             (tmp_path / "artifacts").as_uri(), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("mlflow server did not start: " + (tmp_path / "mlflow.log").read_text()[-2000:])
            time.sleep(0.3)
        yield uri
    finally:
        stop(proc, 20)
        log.close()


def test_mlflow_holds_the_tracks_numbers_at_its_steps_and_the_track_as_artifacts(mlflow_server, steps, tmp_path,
                                                                                  monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    from srop_onnx.integrations.mlflow import MlflowLogger

    models, x = steps
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    with mlflow.start_run() as run:
        with srop_onnx.Tracker(tmp_path / "out", x, loggers=[MlflowLogger()]) as tk:
            for step, model in zip((0, 10, 20), models):
                tk.add(step, model, metrics={"val_acc": step / 20})
    track = srop_onnx.Track.load(tmp_path / "out")
    client = MlflowClient(mlflow_server)
    means = track.means()
    for i, name in enumerate(track.layer_names):
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, f"srop/mean/{name}"))
        assert history == [(s, pytest.approx(v, abs=1e-12)) for s, v in zip(track.steps, means[i])]
    thirds = client.get_metric_history(run.info.run_id, "srop/third/deep")
    assert sorted(m.step for m in thirds) == [0, 10, 20]
    got = client.download_artifacts(run.info.run_id, "srop-track", str(tmp_path / "down"))
    assert sorted(p.name for p in Path(got).iterdir()) == ["profiles", "track.json"]  # no lock file
    assert srop_onnx.Track.load(got).index["steps"] == track.index["steps"]
    assert (Path(got) / "profiles" / "step-00000020.json").read_bytes() == \
        (tmp_path / "out" / "profiles" / "step-00000020.json").read_bytes()


def test_mlflow_without_a_run_is_one_line(steps, tmp_path):
    pytest.importorskip("mlflow", reason="needs the test servers: pip install -e '.[servers]'")
    from srop_onnx.integrations.mlflow import MlflowLogger, metric_key

    models, x = steps
    tk = srop_onnx.Tracker(None, x, loggers=[MlflowLogger(tracking_uri="http://127.0.0.1:9")])  # never reached
    with pytest.raises(UsageError, match="no MLflow run is active; start one"):
        tk.add(0, models[0])
    assert metric_key("srop/mean/onnx::Conv_12") == "srop/mean/onnx__Conv_12"


def _wandb_records(path: Path) -> list:
    """The records of a W&B run file (LevelDB-log chunks after a 7-byte ':W&B' header, each chunk a
    7-byte header - crc32, length, type - and its bytes; blocks of 32 KiB): W&B's protobufs."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, parts, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:
            pos += left
            continue
        parts += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(parts)
            out.append(rec)
            parts = b""
    return out


def test_wandb_offline_run_holds_the_scalars_and_exact_histograms_at_the_steps(steps, tmp_path, monkeypatch):
    wandb = pytest.importorskip("wandb", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    import json

    from srop_onnx.integrations.wandb import WandbLogger

    models, x = steps
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = wandb.init(project="srop-test", dir=str(tmp_path))
    try:
        with srop_onnx.Tracker(tmp_path / "out", x, loggers=[WandbLogger()]) as tk:
            for step, model in zip((0, 5, 9), models):
                tk.add(step, model)
    finally:
        run.finish()
        wandb.teardown()  # the W&B service has written and closed the run file
    track = srop_onnx.Track.load(tmp_path / "out")
    records = _wandb_records(next((tmp_path / "wandb").glob("offline-run-*/run-*.wandb")))
    history = {}
    for rec in records:
        if rec.WhichOneof("record_type") == "history":
            items: dict = {}
            for i in rec.history.item:  # a histogram comes as (name, "values"), (name, "bins"), ...
                keys = list(i.nested_key) or [i.key]
                target = items.setdefault(keys[0], {}) if len(keys) > 1 else items
                target[keys[-1]] = json.loads(i.value_json)
            history[int(rec.history.step.num)] = items
    assert sorted(history) == [0, 5, 9]
    for j, step in enumerate(track.steps):
        lay = track.profiles[j].layer("c2")
        assert history[step]["srop/mean/c2"] == pytest.approx(lay.summary("band").mean, abs=1e-12)
        hist = history[step]["srop/hist/c2"]
        assert hist["values"] == lay.stats.histogram.tolist()  # exact counts, one bucket per roll-off bin
        m = lay.stats.m
        assert hist["bins"] == pytest.approx([(k - 1) / m for k in range(m + 2)])  # bucket k ends at k / m
    artifacts = [r for r in records if r.WhichOneof("record_type") == "artifact"]
    assert artifacts and artifacts[-1].artifact.type == "srop-track"


def test_wandb_buckets_are_added_in_pairs_past_512():
    pytest.importorskip("wandb", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    from srop_onnx.integrations.wandb import fit_buckets

    counts = np.arange(700)
    edges = (np.arange(701) - 1.0) / 699
    c, e = fit_buckets(counts, edges)
    assert c.size == 350 and e.size == 351 and c.sum() == counts.sum() and (e[0], e[-1]) == (edges[0], edges[-1])
    c2, e2 = fit_buckets(counts[:300], edges[:301])
    assert c2.size == 300 and np.array_equal(e2, edges[:301])


def test_a_missing_logger_library_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "wandb", None)
    from srop_onnx.integrations.mlflow import MlflowLogger
    from srop_onnx.integrations.wandb import WandbLogger

    with pytest.raises(UsageError, match=r"pip install 'srop-onnx\[mlflow\]'"):
        MlflowLogger()
    with pytest.raises(UsageError, match=r"pip install 'srop-onnx\[wandb\]'"):
        WandbLogger()
    with pytest.raises(UsageError, match="has no log_step and log_track methods"):
        srop_onnx.Tracker(None, np.zeros((1, 2, 16, 16), np.float32), loggers=[object()])


def _hf_callback():
    """The callback class, where transformers is installed (its module refuses to import without it)."""
    pytest.importorskip("transformers", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    from srop_onnx.integrations.huggingface import SropCallback

    return SropCallback


def _hf_parts(tmp_path):
    transformers = pytest.importorskip("transformers", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    torch = pytest.importorskip("torch")
    pytest.importorskip("accelerate", reason="needs the test frameworks: pip install -e '.[frameworks]'")

    torch.manual_seed(0)
    config = transformers.ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                       num_labels=3)

    class Data(torch.utils.data.Dataset):
        def __init__(self):
            self.x = torch.randn(16, 3, 32, 32, generator=torch.Generator().manual_seed(1))
            self.y = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(2))

        def __len__(self):
            return 16

        def __getitem__(self, i):
            return {"pixel_values": self.x[i], "labels": self.y[i]}

    def trainer(model, epochs, callbacks, save="no"):
        args = transformers.TrainingArguments(output_dir=str(tmp_path / "hf"), num_train_epochs=epochs,
                                              per_device_train_batch_size=8, logging_steps=1, save_strategy=save,
                                              report_to=[], use_cpu=True, disable_tqdm=True, seed=0)
        return transformers.Trainer(model=model, args=args, train_dataset=Data(), callbacks=callbacks)

    return transformers.ResNetForImageClassification(config), trainer


def test_a_hugging_face_trainer_tracks_at_its_global_steps_with_its_logged_loss(tmp_path, rng):
    SropCallback = _hf_callback()

    model, trainer = _hf_parts(tmp_path)
    val = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    trainer(model, 2, [SropCallback(tmp_path / "out", val)]).train()
    track = srop_onnx.Track.load(tmp_path / "out")
    assert track.steps == [0, 2, 4]  # the trainer's global_step: two optimizer steps an epoch
    assert track.index["exporter"].startswith("torch")
    loss = track.metrics()["loss"]
    assert np.isnan(loss[0]) and np.all(np.isfinite(loss[1:]))
    assert model.training  # its training mode was restored after each export
    assert len(track.profiles[-1].layers) >= 4 and track.means().shape == (len(track.layer_names), 3)


def test_a_resumed_hugging_face_run_continues_the_track(tmp_path, rng):
    SropCallback = _hf_callback()

    model, trainer = _hf_parts(tmp_path)
    val = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    trainer(model, 1, [SropCallback(tmp_path / "out", val)], save="epoch").train()
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 2]
    again, _ = _hf_parts(tmp_path)
    trainer(again, 2, [SropCallback(tmp_path / "out", val)]).train(resume_from_checkpoint=True)
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 2, 4]


def test_a_hugging_face_callback_takes_a_validation_set_as_the_trainer_does(tmp_path, rng):
    """Rows as a ``datasets`` split gives them (``pixel_values`` and ``labels``): no example= needed;
    image files need one, said in one line."""
    SropCallback = _hf_callback()

    torch = pytest.importorskip("torch")
    model, trainer = _hf_parts(tmp_path)
    x = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    rows = [{"pixel_values": torch.from_numpy(x[i]), "labels": i % 3} for i in range(4)]
    trainer(model, 1, [SropCallback(tmp_path / "out", rows)]).train()
    track = srop_onnx.Track.load(tmp_path / "out")
    assert track.steps == [0, 2] and track.profiles[0].sources == [f"array[{i}]" for i in range(4)]
    other, trainer = _hf_parts(tmp_path)
    with pytest.raises(srop_onnx.UsageError, match=r"SropCallback: give example= \(one input batch"):
        trainer(other, 1, [SropCallback(tmp_path / "files", EXAMPLE_IMAGES)]).train()

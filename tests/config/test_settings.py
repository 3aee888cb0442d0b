"""The two values of a run (issue 16): what is measured, how it runs; one settings comparison."""

from __future__ import annotations

import pytest

from srop_onnx import UsageError
from srop_onnx.config.settings import Execution, Hooks, Measurement, describe_differences, settings_differences


def test_measurement_validates_once_with_one_line_errors():
    with pytest.raises(UsageError, match=r"^kappa must be in \(0, 1\]"):
        Measurement(kappa=1.5)
    with pytest.raises(UsageError, match="^units must be 'band' or 'input'"):
        Measurement(units="hz")
    with pytest.raises(UsageError, match="^layers: invalid regular expression"):
        Measurement(layers="(")
    with pytest.raises(UsageError, match="^layout must be one of NCHW, NHWC, NCL, NLC, NHW, NL, NCDHW"):
        Measurement(layout="CHW")
    with pytest.raises(UsageError, match="^preprocess must be one of"):
        Measurement(preprocess="torch")
    with pytest.raises(UsageError, match=r"^std values must be > 0"):
        Measurement(std=(0.5, 0.0, 0.5))
    with pytest.raises(UsageError, match="^mean expects finite numbers"):
        Measurement(mean=(float("nan"),))
    m = Measurement(layout="nhwc", ops=["Conv"], kappa="0.9")
    assert (m.layout, m.ops, m.kappa) == ("NHWC", ("Conv",), 0.9)
    with pytest.raises(Exception):
        m.kappa = 0.5  # frozen


def test_execution_validates_combinations():
    with pytest.raises(UsageError, match="^batch_size must be from 1 to"):
        Execution(batch_size=0)
    with pytest.raises(UsageError, match="^batch_size must be a number"):
        Execution(batch_size="big")
    with pytest.raises(UsageError, match="^limit and shard cannot be combined"):
        Execution(limit=3, shard=(1, 2))
    with pytest.raises(UsageError, match="^keep_bins cannot be combined with checkpoint"):
        Execution(keep_bins=True, checkpoint="c.ckpt")
    with pytest.raises(UsageError, match="^provider must be one of"):
        Execution(provider="tpu")
    with pytest.raises(UsageError, match=r"^shard=\(3, 2\): need 1 <= I <= N"):
        Execution(shard=(3, 2))
    assert Execution(batch_size="AUTO").auto_batch and Execution(batch_size="4").batch_size == 4
    assert Execution().batch_size is None  # the device decides (8 on the CPU, auto on CUDA)


def test_settings_record_what_is_measured():
    s = Measurement(kappa=0.9, all_tensors=True, tf32=True).settings({"preset": "unit"})
    assert s == {"kappa": 0.9, "units": "band", "taps": "all", "layers": None, "preprocess": {"preset": "unit"},
                 "tf32": True}
    assert Measurement().settings(None)["taps"][0] == "Conv"


def test_one_comparison_of_settings_with_defaults_for_old_profiles():
    new = Measurement().settings(None)
    old = {k: v for k, v in new.items() if k != "tf32"}  # a profile written before --tf32 existed
    assert settings_differences(new, old) == []
    tf32 = Measurement(tf32=True).settings(None)
    assert settings_differences(new, tf32) == [("tf32", False, True)]
    units = Measurement(units="input").settings(None)
    assert settings_differences(new, units, ignore=("units",)) == []
    assert [k for k, _, _ in settings_differences(new, units)] == ["units"]
    assert describe_differences([("kappa", 0.85, 0.9)]) == "kappa: 0.85 vs 0.9"
    # run keys never count
    assert settings_differences({**new, "provider": "CUDAExecutionProvider", "batch_size": 64}, new) == []


def test_hooks_default_to_silence():
    h = Hooks(notify=None)
    assert h.notify("anything") is None and h.progress is None


def test_keyword_options_split_into_the_values():
    from srop_onnx.run.analysis import split_options

    m, how, hooks = split_options({"kappa": 0.9, "provider": "cpu", "notify": print})
    assert (m.kappa, how.provider, hooks.notify) == (0.9, "cpu", print)
    with pytest.raises(TypeError, match="kapa"):
        split_options({"kapa": 0.9})


def test_python_takes_the_command_line_s_text_for_sizes_shards_and_memory():
    """``size="224x320"``, ``shard="2/7"``, ``max_memory="2GB"`` mean what the options mean."""
    assert Measurement(size="224x320").size == (224, 320) == Measurement(size=[224, 320]).size
    assert Measurement(size="64").size == (64, 64)
    assert Execution(shard="2/7").shard == (2, 7) == Execution(shard=(2, 7)).shard
    assert Execution(max_memory="2GB").max_memory == 2_000_000_000
    assert Execution(memory_budget="512MiB").memory_budget == 512 * 2**20
    with pytest.raises(UsageError, match=r"^size must look like 224 or 224x320 \(H x W\), got 'big'"):
        Measurement(size="big")
    with pytest.raises(UsageError, match=r"^size must be H x W with both sides >= 2, got \('a', 'b'\)"):
        Measurement(size=("a", "b"))
    with pytest.raises(UsageError, match=r"^shard must look like I/N \(e.g. 2/7\), got 'x'"):
        Execution(shard="x")
    with pytest.raises(UsageError, match=r"^max_memory must look like 2GB, 512MiB or a number of bytes, got 'lots'"):
        Execution(max_memory="lots")


@pytest.mark.parametrize("cls, keyword, value", [
    (Measurement, "baseline", "no"), (Measurement, "tf32", None), (Execution, "strict", "yes"),
    (Execution, "keep_bins", 2), (Execution, "record_run", "False"), (Execution, "iobinding", "on"),
])
def test_switches_take_true_or_false_never_text(cls, keyword, value):
    """``baseline="no"`` is true to Python's bool(): a switch refuses what is not a truth value."""
    with pytest.raises(UsageError, match=rf"^{keyword} must be True or False"):
        cls(**{keyword: value})
    assert getattr(cls(**{keyword: 0}), keyword) is False and getattr(cls(**{keyword: True}), keyword) is True
    assert Execution(iobinding=None).iobinding is None

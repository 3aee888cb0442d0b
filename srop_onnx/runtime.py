"""ONNX Runtime execution: provider choice, session, batched runs of the tapped model.

The CUDA-specific parts (IOBinding to device buffers, CuPy views) live in
:mod:`srop_onnx.cuda`; this module only asks it whether CUDA is usable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DeviceError, ModelError, UsageError

__all__ = ["ProviderChoice", "choose_provider", "Runner"]

PROVIDERS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ProviderChoice:
    name: str  # the ONNX Runtime provider name
    note: str  # one line for the user


def choose_provider(requested: str = "auto") -> ProviderChoice:
    """Resolve ``auto|cpu|cuda`` to an ONNX Runtime provider, with a one-line reason."""
    requested = (requested or "auto").lower()
    if requested not in PROVIDERS:
        raise UsageError(f"--provider must be one of {', '.join(PROVIDERS)}, got {requested!r}")
    if requested == "cpu":
        return ProviderChoice("CPUExecutionProvider", "CPU (requested)")
    from .cuda import cuda_problem

    problem = cuda_problem()
    if problem is None:
        return ProviderChoice("CUDAExecutionProvider", "CUDA (onnxruntime-gpu and a GPU found)")
    if requested == "cuda":
        raise DeviceError(f"--provider cuda: {problem}")
    return ProviderChoice("CPUExecutionProvider", f"CPU ({problem})")


class Runner:
    """An ONNX Runtime session over a (rewritten) model, fed one input.

    Handles the batch dimension: dynamic batch dims take whole batches; a
    fixed batch of 1 is looped; a fixed batch B > 1 is padded with copies of
    the last sample and the padding dropped from the outputs.
    """

    def __init__(self, model: bytes, provider: ProviderChoice, spec, output_names: list[str], *,
                 external_folder: str | None = None, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if external_folder:
            # the graph comes from memory; its external weights stay in the model's folder
            opts.add_session_config_entry("session.model_external_initializers_file_folder_path", external_folder)
        if threads:
            opts.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(model, sess_options=opts, providers=[provider.name])
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime cannot load the model: {msg}") from exc
        self.provider = provider
        self.spec = spec
        self.output_names = list(output_names)
        self._extra_feeds = self._other_inputs()

    def _other_inputs(self) -> dict[str, np.ndarray]:
        """Zeros for other inputs with fully static shapes (rare: masks, flags)."""
        feeds = {}
        for inp in self.session.get_inputs():
            if inp.name == self.spec.name:
                continue
            shape = inp.shape
            if not all(isinstance(d, int) and d > 0 for d in shape):
                raise UsageError(
                    f"model input '{inp.name}' has dynamic shape {shape} and srop-onnx feeds only '{self.spec.name}'"
                )
            dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}.get(inp.type, np.float32)
            feeds[inp.name] = np.zeros(shape, dtype=dtype)
        return feeds

    @property
    def fixed_batch(self) -> int | None:
        d = self.session.get_inputs()[[i.name for i in self.session.get_inputs()].index(self.spec.name)].shape[0]
        return d if isinstance(d, int) and d > 0 else None

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs named in ``output_names`` for a batch ``(N, ...)``, on the host."""
        fixed = self.fixed_batch
        n = batch.shape[0]
        if fixed is None or fixed == n:
            return self._run(batch)
        parts = []
        for i in range(0, n, fixed):
            chunk = batch[i : i + fixed]
            real = chunk.shape[0]
            if real < fixed:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - real, axis=0)])
            out = self._run(chunk)
            parts.append({k: v[:real] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {self.spec.name: batch, **self._extra_feeds}
        try:
            outs = self.session.run(self.output_names, feeds)
        except Exception as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime failed on a batch of shape {tuple(batch.shape)}: {msg}") from exc
        return dict(zip(self.output_names, outs))

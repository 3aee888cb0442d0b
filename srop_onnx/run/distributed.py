"""Running shards as Ray tasks (optional extra ``ray``) and merging them on the driver.

Each task is exactly ``analyze(..., shard=(i, N))`` with its own ONNX Runtime
session (and a GPU when the provider is CUDA); the driver merges the partial
profiles with :func:`srop_onnx.results.merge.merge_profiles`, so the result equals one
run over all inputs. Ray does the scheduling; nothing here schedules.

The model and input paths must be readable from every worker (one machine,
or a shared file system on a cluster); they are sent as absolute paths, since a
worker of a running cluster works in a folder of its own. Inputs in a bucket (``s3://``)
are listed once by the driver, and each task gets its slice of the listing (URLs, keys,
sizes, ETags) and reads those objects with its own credentials (the standard chains of its
machine; no credential is ever part of a task's arguments). ``RAY_ADDRESS`` or
``address=`` picks an existing cluster, as Ray's own ``ray.init`` does; without
them a local Ray instance is started. A cluster started with ``ray start --head``
(Ray 2.5x and later) wants a token: ``RAY_AUTH_MODE=token`` and the token in
``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token`` (``--ray-address auto`` on a node of the
cluster finds both); a connection that fails says so in one line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

from ..config.settings import Hooks
from ..errors import SropError, UsageError, on_command_line, option, spell
from ..results.merge import merge_profiles
from ..results.profile import Profile

__all__ = ["analyze_ray", "ray_analysis"]


def _shard_task(model: str, inputs, shard: tuple[int, int], measure, how, storage: dict | None = None,
                parts: str | None = None, command_line: bool = False) -> dict:
    """One shard, on a worker: the driver's non-secret storage settings (an endpoint, a region; never a
    credential, which the worker takes from its own machine's chains), then the analysis; with
    ``parts``, the partial profile is kept there as soon as it is done. ``command_line``: the driver
    is a command, so the worker's messages (a skipped file's reason) spell its options as it does."""
    from dataclasses import replace

    from ..errors import spell_for_command_line
    from ..files.remote import set_storage_options
    from .analysis import run_analysis

    set_storage_options([f"{k}={v}" for k, v in (storage or {}).items()])
    before = on_command_line()  # a worker process runs many tasks, from drivers of both kinds
    spell_for_command_line(command_line)
    try:
        with _allotted_threads():
            part = run_analysis(model, inputs, measure, replace(how, shard=shard))
    finally:
        spell_for_command_line(before)
    if parts:
        from .parts import save_part

        save_part(parts, part)
    return part.to_dict()


@contextlib.contextmanager
def _allotted_threads():
    """A CPU task keeps to the CPUs Ray gave it (``num_cpus``): ``SROP_ONNX_THREADS`` is set to them
    for the task unless the user set it. Ray runs a task per CPU, and each would otherwise take
    every core of its node for its FFTs, decoders and ONNX Runtime. A GPU task keeps its node's
    cores to feed its GPU."""
    import ray

    try:
        given = ray.get_runtime_context().get_assigned_resources()
    except Exception:  # noqa: BLE001 - not in a task (called directly): nothing to keep to
        given = {}
    cpus = int(given.get("CPU", 0) or 0)
    if cpus < 1 or given.get("GPU") or os.environ.get("SROP_ONNX_THREADS"):
        yield
        return
    os.environ["SROP_ONNX_THREADS"] = str(cpus)
    try:
        yield
    finally:
        del os.environ["SROP_ONNX_THREADS"]


def _captured_stderr():
    """Ray's own C++ warnings go to file descriptor 2 while it tries to connect (one a second); they
    are kept aside and read back, so a failure is one line of ours that quotes Ray's reason."""
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def capture():
        import sys

        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as buf:
            os.dup2(buf.fileno(), 2)
            text: list[str] = []
            try:
                yield text
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                buf.seek(0)
                text.append(buf.read().decode("utf-8", "replace"))

    return capture()


def connect(ray, address: str | None) -> None:
    """``ray.init`` on ``address`` (else ``RAY_ADDRESS``, else a local instance), or one UsageError
    saying why the connection failed and how to connect (the address, the token)."""
    target = address or os.environ.get("RAY_ADDRESS")
    try:
        with _captured_stderr() as said:
            ray.init(address=target, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError, ray.exceptions.RayError) as exc:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0].split('. ')[0] if str(exc) else ''}"
        ray_said = " ".join(said).lower()
        if type(exc).__name__ == "AuthenticationError" and "no authentication token was found" in str(exc):
            hint = ("RAY_AUTH_MODE=token is set but no token was found: set RAY_AUTH_TOKEN (or copy the head node's "
                    "~/.ray/auth_token), or unset RAY_AUTH_MODE for a cluster without token authentication")
        elif "authentication" in ray_said or "auth" in str(exc).lower():
            hint = ("the cluster asks for a token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or copy the head "
                    f"node's ~/.ray/auth_token), or use {option('ray-address', 'auto')} on a node of the cluster")
        else:
            hint = ("check the address with 'ray status' on the head node (HOST:PORT of its GCS, default port "
                    "6379); a cluster with token authentication also needs RAY_AUTH_MODE=token and its token")
        raise UsageError(f"{option('ray-address')} {target or '(local)'}: cannot connect to the Ray cluster ({why}); {hint}") \
            from None


def _ray_engine() -> str:
    return "--engine ray" if on_command_line() else "analyze_ray"


def analyze_ray(model, inputs, *, shards: int | None = None, address: str | None = None,
                progress: Callable[[int, int], None] | None = None, parts: str | os.PathLike | None = None,
                **options) -> Profile:
    """:func:`srop_onnx.analyze` over Ray: ``shards`` tasks (default: the cluster's CPUs, or GPUs
    for CUDA), merged into one profile identical to a single run. ``parts`` (a folder or a bucket
    prefix) keeps each shard's partial profile as it finishes; a rerun runs only the shards whose
    part is missing or stale (:mod:`srop_onnx.run.parts`). ``options`` are
    :func:`srop_onnx.analyze`'s keywords (``storage_options`` and ``example`` too: a model may be a
    ``torch.nn.Module`` or a Keras model, exported here once and sent to every task)."""
    from ..files.remote import using_storage_options
    from .analysis import split_options
    from .progress import default_progress
    from .stages import exported

    for key in ("shard", "checkpoint", "limit", "notify"):
        if options.get(key) is not None:
            raise UsageError(f"{_ray_engine()} cannot be combined with {spell('--' + key)}")
    storage, example = options.pop("storage_options", None), options.pop("example", None)
    measure, how, _hooks = split_options({k: v for k, v in options.items() if k != "progress"})
    with using_storage_options(storage):
        model, inputs = exported(model, inputs, example, None, default_progress(progress))  # a notebook's bar
        return ray_analysis(model, inputs, measure, how, Hooks(progress), shards=shards,
                            address=address, parts=None if parts is None else str(parts))


def ray_analysis(model, inputs, measure, how, hooks: Hooks = Hooks(), *, shards: int | None = None,
                 address: str | None = None, parts: str | None = None) -> Profile:
    """:func:`analyze_ray` over the values of :mod:`srop_onnx.config.settings` (``how`` must not shard,
    checkpoint or limit: the tasks shard); ``hooks.progress`` counts shards, ``hooks.notify`` hears
    which parts are reused or stale."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"{_ray_engine()} needs Ray: pip install 'srop-onnx[ray]'") from None
    for key in ("shard", "checkpoint", "limit"):
        if getattr(how, key) is not None:
            raise UsageError(f"{_ray_engine()} cannot be combined with {spell('--' + key)}")
    if shards is not None and shards < 1:
        raise UsageError(f"{option('shards')} must be >= 1, got {shards}")
    inputs, how = _files_or_memory(inputs, parts, how, hooks.notify)
    if not ray.is_initialized():
        connect(ray, address)
    resources = ray.cluster_resources()
    gpu = how.provider == "cuda" or (how.provider == "auto" and resources.get("GPU", 0) >= 1)
    say = hooks.notify
    if parts is not None:
        from .parts import prepare_parts

        parts = prepare_parts(parts, [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))
        shards = _shard_count(parts, shards, say)
    n = shards or int(resources.get("GPU" if gpu else "CPU", 1)) or 1
    model, work = _task_model(model), _task_inputs(inputs, n, hooks.notify)
    kept: dict[int, Profile] = {}
    if parts is not None:
        from .parts import load_parts

        kept, notes = load_parts(parts, n, _expected(model, work, measure))
        for note in notes:
            say(note)
        if kept:
            say(f"{len(kept)} of {n} shards are already done in {parts}; running the other {n - len(kept)}")
    from ..files.remote import storage_options

    task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_shard_task)
    refs = {i: task.remote(model, work[i - 1], (i, n), measure, how, storage_options(), parts, on_command_line())
            for i in range(1, n + 1) if i not in kept}
    done, failed = _gather(ray, refs, hooks.progress, len(kept), n, keep_going=parts is not None)
    if failed is not None:
        index, error = failed
        if parts is not None:
            say(f"shard {index}/{n} failed; the {len(kept) + len(done)} finished shard(s) are kept in {parts}: "
                "the same command runs only the rest")
        named = _named_as_given(str(error), inputs) if isinstance(error, SropError) else str(error)
        raise (type(error)(named) if named != str(error) else error) from None
    merged = _merged(kept, done, inputs, n, say)
    merged.extra["engine"] = {"name": "ray", "shards": n, "gpu": bool(gpu)}
    if how.labels is not None:
        from ..config.labels import label_notes

        for note in label_notes(how.labels, merged.sources, merged.labels):
            say(note)
    return merged


def _files_or_memory(inputs, parts: str | None, how, notify) -> tuple:
    """``(inputs, how)``: the inputs as a run takes them (:func:`~srop_onnx.inputs.inputset.in_memory`;
    ``(path, label)`` pairs as their paths, their labels one per file in ``how``); parts are kept for
    runs over files only."""
    from dataclasses import replace

    from ..inputs.inputset import held_in_memory, in_memory, pair_paths

    inputs, labels, notes = pair_paths(in_memory(inputs), how.labels)
    for note in notes:
        notify(note)
    if parts is not None and held_in_memory(inputs):
        raise UsageError(f"{option('parts')} keeps the parts of a run over files; inputs in memory have nothing to resume")
    return inputs, replace(how, labels=labels)


def _shard_count(parts: str, shards: int | None, say) -> int | None:
    """Without ``--shards``, a rerun takes the shard count of the parts already there (the
    cluster's CPUs may have changed since: a lost node); with it, parts of another count are said
    to be left unused."""
    from .parts import part_counts

    counts = part_counts(parts)
    if shards is None and len(counts) == 1:
        (count, found), = counts.items()
        say(f"{parts} holds {found} part(s) of a run in {count} shards: running in {count} shards ({option('shards')})")
        return count
    others = sorted(c for c in counts if c != shards)
    if others:
        say(f"{parts} holds parts of a run in {', '.join(map(str, others))} shards, which "
            f"{option('shards', shards) if shards else 'this run'} does not use; give {option('shards', others[0])} "
            "to resume that run")
    return shards


def _task_model(model):
    """What every task loads: a path (absolute) or URL, or a model in memory as a LoadedModel (its
    weights inside, its name kept), pickled to the tasks."""
    from ..model.modelio import LoadedModel, as_loaded

    if isinstance(model, (str, os.PathLike)):
        return _where(model)
    return model if isinstance(model, LoadedModel) else as_loaded(model)


def _where(p):
    """A worker of a running cluster works in a folder of its own: local paths are sent absolute; a
    URL is a URL everywhere."""
    from ..files.lists import is_list_argument
    from ..files.remote import is_url

    if is_list_argument(p):  # @val.txt: the list, absolute (it is read here, once, with the listing)
        return str(p) if str(p) == "@-" else "@" + _where(str(p)[1:])
    return str(p) if is_url(str(p)) else os.path.abspath(p)


def _merged(kept: dict, done: dict, inputs, n: int, say) -> Profile:
    """The shards' profiles (``kept`` from earlier runs, ``done`` as the tasks sent them) as one,
    their skipped files said and named as the user gave them, as one run on this machine does (a
    worker's notes stay on its machine)."""
    found = dict(kept)
    found.update({i: Profile.from_dict(d, f"shard {i}/{n}") for i, d in done.items()})
    names = _given_names(inputs) if any(p.skipped_inputs for p in found.values()) else {}
    for i in sorted(found):
        found[i].skipped_inputs = [_skip_as_given(s, names) for s in found[i].skipped_inputs]
        for s in found[i].skipped_inputs:
            say(f"skipped: {s['reason']}")
    return merge_profiles([found[i] for i in range(1, n + 1)], [f"shard {i}/{n}" for i in range(1, n + 1)])


def _given_names(inputs) -> dict[str, str]:
    """Each local file the workers were sent, by its absolute path (see :func:`_where`), and the path a
    run on this machine names it by: its input argument's own words (``imgs/a.png``, an ``@list``'s
    entry as the run resolves it; ``@-``'s, kept from its one reading). Each argument is listed again
    for this, so only when a file was skipped; URLs (the same everywhere) are left out."""
    from ..files.lists import is_list_argument
    from ..files.remote import is_url
    from ..inputs.inputset import discover_keyed, held_in_memory

    if held_in_memory(inputs):
        return {}
    names: dict[str, str] = {}
    for arg in ([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)):
        text = str(arg)
        if is_url(text) or (is_list_argument(text) and is_url(text[1:])):
            continue
        for given, _key in discover_keyed([arg]):  # the workers got each file's absolute path
            names.setdefault(os.path.abspath(given), str(given))
    return names


def _skip_as_given(entry: dict, names: dict[str, str]) -> dict:
    """A skipped file's entry with its path as ``names`` gives it, there and wherever its reason names
    it (a decoder's own words quote the path it opened)."""
    path = str(entry.get("path", ""))
    name = names.get(path, path)
    return {**entry, "path": name, "reason": str(entry.get("reason", "")).replace(path, name)}


def _named_as_given(text: str, inputs) -> str:
    """A worker's message that starts with a file it was sent (``/abs/imgs/a.png: ...``) with that
    file, wherever it names it, as the input arguments name it (:func:`_given_names`); any other text
    as it is."""
    for sent, given in _given_names(inputs).items():
        if text == sent or text.startswith(sent + ":"):
            return text.replace(sent, given)
    return text


def _task_inputs(inputs, n: int, told=None) -> list:
    """Each task's inputs: an array goes whole (each task takes its rows); files and objects are
    listed once, here, and each task gets its slice of the listing."""
    from ..inputs.inputset import held_in_memory, shard_listings

    if held_in_memory(inputs):
        return [inputs] * n

    from dataclasses import replace

    paths = [_where(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    # a list on standard input (@-) is read here, once, and its relative entries are sent absolute too
    return [replace(part, entries=[(Path(os.path.abspath(f)) if isinstance(f, Path) else f, key)
                                   for f, key in part.entries]) for part in shard_listings(paths, n, told)]


def _expected(model: str, slices: list, measure):
    """What every part of this run must say of itself: the model planned here, once, over the whole
    listing (settings that depend on the inputs, such as the preprocessing, resolve as in a task)."""
    from .._version import version
    from ..inputs.inputset import Listing, open_inputs
    from .parts import Expected
    from .stages import load_stage, plan_model

    first = slices[0]
    whole = Listing([e for s in slices for e in s.entries], 0, first.total, first.list_digest, first.has_images,
                    first.first_audio)
    plan = plan_model(load_stage(model), measure, inputs=whole)
    inputs = open_inputs(whole, plan.spec, None)
    inputs.adopt_audio_rate(plan)
    return Expected(version(), plan.loaded.sha256, whole.list_digest, whole.total, inputs.settings(plan, measure))


def _gather(ray, refs: dict, progress, start: int, total: int, *, keep_going: bool):
    """``({shard: result}, (shard, error) or None)``: the tasks' results as they finish. The first
    failure stops the rest, unless ``keep_going`` (with ``--parts``, every shard that can finish
    keeps its part)."""
    index_of = {ref: i for i, ref in refs.items()}
    pending, results, failed, done = list(refs.values()), {}, None, start
    if progress:
        progress(done, total)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for ref in ready:
            try:
                results[index_of[ref]] = ray.get(ref)
            except ray.exceptions.RayError as exc:
                failed = failed or (index_of[ref], _task_error(exc, index_of[ref], total))
                if not keep_going:
                    for other in pending:
                        ray.cancel(other)
                    _settle(ray, pending)
                    return results, failed
            done += 1
            if progress:
                progress(done, total)
    return results, failed


def _settle(ray, refs: list, timeout: float = 30.0) -> None:
    """Wait (a bounded time) for the tasks stopped after a failure and take their outcomes: Ray
    prints every error nobody read ("Unhandled error ...", a traceback) when its reference goes,
    under the one-line error the user gets."""
    if not refs:
        return
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    for ref in ready:
        try:
            ray.get(ref, timeout=0)
        except Exception:  # noqa: BLE001 - cancelled or failed too: the first failure is the one told
            pass


def _task_error(exc, index: int, total: int) -> Exception:
    """The task's own error (a missing model, a bad input), not Ray's wrapping of it; a worker or
    node that died is one line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, Exception) and not type(exc).__name__.endswith(("WorkerCrashedError", "NodeDiedError")):
        return cause
    from ..errors import ResourceError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ResourceError(f"shard {index}/{total}: the Ray task did not finish, its worker or node was lost "
                         f"({type(exc).__name__}{': ' + first[:160] if first else ''}); workers killed for memory "
                         "are the usual cause: give them more memory or use more shards")

"""Merging partial profiles of shards into the profile of one run over all inputs.

Statistics merge by addition (docs/method.md), so the merged profile is exactly the
one a single run would give: histograms, counts and kernel sums added,
per-sample means concatenated in input order, the baseline recomputed from
the merged baseline histograms.
"""

from __future__ import annotations

import os
from typing import Sequence

from ..model.baseline import BaselineAccumulator
from ..errors import UsageError, nothing_usable, option
from .profile import LayerProfile, Profile
from ..config.settings import RUN_KEYS, describe_differences, settings_differences
from ..core.stats import LayerStats

__all__ = ["merge_profiles", "RUN_SETTINGS"]

#: settings that may differ between shards without changing any number
RUN_SETTINGS = RUN_KEYS


def _shard(p: Profile, where: str) -> dict:
    info = p.extra.get("shard")
    if not info:
        raise UsageError(f"{where}: not a partial profile (made without {option('shard', 'I/N', py='(I, N)')}); merge takes shard outputs")
    if not all(k in info for k in ("index", "count", "inputs", "slice", "list_digest")):
        raise UsageError(f"{where}: the partial profile does not say which inputs it covers (made by an older "
                         "srop-onnx?); re-run that shard")
    return info


def _check_proofs(parts: list[Profile], infos: list[dict], names: list[str]) -> None:
    """Every shard was cut from the same input list, covers the slice its index names, and holds
    what that slice held: no shard of another input set, no edited duplicate, no empty shard."""
    from ..inputs.inputset import shard_slice

    ref = infos[0]
    seen: dict[tuple, str] = {}
    for p, info, name in zip(parts, infos, names):
        if (info["list_digest"], info["inputs"]) != (ref["list_digest"], ref["inputs"]):
            raise UsageError(f"{name} was run over another input list than {names[0]}; merge one run's shards")
        part = shard_slice(int(info["inputs"]), (int(info["index"]), int(info["count"])))
        if list(info["slice"]) != [part.start, part.stop]:
            raise UsageError(f"{name}: its slice {info['slice']} is not shard {info['index']}/{info['count']} of "
                             f"{info['inputs']} inputs; the file was edited")
        if part.stop > part.start and p.analyzed + len(p.skipped_inputs) == 0:
            raise UsageError(f"{name}: shard {info['index']}/{info['count']} should cover inputs "
                             f"{part.start}..{part.stop - 1} but holds none; re-run it")
        key = tuple(p.sources)
        if key and key in seen:
            raise UsageError(f"{name} holds the same inputs as {seen[key]}; a shard was duplicated and edited")
        seen[key] = name


def _check_same(parts: list[Profile], names: list[str]) -> None:
    ref, ref_name = parts[0], names[0]
    for p, name in zip(parts[1:], names[1:]):
        if p.tool_version != ref.tool_version:  # names, taps or numbers may differ between versions
            raise UsageError(f"{name} was written by srop-onnx {p.tool_version or '(unknown)'} and {ref_name} by "
                             f"{ref.tool_version or '(unknown)'}; the shards of one run come from one version: re-run "
                             "the shards with the same srop-onnx")
        if p.model.get("sha256") != ref.model.get("sha256"):
            raise UsageError(f"{name} was made from a different model than {ref_name} (sha256 differs); "
                             "merge only shards of one run")
        diffs = settings_differences(p.settings, ref.settings)
        if diffs:
            raise UsageError(f"{name} and {ref_name} were analysed with different settings "
                             f"({describe_differences(diffs)}); merge only shards of one run")


def merge_profiles(parts: "Sequence[Profile | str | os.PathLike[str]]", names: list[str] | None = None, *,
                   storage_options: dict | None = None) -> Profile:
    """One profile from the partial profiles of all shards of a run (any order), or the paths of
    their files."""
    from .given import given_many

    parts = given_many(parts, "profile", "parts", storage_options)
    if not parts:
        raise UsageError("merge needs at least one partial profile")
    names = names or [f"part {i + 1}" for i in range(len(parts))]
    infos = [_shard(p, n) for p, n in zip(parts, names)]
    counts = {i["count"] for i in infos}
    if len(counts) != 1:
        raise UsageError(f"the partial profiles come from different shard counts ({sorted(counts)}); merge one run's shards")
    count = counts.pop()
    indices = [i["index"] for i in infos]
    dupes = sorted({i for i in indices if indices.count(i) > 1})
    if dupes:
        raise UsageError(f"shard(s) {', '.join(f'{d}/{count}' for d in dupes)} given more than once")
    missing = sorted(set(range(1, count + 1)) - set(indices))
    if missing:
        raise UsageError(f"missing shard(s) {', '.join(f'{m}/{count}' for m in missing)}; run them and merge all {count}")
    _check_same(parts, names)
    _check_proofs(parts, infos, names)
    order = sorted(range(len(parts)), key=lambda k: indices[k])
    parts, names = [parts[k] for k in order], [names[k] for k in order]

    if not sum(p.analyzed for p in parts):  # as one run over the same inputs: no profile of nothing
        raise nothing_usable([s for p in parts for s in p.skipped_inputs])
    layers = _merged_layers(parts)
    skipped_layers, seen = [], {lay.tensor for lay in layers}
    for p in parts:
        for s in p.skipped_layers:
            if s["tensor"] not in seen:
                seen.add(s["tensor"])
                skipped_layers.append(s)

    extra: dict = {}
    chains = [p.extra.get("baseline", {}).get("state") for p in parts]
    chains = [c for c in chains if c]
    if chains and layers:
        acc = BaselineAccumulator.from_states(chains)
        acc.attach(layers)
        extra["baseline"] = acc.summary(layers, parts[0].units)
    first = parts[0]
    return Profile(labels=_merged_labels(parts, names),
        model=first.model, settings=dict(first.settings), analyzed=sum(p.analyzed for p in parts),
        skipped_inputs=[s for p in parts for s in p.skipped_inputs], layers=layers, skipped_layers=skipped_layers,
        tool_version=first.tool_version, sources=[s for p in parts for s in p.sources], extra=extra,
    )


def _merged_labels(parts: list[Profile], names: list[str]) -> list | None:
    """The shards' labels in the merged order of their sources; every shard has them or none does."""
    have = [p.labels is not None for p in parts]
    if not any(have):
        return None
    if not all(have):
        bare = names[have.index(False)]
        raise UsageError(f"{bare} has no labels and other shards have them; run every shard with the same {option('labels')}")
    return [lab for p in parts for lab in p.labels]


def _merged_layers(parts: list[Profile]) -> list[LayerProfile]:
    """Every layer's statistics added over the shards (in input order), in depth order."""
    merged: dict[str, LayerProfile] = {}
    for p in parts:
        for lay in p.layers:
            have = merged.get(lay.tensor)
            if have is None:
                merged[lay.tensor] = LayerProfile(index=0, name=lay.name, tensor=lay.tensor, node=lay.node, op=lay.op,
                                                  shape=list(lay.shape), stats=_copy(lay.stats), spatial_map=lay.spatial_map)
            elif have.shape != lay.shape:
                raise UsageError(f"layer '{lay.name}' has shape {lay.shape} in one shard and {have.shape} in another")
            else:
                have.stats = have.stats + lay.stats
    # depth order: the order of a shard that has every layer (all shards of one model agree)
    depth = {}
    for p in parts:
        for lay in p.layers:
            depth.setdefault(lay.tensor, (lay.index, len(depth)))
    layers = sorted(merged.values(), key=lambda lay: depth[lay.tensor])
    for i, lay in enumerate(layers):
        lay.index = i
    return layers


def _copy(st: LayerStats) -> LayerStats:
    return LayerStats(m=st.m, m_input=st.m_input, channels=st.channels, histogram=st.histogram.copy(), dead=st.dead,
                      nonfinite=st.nonfinite, samples=(st.sample_bin_sum.copy(), st.sample_count.copy()),
                      kernels=(st.kernel_bin_sum.copy(), st.kernel_count.copy()))

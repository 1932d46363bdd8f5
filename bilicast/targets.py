"""Every cached thing a render makes, and whether it is cached and why not
(`plan` lists them: "targets" in `plan --json`). Kept out of plan.py, whose
imports shape keys (the bundle's code components): this module's do not."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import assemble, transitions
from .cache import Target
from .contracts import SegmentJob
from .media import is_valid_video
from .plan import (BUNDLE_STAMP, Plan, _settings_name, audio_targets, bundle_files, bundle_is_current, bundle_target,
                   cover_target, plan_chart, is_cached, rebuild_reasons)

if TYPE_CHECKING:
    from .episode import ResolvedEpisode


BY_THE_BUILD = "keyed by what the build makes"


def plan_targets(plan: Plan, segment_jobs: list[SegmentJob], out_dir: Path, episode: ResolvedEpisode | None,
                 voice: list[Target]) -> list[dict]:
    """{kind, name, state, reasons, path} for every target a render would
    make: the voice (voice lines, takes), charts, animations, segments,
    chunks, transition heads, mixes, AAC pieces, the audio track, the cover,
    the storyboard's thumbs, the bundle and the bench results. Chunks and
    AAC pieces are keyed by what the build makes (the animation's
    holds, the mixed track): listed as they will be when that is cached,
    else one entry per segment to build. Thumbs are keyed by their segment's
    and head's keys, so always known."""
    from .animate import animation_is_cached
    cache, facts = plan.cache, []

    def add(made: Target, valid=None) -> None:
        facts.append(made.fact(*cache.state(made, valid)))

    def unknown(kind: str, name: str, path: Path) -> None:
        facts.append({"kind": kind, "name": name, "state": "build", "reasons": [BY_THE_BUILD], "path": str(path)})

    for made in voice:
        add(made)
    if episode is not None:
        from .bench import DemoRegistry, result_target
        registry, results = None, plan.workspace / "results"
        for key, entry in plan.script.bench.items():
            registry = registry or DemoRegistry(plan.workspace)
            full, tiny = (result_target(results, entry.demo, registry.effective_params(entry.demo, entry.params, t), t)
                          for t in (False, True))
            made = replace(full, name=key) if full.path.exists() or not tiny.path.exists() else replace(tiny, name=key)
            facts.append(made.fact("cached", []) if made.path.exists() else made.fact("build", ["not built"]))
        for index in range(len(plan.script.segments)):
            chart = plan_chart(plan, episode, index)
            if chart and chart.made:
                add(chart.made)
    for picture in (plan.label, plan.watermark):   # stamps: the AI-content label, the watermark
        if picture:
            add(picture[1])
    for job in segment_jobs:
        if job.animation:
            add(job.animation, lambda p: animation_is_cached(job))
    for job in segment_jobs:
        segment = cache.target("segment", "segments", job.segment, components=job.components, leave_out=("take",),
                               ext="mp4", remembered_as=_settings_name(plan, job.segment))
        state = ("cached", []) if is_cached(job) else ("build", rebuild_reasons(job, plan.script))
        facts.append(segment.fact(*state))
    for job in segment_jobs:
        chunks = _chunk_targets(job) if animation_is_cached(job) else None
        if chunks is None:
            unknown("chunk", job.segment, Path(job.chunks))
        for made in chunks or []:
            add(made)
    heads = transitions.plan_heads(segment_jobs, [s.transition for s in plan.script.segments], plan.cache)
    for head in heads:
        if head and head.made:
            add(head.made, is_valid_video)
    track, mixes, mix_targets = audio_targets(plan)
    for made in mix_targets:
        add(made)
    wav = track.path.with_suffix(".wav")
    if wav.exists():
        from .build import aac_piece_targets
        for made, *_ in aac_piece_targets(plan, assemble.wav_samples(wav), mixes):
            add(made)
    else:
        for mix in mixes:
            unknown("aac piece", plan.timeline[mix.index].id, cache.root / "aac")
    add(track, lambda p: p.stat().st_size > 0)
    cover = cover_target(plan, segment_jobs, out_dir)
    try:
        stamp = json.loads((out_dir / BUNDLE_STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = {}
    covers = [n for n in bundle_files(plan.variant) if n.startswith("cover")]
    facts.append(cover.fact("cached", []) if isinstance(stamp, dict) and stamp.get("cover") == cover.key
                 and all((out_dir / n).exists() for n in covers) else cover.fact("build", cache.reasons(cover)))
    from .bundle import thumb_target, thumb_times   # keyed by the segment and head they are grabbed from
    size, times = thumb_times(plan)
    for job, head, t in zip(segment_jobs, heads, times):
        add(thumb_target(cache, job, head, t, size))
    bundle = bundle_target(plan, segment_jobs, track.path, heads, out_dir)
    facts.append(bundle.fact("cached", []) if track.path.exists() and bundle_is_current(out_dir, bundle.key, plan.variant)
                 else bundle.fact("build", cache.reasons(bundle)))
    return facts


def _chunk_targets(job: SegmentJob) -> list[Target] | None:
    """The chunks a segment whose animation is cached is finished in (None:
    its animation record is unreadable)."""
    from .contracts import AnimationRecord
    from .finish import _dialogues, chunk_edges, chunk_target, frame_map
    try:
        made = AnimationRecord.read(job.raw)
    except (OSError, ValueError, KeyError):
        return None
    ass = None
    if job.burn_in is not None:
        from .build import _burned_in
        ass = _burned_in(job)
    shown = frame_map(made.holds, job.timing, job.fps, job.frames, made.frames)
    header, events = _dialogues(ass or "")
    edges = chunk_edges(shown, events, job.fps)
    return [chunk_target(job, shown, first, end, header, events) for first, end in zip(edges, edges[1:])]

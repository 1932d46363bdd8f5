"""The runner: sequences the stages, one way, each reading only what the
ones before it made:

    script -> results -> resolved episode (episode.py) -> voice (build.py)
    -> plan (plan.py, pure) -> builds (build.py) -> bundle (bundle.py)
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import aigc, build, bundle, plan, targets, transitions, watermark
from .cache import sweep_leftovers
from .contracts import SegmentJob
from .episode import ResolvedEpisode
from .errors import UserError
from .lifeline import InBackground


def chosen_variants(episode: ResolvedEpisode, asked: str | None) -> list[str]:
    """The variants a command works on: `all` (the default) is every one the
    script declares in episode.variants."""
    declared = episode.script.episode.variants
    if asked in (None, "all"):
        return list(declared)
    if asked not in declared:
        raise UserError(f"--variant {asked}: {episode.path} declares {', '.join(declared)}; add "
                        f"`variants: [{', '.join([*declared, asked])}]` to its episode: block to render it")
    return [asked]


def plan_with_voice(episode: ResolvedEpisode, preview: bool = False, dry: bool = False,
                    variants: Sequence[str] = ("main",), targets: list | None = None) -> list[plan.Plan]:
    """One plan per variant, on the voice as it is (built once, shared; dry:
    only what the cache holds, so unvoiced lines get the reading-speed
    estimate and nothing is written)."""
    line_audio = build.build_voice(episode.script, episode.workspace, dry=dry, targets=targets)
    return [plan.make_plan(episode.script, episode.workspace, line_audio, episode.scenes, preview, variant)
            for variant in variants]


Notify = Callable[[str, SegmentJob], None]


@dataclass(frozen=True)
class RenderReport:
    out_dirs: list[Path]   # OUT/<id>/<variant>, one per variant
    rebuilt: list[str]     # the segments built again (id, or id@variant with several variants)
    cached: int            # segments taken from the cache
    animated: int          # of the rebuilt, those whose animation Manim drew
    jobs: list[list[SegmentJob]]   # each variant's segment jobs (the studio reads their animations' texts)


def render_episode(episode: ResolvedEpisode, out_root: Path, preview: bool = False, jobs: int | None = None,
                   variants: Sequence[str] = ("main",), executor: str = "local",
                   address: str | None = None, notify: Notify | None = None) -> RenderReport:
    """Render the episode's variants and their upload bundles. Only what
    changed is built: segments by their keys, each bundle by its key; voice,
    audio and results are shared. `notify(state, job)` hears each segment
    to build start ("building") and end ("built"): the studio shows it."""
    script = episode.script
    sweep_leftovers(episode.workspace / ".cache", out_root / script.episode.id)   # from runs that were killed
    plans = plan_with_voice(episode, preview, variants=variants)
    segment_jobs = [plan.plan_segments(p, episode.scenes, episode) for p in plans]
    chart_numbers = [[n for job in jobs_ if job.chart
                      for n in build.draw_chart(job.chart, episode)]
                     for jobs_ in segment_jobs]
    for p in plans:   # the stamps' pictures: the AI-content label (over the opening) and the watermark
        label, mark = p.label, p.watermark
        if label and not label[1].path.exists():
            aigc.draw(label[0], label[1].path)
            p.cache.remember(label[1])
        if mark and not mark[1].path.exists():
            watermark.draw(mark[0], mark[1].path)
            p.cache.remember(mark[1])
    todo = [j for jobs_ in segment_jobs for j in jobs_ if not plan.is_cached(j)]
    audio_track = InBackground(build.build_audio_track, plans[0])   # the same track for every variant
    animated = 0
    if todo:
        (plans[0].cache.root / "tmp").mkdir(parents=True, exist_ok=True)
        animated = build.render_segments(todo, jobs, executor, address, episode.workspace, notify)
    total = sum(len(jobs_) for jobs_ in segment_jobs)
    print(f"segments: {total - len(todo)} cached, {len(todo)} rendered"
          + (f" ({', '.join(_name(j, variants) for j in todo)}; {animated} animated by Manim)" if todo else ""),
          file=sys.stderr)
    audio = audio_track.result()
    out_dirs = []
    for the_plan, jobs_, numbers in zip(plans, segment_jobs, chart_numbers):
        out_dir = out_root / script.episode.id / the_plan.settings.variant
        out_dir.mkdir(parents=True, exist_ok=True)
        heads = transitions.plan_heads(jobs_, [s.transition for s in script.segments], the_plan.cache)
        build.build_heads(heads)
        bundle.write_numbers(the_plan, episode, out_dir, numbers)   # always re-checked against the results
        made = plan.bundle_target(the_plan, jobs_, audio, heads, out_dir)
        if plan.bundle_is_current(out_dir, made.key, the_plan.variant):
            print(f"bundle {the_plan.settings.variant}: up to date, nothing to assemble", file=sys.stderr)
        else:
            cover = plan.cover_target(the_plan, jobs_, out_dir)
            bundle.write_bundle(the_plan, jobs_, heads, audio, out_dir, made.key, cover.key,
                                os.path.relpath(Path(episode.path).resolve(), Path(episode.workspace).resolve()))
            the_plan.cache.remember(cover)
            the_plan.cache.remember(made)
        out_dirs.append(out_dir)
    return RenderReport(out_dirs, [_name(j, variants) for j in todo], total - len(todo), animated, segment_jobs)


def _name(job: SegmentJob, variants: Sequence[str]) -> str:
    return job.segment if len(variants) == 1 else f"{job.segment}@{job.variant}"


def dry_run(episode: ResolvedEpisode, out_root: Path, preview: bool = False,
            variants: Sequence[str] = ("main",), with_targets: bool = True) -> list[dict]:
    """What a render would do and why (`bilicast plan`), per variant: reads
    the cache, writes nothing. Without targets: the segments' facts alone (the studio's)."""
    facts = []
    voice: list = []   # the voice lines' and takes' targets (narrate.prepare)
    for the_plan in plan_with_voice(episode, preview, dry=True, variants=variants, targets=voice):
        segment_jobs = plan.plan_segments(the_plan, episode.scenes, episode)
        out_dir = out_root / episode.script.episode.id / the_plan.settings.variant
        facts.append(plan.plan_facts(the_plan, segment_jobs, out_dir))
        if with_targets:
            facts[-1]["targets"] = targets.plan_targets(the_plan, segment_jobs, out_dir, episode, voice)
    return facts

"""The runner: sequences the stages, one way, each reading only what the
ones before it made:

    script -> results -> resolved episode (episode.py) -> voice (build.py)
    -> plan (plan.py, pure) -> builds (build.py) -> bundle (bundle.py)
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import build, bundle, plan, transitions
from .cache import sweep_leftovers
from .episode import ResolvedEpisode


def plan_with_voice(episode: ResolvedEpisode, preview: bool = False, dry: bool = False) -> plan.Plan:
    """The plan on the voice as it is (dry: only what the cache holds, so
    unvoiced lines get the reading-speed estimate and nothing is written)."""
    line_audio = build.build_voice(episode.script, episode.workspace, dry=dry)
    return plan.make_plan(episode.script, episode.workspace, line_audio, episode.scenes, preview)


def render_episode(episode: ResolvedEpisode, out_root: Path, preview: bool = False, jobs: int | None = None) -> Path:
    """Render the episode and its whole upload bundle; returns the output folder.
    Only what changed is built: segments by their keys, the bundle by its key."""
    script = episode.script
    sweep_leftovers(episode.workspace / ".cache", out_root / script.episode.id)   # from runs that were killed
    the_plan = plan_with_voice(episode, preview)
    segment_jobs = plan.plan_segments(the_plan, episode.scenes, episode)
    chart_numbers = [n for job in segment_jobs if job["chart"] for n in build.draw_chart(job["chart"], episode)]
    todo = [j for j in segment_jobs if not plan.is_cached(j)]
    if todo:
        (the_plan.cache.root / "tmp").mkdir(parents=True, exist_ok=True)
        build.render_segments(todo, jobs)
    print(f"segments: {len(segment_jobs) - len(todo)} cached, {len(todo)} rendered"
          + (f" ({', '.join(j['segment'] for j in todo)})" if todo else ""), file=sys.stderr)
    heads = transitions.plan_heads(segment_jobs, [s.transition for s in script.segments], the_plan.cache)
    build.build_heads(heads)
    audio = build.build_audio_track(the_plan)
    out_dir = out_root / script.episode.id
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle.write_numbers(the_plan, episode, out_dir, chart_numbers)   # always re-checked against the results
    key = plan.bundle_key(the_plan, segment_jobs, audio, heads)
    if plan.bundle_is_current(out_dir, key):
        print("bundle: up to date, nothing to assemble", file=sys.stderr)
        return out_dir
    bundle.write_bundle(the_plan, segment_jobs, heads, audio, out_dir, key)
    return out_dir


def dry_run(episode: ResolvedEpisode, out_root: Path, preview: bool = False) -> dict:
    """What a render would do and why (`bilicast plan`): reads the cache,
    writes nothing."""
    the_plan = plan_with_voice(episode, preview, dry=True)
    segment_jobs = plan.plan_segments(the_plan, episode.scenes, episode)
    return plan.plan_facts(the_plan, segment_jobs, out_root / episode.script.episode.id)

"""The build stage: makes what the plan says is missing from the cache:
the voice, the charts, the segments (in a pool of worker processes), the
transition heads and the episode's audio track."""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from . import animate, assemble, media, narrate, subtitles, transitions
from .cache import Cache, Target, atomic_path, digest, usable, write_text_atomic
from .codehash import code_components
from .contracts import ChartJob, Mix, SegmentJob, TransitionHead
from .lifeline import fault
from .media import is_valid_video
from .workspace import ENGINE
from .plan import Plan, audio_targets
from .script import Script

if TYPE_CHECKING:
    from .episode import ResolvedEpisode
    from .narrate import LineAudio
    from .resolve import ShownNumber


def build_voice(script: Script, workspace: Path, dry: bool = False,
                targets: list[Target] | None = None) -> dict[tuple[int, int], LineAudio]:
    """Audio for every voiced line (narrate.prepare, with a progress bar).
    dry: only what the cache holds; nothing is synthesized or written.
    targets: a list to append the voice lines' and takes' cache targets to."""
    lines = sum(len(s.narration) for s in script.segments)
    with tqdm(total=lines, desc="narration", unit="line", file=sys.stderr, leave=False, disable=None) as bar:
        return narrate.prepare(script, workspace, Cache(workspace / ".cache"), progress=lambda: bar.update(1), dry=dry,
                               targets=targets)


def draw_chart(chart: ChartJob, episode: ResolvedEpisode) -> list[ShownNumber]:
    """The chart's PNG (unless cached) and the numbers it prints (checked
    against the results with the rest)."""
    from . import charts
    from .resolve import ShownNumber
    res, seg = episode.resolution, episode.script.segments[chart.index]
    ov = seg.overlay
    assert res is not None and ov is not None   # a chart is planned only then
    png = Path(chart.png)
    numbers = png.with_suffix(".json")   # what the chart prints, kept beside it
    try:
        shown = json.loads(numbers.read_text(encoding="utf-8")) if png.exists() else None
    except (OSError, ValueError):
        shown = None
    if shown is None:
        shown = charts.render_chart(ov.chart, res.results[chart.file], episode.script.episode.style,
                                    chart.size, png, ov.title, res.provenance[ov.data], ov.fields,
                                    video_short_side=chart.short_side, workspace=episode.workspace)
        write_text_atomic(numbers, json.dumps(shown, ensure_ascii=False))
        if chart.made is not None:
            Cache(episode.workspace / ".cache").remember(chart.made)
    return [ShownNumber(f"segments[{chart.index}].overlay", seg.id, text, value, how, (), ("src", chart.file, field))
            for text, value, field, how in shown]


def render_segments(todo: list[SegmentJob], jobs: int | None, executor: str = "local", address: str | None = None,
                    workspace: Path | None = None, notify=None) -> int:
    """Segments whose animation must be rendered go to the executor (local
    worker processes, a Ray cluster, …: bilicast/executors/); the others
    are only finished (ffmpeg), here, meanwhile: no worker starts and Manim
    is not imported when no animation changed. Returns how many animations
    Manim rendered. notify(state, job), if given, hears each start and end."""
    from . import executors
    todo = [replace(job, ass=_burned_in(job)) for job in todo]
    for job in todo if notify else []:
        notify("building", job)
    animate_first: list[SegmentJob] = []
    finish_only: list[SegmentJob] = []
    for job in todo:
        (finish_only if animate.animation_is_cached(job) else animate_first).append(job)
    chosen = executors.get(executor, workspace)(jobs, address, workspace or Path.cwd()) if animate_first else None
    with tqdm(total=len(todo), desc="render segments", unit="seg", file=sys.stderr, disable=None) as bar:
        def done(job: SegmentJob, seconds: float) -> None:
            write_text_atomic(job.manifest, json.dumps({"key": job.key, "components": job.components,
                                                        "seconds": seconds, "frames": job.frames}))
            if job.animation and Path(job.raw).exists():   # made now, or before
                Cache(Path(job.scratch).parent).remember(job.animation)
            bar.update(1)
            if notify:
                notify("built", job)
            fault("segment-done")

        def finish_here() -> None:
            for job in finish_only:
                done(job, animate.build_segment(job))
        if chosen:
            chosen.build(animate_first, finish_here, done, bar)
        else:
            finish_here()
    return len(animate_first)


def _burned_in(job: SegmentJob) -> str | None:
    """The segment's burned-in subtitles as ASS ("" without lines; None: none burned in)."""
    b = job.burn_in
    if b is None:
        return None
    return subtitles.segment_ass(b.timing, b.max_chars, b.font, b.workspace, (job.width, job.height), b.margin,
                                 b.en)


def build_heads(heads: list[TransitionHead | None]) -> None:
    """The transition heads the cache lacks."""
    for head in heads:
        if head and not usable(Path(head.target), is_valid_video):
            transitions.make_head(head)


def build_audio_track(plan: Plan) -> Path:
    """The episode's audio as AAC, at -14 LUFS: each segment mixed and measured
    once (cached by what is heard in it), joined under one gain, encoded."""
    track, mixes, mix_targets = audio_targets(plan)
    aac = track.path
    wav = aac.with_suffix(".wav")
    if usable(aac, lambda p: p.stat().st_size > 0):
        return aac
    if not narrate.usable_wav(wav):
        step = assemble.power_step(plan.settings.fps)
        parts, powers, peak = [], [], float("-inf")
        for mix, made in zip(mixes, mix_targets):
            audio, power, top = _segment_mix(mix, step, plan.cache, made)
            parts.append(audio)
            powers.append(power)
            peak = max(peak, top)
        integrated = assemble.integrated_loudness(assemble.episode_bins(powers, step))
        # the gain in half-dB steps: within Bilibili's tolerance, and a changed
        # line then seldom changes the gain, and so the sound (and the AAC
        # pieces), of the whole episode (with tenths, the benchmark's changed line
        # moved it and every piece was encoded again)
        gain = assemble.gain_step(assemble.LOUDNESS["I"] - integrated) if integrated > -70 else 0.0
        limit = peak + gain > assemble.LOUDNESS["TP"]
        fault("audio")
        assemble.write_track(parts, gain, limit, wav)
        if limit:   # make up the loudness the limiter took
            shortfall = assemble.LOUDNESS["I"] - _wav_loudness(wav)
            if abs(shortfall) > 0.2:
                assemble.write_track(parts, assemble.gain_step(gain + shortfall), True, wav)
    pieces = _encode_pieces(plan, wav, mixes)
    fault("audio-join")
    assemble.join_pieces(pieces, aac)
    plan.cache.remember(track)
    return aac


def _encode_pieces(plan: Plan, wav: Path, mixes: list[Mix]) -> list[Path]:
    """The track's AAC, a piece per segment, each cached by exactly what its
    encoder is given (a changed line re-encodes its own segment and, where it
    moved them, the ones after). Missing pieces are encoded at once, one
    ffmpeg per core."""
    from concurrent.futures import ThreadPoolExecutor
    track = assemble.wav_samples(wav)
    pieces, todo = [], []
    for made, window, first, end in aac_piece_targets(plan, track, mixes):
        pieces.append(made.path)
        if not usable(made.path, lambda p: p.stat().st_size > 0):
            todo.append((window, first, end, made))
    if todo:
        def encode(piece) -> None:
            window, first, end, made = piece
            assemble.encode_piece(window, first, end, made.path)
            plan.cache.remember(made)
        with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) as pool:
            list(pool.map(encode, todo))
    return pieces


def aac_piece_targets(plan: Plan, track, mixes: list[Mix]) -> list[tuple[Target, bytes, int, int]]:
    """Each AAC piece's cache target (keyed by the exact bytes its encoder is
    given, and how it encodes), with that input and its sample span."""
    how_list = [assemble.AAC_FRAME, assemble.PREROLL, assemble.POSTROLL, media.audio_encode_args(),
                media.ffmpeg_version(), code_components(ENGINE / "assemble.py", workspace=plan.workspace)]
    how = digest(how_list)
    how_parts = {"frame": how_list[:3], "encoder": how_list[3:5], "code": how_list[5]}
    out = []
    for mix, (first, end) in zip(mixes, assemble.aac_pieces([m.start for m in mixes], len(track))):
        window = assemble.piece_input(track, first, end)
        seg = plan.timeline[mix.index].id
        made = plan.cache.target(
            "aac piece", "aac", seg, ext="aac", name=seg,
            key=hashlib.sha256(window + f"{first == 0}{how}".encode()).hexdigest(),
            components={"samples": hashlib.sha256(window).hexdigest(), "first": digest(first == 0),
                        **{k: digest(v) for k, v in how_parts.items()}})
        out.append((made, window, first, end))
    return out


def _segment_mix(mix: Mix, step: int, cache: Cache | None = None, made: Target | None = None) -> tuple[Any, Any, float]:
    """A segment's mixed audio, its K-weighted power per step and its true peak (cached)."""
    import numpy as np
    target = mix.target
    try:
        with np.load(target) as cached:
            return cached["audio"], cached["power"], float(cached["peak"])
    except (OSError, ValueError, KeyError):
        pass   # not made yet, or unreadable: made again
    audio = assemble.mix_segment(mix.duration, mix.voice, mix.music, mix.start, mix.intervals)
    power, peak = assemble.measure(audio, step)
    assert peak is not None   # measured when asked (the default)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, audio=audio, power=power, peak=peak)
    if cache and made:
        cache.remember(made)
    return audio, power, peak


def _wav_loudness(wav: Path) -> float:
    power, _ = assemble.measure(assemble.read_wav(wav), assemble.BIN, peak=False)
    return assemble.integrated_loudness(assemble.episode_bins([power], assemble.BIN))

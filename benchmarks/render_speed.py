"""Render speed, measured side by side in one run on this machine.

On benchmarks/reference.yaml (~60 s, 9 segments, 1080p60) in a fresh
workspace, prints:
  1. cold render wall time / video duration
  2. no-op re-render wall time
  3. re-render after one number in one result changed, % of cold
  4. re-render after one narration line changed, % of cold
  5. re-render after one word of a subtitle changed (the voice says it the
     same: burned-in subtitles only), % of cold
  6. re-render after one line's `beat:` changed, % of cold
  7. final assembly time / ffmpeg alone encoding the same video once (the floor)
  8. naive pipeline (Manim renders, then one MoviePy CompositeVideoClip with
     subtitles and overlays + write_videofile) / our cold render

    .venv/bin/python benchmarks/render_speed.py [--preview] [--skip-naive]
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(cmd, cwd):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.monotonic() - started, proc.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preview", action="store_true", help="480p15 instead of the script's 1080p60")
    ap.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive MoviePy pipeline")
    args = ap.parse_args()
    flags = ["--preview"] if args.preview else []
    bilicast = [sys.executable, "-m", "bilicast.cli"]
    ws = Path(tempfile.mkdtemp(prefix="bilicast-speed-"))
    for folder in ("scenes", "demos", "assets"):
        shutil.copytree(ROOT / folder, ws / folder)
    shutil.copy(ROOT / "benchmarks" / "reference.yaml", ws / "ep.yaml")
    print(f"workspace: {ws}", file=sys.stderr)
    run(bilicast + ["bench", "ep.yaml", "--tiny"], ws)   # real numbers for the templates (not timed)

    cold, log = run(bilicast + ["render", "ep.yaml", *flags], ws)
    video = ws / "out" / "reference" / "main" / "video.mp4"
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(video)],
                                     capture_output=True, text=True).stdout)
    duration = float(info["format"]["duration"])
    noop, _ = run(bilicast + ["render", "ep.yaml", *flags], ws)

    result = next((ws / "results" / "tflite_quantize").glob("*-tiny.json"))
    data = json.loads(result.read_text())
    data["metrics"]["int8.size_mb"]["value"] *= 1.1
    result.write_text(json.dumps(data))
    number, number_log = run(bilicast + ["render", "ep.yaml", *flags], ws)

    script = (ws / "ep.yaml").read_text(encoding="utf-8")
    (ws / "ep.yaml").write_text(script.replace("今天就到这里，下期见。", "今天先讲到这里，下期见。"), encoding="utf-8")
    line, line_log = run(bilicast + ["render", "ep.yaml", *flags], ws)

    script = (ws / "ep.yaml").read_text(encoding="utf-8")   # TFLite and TFlite are read alike: the voice is unchanged
    (ws / "ep.yaml").write_text(script.replace("然后转换成TFLite。", "然后转换成TFlite。"), encoding="utf-8")
    word, word_log = run(bilicast + ["render", "ep.yaml", *flags], ws)

    script = (ws / "ep.yaml").read_text(encoding="utf-8")
    (ws / "ep.yaml").write_text(script.replace("{text: 先训练，再导出。, beat: [1, 2]}", "{text: 先训练，再导出。, beat: 1}")
                                .replace("{text: 然后转换成TFlite。, beat: 3}", "{text: 然后转换成TFlite。, beat: [2, 3]}"),
                                encoding="utf-8")
    beat, beat_log = run(bilicast + ["render", "ep.yaml", *flags], ws)

    # 5: our final assembly (join segments + audio) against ffmpeg encoding the same video once.
    from bilicast import assemble
    from bilicast.media import video_encode_args
    from bilicast.build import build_audio_track
    from bilicast.episode import load_episode
    from bilicast.plan import plan_segments
    from bilicast.render import plan_with_voice
    import os
    os.chdir(ws)
    episode = load_episode(ws / "ep.yaml")
    plan, = plan_with_voice(episode, args.preview)
    jobs = plan_segments(plan, episode.scenes, episode)
    audio = build_audio_track(plan)
    from bilicast.build import _encode_pieces
    from bilicast.cache import Cache
    from bilicast.plan import audio_plan
    started = time.monotonic()   # assembly = encoding the audio track (every piece) + joining everything
    plan.cache = Cache(ws / "assembly-cache")
    assemble.join_pieces(_encode_pieces(plan, audio.with_suffix(".wav"), audio_plan(plan)[1]), ws / "audio.m4a")
    assemble.join([(Path(j["target"]), 0.0, j["frames"] / j["fps"]) for j in jobs], ws / "audio.m4a",
                  ws / "assembly.mp4")
    assembly = time.monotonic() - started
    fps = plan.settings.fps
    started = time.monotonic()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), *video_encode_args(fps, args.preview),
                    "-c:a", "aac", "-b:a", "192k", str(ws / "floor.mp4")], check=True)
    floor = time.monotonic() - started

    naive = None
    if not args.skip_naive:
        naive = naive_pipeline(plan, jobs, audio, ws, args.preview)

    rows = [
        ("1 cold render / video duration", f"{cold:.1f} s / {duration:.1f} s", f"{cold / duration:.2f}", "<= 1.0"),
        ("2 no-op re-render", f"{noop:.2f} s", f"{noop:.2f} s", "<= 1.0 s"),
        ("3 one result number changed", f"{number:.1f} s", f"{number / cold:.0%} of cold", "<= 5%"),
        ("4 one narration line changed", f"{line:.1f} s", f"{line / cold:.0%} of cold", "<= 8%"),
        ("5 one subtitle word changed", f"{word:.1f} s", f"{word / cold:.0%} of cold", "-"),
        ("6 one line's beat: changed", f"{beat:.1f} s", f"{beat / cold:.0%} of cold", "-"),
        ("7 final assembly / ffmpeg floor", f"{assembly:.2f} s / {floor:.1f} s", f"{assembly / floor:.2f}", "<= 1.3"),
    ]
    if naive:
        rows.append(("8 naive pipeline / our cold", f"{naive:.1f} s / {cold:.1f} s", f"{naive / cold:.1f}x", ">= 3x"))
    print(f"\nreference episode: {duration:.1f} s, {len(jobs)} segments, "
          f"{plan.settings.width}x{plan.settings.height} {fps} fps, {os.cpu_count()} cores")
    print(f"{'measure':<34} {'times':<22} {'ratio':<14} target")
    for name, times, ratio, target in rows:
        print(f"{name:<34} {times:<22} {ratio:<14} {target}")
    print(f"\nrebuilt after the number change: {_rebuilt(number_log)}; after the line change: {_rebuilt(line_log)}; "
          f"after the subtitle word: {_rebuilt(word_log)}; after the beat: {_rebuilt(beat_log)}")
    shutil.rmtree(ws, ignore_errors=True)


def _rebuilt(log: str) -> str:
    return next((ln.split("segments: ", 1)[1] for ln in log.splitlines() if ln.startswith("segments: ")), "?")


def naive_pipeline(plan, jobs, audio, ws, preview) -> float:
    """Manim renders every scene, then MoviePy composites everything in Python."""
    from moviepy import (AudioFileClip, CompositeVideoClip, ImageClip, TextClip, VideoFileClip,
                         concatenate_videoclips)

    from bilicast.animate import render_scene
    from bilicast.cover import font_file
    started = time.monotonic()
    raws = []
    for job in jobs:
        scratch = ws / "naive" / job["segment"]
        scratch.mkdir(parents=True)
        job = {**job, "timing": {**job["timing"], "render_holds": True}}   # Manim renders every frame
        raws.append(render_scene(job, scratch)[0])
    w, h = plan.settings.width, plan.settings.height
    base = concatenate_videoclips([VideoFileClip(str(p)) for p in raws])
    layers = [base]
    for cue in plan.cues:
        text = TextClip(font=str(font_file(False)), text="\n".join(cue.lines), font_size=int(h * 0.058),
                        color="white", stroke_color="black", stroke_width=3, method="label")
        layers.append(text.with_start(cue.start).with_duration(cue.end - cue.start)
                      .with_position(("center", int(h * 0.83))))
    for job, seg in zip(jobs, plan.timeline):
        if job["overlay"]:
            ov = job["overlay"]
            layers.append(ImageClip(ov["png"]).with_start(seg.start + ov["start"])
                          .with_duration(seg.duration - ov["start"]).with_position((ov["x"], ov["y"])))
    final = CompositeVideoClip(layers, size=(w, h)).with_audio(AudioFileClip(str(audio)))
    final.write_videofile(str(ws / "naive.mp4"), fps=plan.settings.fps, codec="libx264", audio_codec="aac",
                          preset="veryfast" if preview else "faster", logger=None,
                          ffmpeg_params=["-crf", "23" if preview else "18", "-pix_fmt", "yuv420p"])
    return time.monotonic() - started


if __name__ == "__main__":
    main()

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
  9. with a build server running (a studio's warm workers, bilicast/buildserver.py)
     in a second workspace that takes the same changes: the no-op, the number
     and the line change side by side with rows 2-4, against the target of
     saving at least the Manim import plus the voice model's load (both
     measured, each in a fresh process)

    .venv/bin/python benchmarks/render_speed.py [--preview] [--skip-naive] [--studio-only]

--studio-only measures rows 1, 2-4 and 9 alone (e.g. at --preview, quickly).
"""
import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(cmd, cwd, env=None):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.monotonic() - started, proc.stderr


def in_studio(cmd, cwd):
    """A render that must go through the workspace's build server."""
    seconds, log = run(cmd, cwd)
    if "using the studio's warm workers" not in log:
        sys.exit(f"not through the build server: {' '.join(cmd)}\n{log[-3000:]}")
    return seconds, log


def start_server(ws):
    """`python -m bilicast.buildserver_main WS`, once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "bilicast.buildserver_main", str(ws)], cwd=ws, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if not select.select([proc.stdout], [], [], 120)[0] or not proc.stdout.readline().startswith("serving"):
        proc.kill()
        sys.exit("the build server did not start")
    return proc


def fresh_process_seconds(code: str) -> float:
    """The best of three: seconds `code` (which prints them) takes in a fresh Python."""
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    cwd=ROOT).stdout.split()[-1]) for _ in range(3))


def change_number(ws):
    result = next((ws / "results" / "tflite_quantize").glob("*-tiny.json"))
    data = json.loads(result.read_text())
    data["metrics"]["int8.size_mb"]["value"] *= 1.1
    result.write_text(json.dumps(data))


def change_line(ws):
    script = (ws / "ep.yaml").read_text(encoding="utf-8")
    (ws / "ep.yaml").write_text(script.replace("今天就到这里，下期见。", "今天先讲到这里，下期见。"), encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preview", action="store_true", help="480p15 instead of the script's 1080p60")
    ap.add_argument("--skip-naive", action="store_true", help="skip the (slow) naive MoviePy pipeline")
    ap.add_argument("--studio-only", action="store_true", help="rows 1-4 and 9 only: with and without a build server")
    args = ap.parse_args()
    flags = ["--preview"] if args.preview else []
    bilicast = [sys.executable, "-m", "bilicast.cli"]
    ws = Path(tempfile.mkdtemp(prefix="bilicast-speed-"))
    for folder in ("scenes", "demos", "assets"):
        shutil.copytree(ROOT / folder, ws / folder)
    shutil.copy(ROOT / "benchmarks" / "reference.yaml", ws / "ep.yaml")
    print(f"workspace: {ws}", file=sys.stderr)
    run(bilicast + ["bench", "ep.yaml", "--tiny"], ws)   # real numbers for the templates (not timed)
    manim_import = fresh_process_seconds("import time; t = time.perf_counter(); import manim; "
                                         "print(time.perf_counter() - t)")
    voice_load = fresh_process_seconds("import time; t = time.perf_counter(); from bilicast import zhvoice; "
                                       "zhvoice.Voice(); print(time.perf_counter() - t)")
    render = bilicast + ["render", "ep.yaml", *flags]
    warm_ws = Path(tempfile.mkdtemp(prefix="bilicast-speed-studio-"))   # the same episode, a build server running
    shutil.copytree(ws, warm_ws, dirs_exist_ok=True)
    server = start_server(warm_ws)
    try:   # 9: each change made in both workspaces, rendered in each, one after the other
        warm_cold, _ = in_studio(render, warm_ws)
        cold, log = run(render, ws)
        warm_noop, _ = in_studio(render, warm_ws)
        noop, _ = run(render, ws)
        change_number(warm_ws)
        warm_number, _ = in_studio(render, warm_ws)
        change_number(ws)
        number, number_log = run(render, ws)
        change_line(warm_ws)
        warm_line, _ = in_studio(render, warm_ws)
        change_line(ws)
        line, line_log = run(render, ws)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(warm_ws, ignore_errors=True)
    video = ws / "out" / "reference" / "main" / "video.mp4"
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(video)],
                                     capture_output=True, text=True).stdout)
    duration = float(info["format"]["duration"])
    target = manim_import + voice_load
    studio = [
        ("9 cold render, server running", f"{warm_cold:.1f} s / {cold:.1f} s", f"{cold - warm_cold:+.2f} s", "-"),
        ("9 no-op, server running", f"{warm_noop:.2f} s / {noop:.2f} s", f"{noop - warm_noop:+.2f} s",
         f">= {target:.2f} s"),
        ("9 one number, server running", f"{warm_number:.1f} s / {number:.1f} s", f"{number - warm_number:+.2f} s",
         f">= {target:.2f} s"),
        ("9 one line, server running", f"{warm_line:.1f} s / {line:.1f} s", f"{line - warm_line:+.2f} s",
         f">= {target:.2f} s"),
    ]
    studio_note = (f"row 9: with / without a build server, and the time it saves; target: the Manim import "
                   f"({manim_import:.2f} s) plus the voice model's load ({voice_load:.2f} s), each measured in a "
                   f"fresh process")
    rows = [
        ("1 cold render / video duration", f"{cold:.1f} s / {duration:.1f} s", f"{cold / duration:.2f}", "<= 1.0"),
        ("2 no-op re-render", f"{noop:.2f} s", f"{noop:.2f} s", "<= 1.0 s"),
        ("3 one result number changed", f"{number:.1f} s", f"{number / cold:.0%} of cold", "<= 5%"),
        ("4 one narration line changed", f"{line:.1f} s", f"{line / cold:.0%} of cold", "<= 8%"),
    ]
    if args.studio_only:
        print(f"\nreference episode: {duration:.1f} s, {'480p15' if args.preview else 'as the script says'}, "
              f"{os.cpu_count()} cores")
        print_rows(rows + studio)
        print(f"\n{studio_note}\nrebuilt after the number change: {_rebuilt(number_log)}; "
              f"after the line change: {_rebuilt(line_log)}")
        shutil.rmtree(ws, ignore_errors=True)
        return

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
    assemble.join([(Path(j.target), 0.0, j.frames / j.fps) for j in jobs], ws / "audio.m4a",
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

    rows += [
        ("5 one subtitle word changed", f"{word:.1f} s", f"{word / cold:.0%} of cold", "-"),
        ("6 one line's beat: changed", f"{beat:.1f} s", f"{beat / cold:.0%} of cold", "-"),
        ("7 final assembly / ffmpeg floor", f"{assembly:.2f} s / {floor:.1f} s", f"{assembly / floor:.2f}", "<= 1.3"),
    ]
    if naive:
        rows.append(("8 naive pipeline / our cold", f"{naive:.1f} s / {cold:.1f} s", f"{naive / cold:.1f}x", ">= 3x"))
    print(f"\nreference episode: {duration:.1f} s, {len(jobs)} segments, "
          f"{plan.settings.width}x{plan.settings.height} {fps} fps, {os.cpu_count()} cores")
    print_rows(rows + studio)
    print(f"\nrebuilt after the number change: {_rebuilt(number_log)}; after the line change: {_rebuilt(line_log)}; "
          f"after the subtitle word: {_rebuilt(word_log)}; after the beat: {_rebuilt(beat_log)}\n{studio_note}")
    shutil.rmtree(ws, ignore_errors=True)


def print_rows(rows) -> None:
    print(f"{'measure':<34} {'times':<22} {'ratio':<14} target")
    for name, times, ratio, target in rows:
        print(f"{name:<34} {times:<22} {ratio:<14} {target}")


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
        scratch = ws / "naive" / job.segment
        scratch.mkdir(parents=True)
        job = replace(job, timing={**job.timing, "render_holds": True})   # Manim renders every frame
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
        if job.overlay:
            ov = job.overlay
            layers.append(ImageClip(ov.png).with_start(seg.start + ov.start)
                          .with_duration(seg.duration - ov.start).with_position((ov.x, ov.y)))
    final = CompositeVideoClip(layers, size=(w, h)).with_audio(AudioFileClip(str(audio)))
    final.write_videofile(str(ws / "naive.mp4"), fps=plan.settings.fps, codec="libx264", audio_codec="aac",
                          preset="veryfast" if preview else "faster", logger=None,
                          ffmpeg_params=["-crf", "23" if preview else "18", "-pix_fmt", "yuv420p"])
    return time.monotonic() - started


if __name__ == "__main__":
    main()

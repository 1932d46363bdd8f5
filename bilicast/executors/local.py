"""The default: a pool of worker processes on this machine, one segment per
call (Manim's config is process-global). Workers die with this process (even
on kill -9); on any error or interrupt they are terminated at once, not left
to finish their segment."""
from __future__ import annotations

import multiprocessing
import os

from .. import animate
from ..contracts import SegmentJob
from ..lifeline import die_with_parent, interrupts_deferred
from . import Executor as Base


def _build_one(job: SegmentJob) -> tuple[SegmentJob, float]:
    return job, animate.build_segment(job)


class Executor(Base):
    def build(self, todo, finish_here, done, bar):
        pool = None
        try:
            workers = max(1, min(self.jobs or os.cpu_count() or 1, len(todo)))
            with interrupts_deferred():   # the pool exists before an interrupt can end it
                pool = multiprocessing.get_context("spawn").Pool(workers, initializer=die_with_parent)
            results = pool.imap_unordered(_build_one, todo)
            finish_here()   # while the workers draw
            for job, seconds in results:
                done(job, seconds)
            pool.close()
        except BaseException:
            if pool:
                pool.terminate()
            raise
        finally:
            if pool:
                pool.join()

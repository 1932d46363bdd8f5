"""A Ray cluster (farm.py): the one at --address, or one of this machine
alone started for the render (loopback only). This process finishes the
segments whose animation is cached while the cluster draws the others."""
from __future__ import annotations

from . import Executor as Base


class Executor(Base):
    def build(self, todo, finish_here, done, bar):
        from .. import farm
        from ..lifeline import InBackground
        here = InBackground(finish_here)
        farm.render_on_ray(todo, self.workspace, self.address, done, bar)   # Ctrl-C lands here: cancels
        here.result()

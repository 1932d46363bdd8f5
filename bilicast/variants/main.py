"""The main cut: 16:9 landscape at the episode's output resolution, with
Bilibili's landscape cover and its 4:3 crop."""
from . import Variant

VARIANT = Variant(aspect=(16, 9), subtitle_margin=0.05, subtitle_band=1.0)

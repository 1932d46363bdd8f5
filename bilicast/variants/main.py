"""The main cut: 16:9 landscape at the episode's output resolution, with
Bilibili's landscape cover and its 4:3 crop.

Its danmaku band is the top quarter (270 px at 1080p): Bilibili's player
lets a viewer keep scrolling danmaku to the top 1/4, 1/2 or 3/4 of the
picture (弹幕设置 · 显示区域), and a quarter is the smallest of those, the
most a picture can give up and still lay out (docs/variants.md). An
assumption about viewers, not a measurement."""
from . import Variant

VARIANT = Variant(aspect=(16, 9), subtitle_margin=0.05, subtitle_band=1.0, danmaku_band=0.25)

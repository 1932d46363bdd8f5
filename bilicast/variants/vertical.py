"""The vertical cut: 9:16 (1080x1920 at 1080p) for Bilibili's vertical
player. Its lowest fifth sits under the player's title, buttons and comment
box, so subtitles rise above it; a chart goes across the frame, above them;
the cover is one 3:4 picture."""
from . import Cover, Variant

VARIANT = Variant(aspect=(9, 16), subtitle_margin=0.2, subtitle_band=1.3,
                  chart_box=(0.05, 0.38, 0.9, 0.3),
                  cover=Cover((1080, 1440), (80, 120, 1080 - 80, 1440 - 200)))

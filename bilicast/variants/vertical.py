"""The vertical cut: 9:16 (1080x1920 at 1080p) for Bilibili's vertical
player. Its lowest fifth sits under the player's title, buttons and comment
box, so subtitles rise above it; a chart goes across the frame, above them;
the cover is one 3:4 picture.

Its danmaku band is the same height as the main cut's, 270 px at 1080 px
across (0.14 of 1920): danmaku are lines of text at the viewer's screen
font size, filling their tracks from the top down, and the display-area
setting only caps how far down they may go. What they cover is a number of
tracks, the same height against the picture's short side in either
orientation; the main cut's quarter is that height (docs/variants.md). An
assumption, as in the main cut."""
from . import Cover, Variant

VARIANT = Variant(aspect=(9, 16), subtitle_margin=0.2, subtitle_band=1.3, danmaku_band=0.14,
                  chart_box=(0.05, 0.38, 0.9, 0.3),
                  cover=Cover((1080, 1440), (80, 120, 1080 - 80, 1440 - 200)))

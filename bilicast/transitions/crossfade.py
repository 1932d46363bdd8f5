"""A crossfade: the picture before fades into the segment."""
XFADE = "fade"

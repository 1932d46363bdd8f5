"""A slide: the picture before slides away to the left, uncovering the segment."""
XFADE = "slideleft"

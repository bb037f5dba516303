"""The hot folder: core-system exports dropped into a watched directory, sent through the core."""

"""The lowest layer: where things live, atomic files, units, pixels to model input, the classes,
run folders and the figures. Imports nothing else of the project."""

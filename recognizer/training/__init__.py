"""Training: the config and its presets, progress hooks, datasets, augmentation, the Keras loop,
run files, ensembles, the number reader's training and export."""

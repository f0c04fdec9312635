"""Preprocessing layers: Normalization (with adapt), Rescaling, CategoryEncoding,
Discretization (with adapt), IntegerLookup and StringLookup (eager only), the image layers Resizing and CenterCrop, and the random image
augmentations (RandomFlip, RandomCrop, RandomContrast, RandomBrightness, RandomTranslation,
RandomZoom, RandomRotation), which act only in training."""

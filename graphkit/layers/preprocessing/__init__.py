"""Preprocessing layers: Normalization (with adapt), Rescaling, CategoryEncoding,
Discretization (with adapt), IntegerLookup, StringLookup and Hashing (eager only), the image
layers Resizing and CenterCrop, and the random image augmentations (RandomFlip, RandomCrop,
RandomContrast, RandomBrightness, RandomTranslation, RandomZoom, RandomRotation,
RandomErasing, MixUp, CutMix, and the color augmentations RandomGrayscale, RandomInvert,
Solarization, RandomPosterization, RandomColorDegeneration, RandomSaturation, RandomHue,
RandomSharpness), which act only in training."""

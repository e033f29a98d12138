"""Pictures of what a model learned: reconstructions, attention, EigenCAM, masks, spectra and loss curves."""

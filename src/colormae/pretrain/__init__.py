"""Pretraining: the MAE / ColorMAE training run (:func:`colormae.pretrain.run.pretrain`) and its data path."""

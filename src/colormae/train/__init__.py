"""Training: one generic engine (:func:`colormae.train.engine.fit`) shared by pretraining and
fine-tuning, plus lr schedule, AdamW groups, checkpoints, exact resume, metrics and torchrun/DDP.

Sub-modules are imported on demand (``from colormae.train.engine import fit``) so that importing
this package stays cheap.
"""

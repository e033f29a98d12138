"""Training: one generic engine (:func:`colormae.train.engine.fit`, its pieces in
:mod:`colormae.train.loop`) shared by every training job, the jobs' scaffold (:mod:`colormae.train.job`),
plus lr schedules, AdamW groups, checkpoints, exact resume, metrics and torchrun/DDP.

Sub-modules are imported on demand (``from colormae.train.engine import fit``) so that importing
this package stays cheap.
"""

"""Evaluating an encoder: frozen-feature k-NN and linear probe, end-to-end fine-tuning, Top-1 / Top-5.

Light modules are imported here; the jobs (``colormae.eval.probes``, ``colormae.eval.finetune``,
``colormae.experiments.demo_probes``) are imported on demand: they pull in the data and training packages.
"""

from colormae.eval.features import extract_features
from colormae.eval.knn import knn_classify
from colormae.eval.linprobe import LinearProbeHead, ProbeResult, train_linear_probe
from colormae.eval.results import TopKMeter, topk_accuracy, write_results
from colormae.train.knn import FEATURES, encode, knn_votes, pool_tokens

__all__ = [
    "FEATURES", "LinearProbeHead", "ProbeResult", "TopKMeter", "encode", "extract_features", "knn_classify",
    "knn_votes", "pool_tokens", "topk_accuracy", "train_linear_probe", "write_results",
]

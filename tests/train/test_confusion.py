"""One confusion-matrix accumulator for the classifiers' and the segmentors' metrics."""

import torch

from colormae.dense.metrics import ConfusionMatrix as SegmentationConfusion
from colormae.eval.results import ClassificationMeter
from colormae.train.confusion import ConfusionMatrix, confusion_matrix


def test_counts_ignore_and_grow():
    cm = ConfusionMatrix(2, ignore_index=9)
    cm.update(torch.tensor([[0, 1], [1, 1]]), torch.tensor([[0, 0], [9, 1]]))
    assert cm.counts.tolist() == [[1, 1], [0, 1]]
    cm.update(torch.tensor([2]), torch.tensor([1]), num_classes=3)  # a third class appears
    assert cm.num_classes == 3 and cm.counts.tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 0]]
    cm.all_reduce()  # no process group: unchanged
    assert cm.counts.tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 0]]
    assert torch.equal(confusion_matrix(torch.tensor([1, 0]), torch.tensor([1, 1]), 2),
                       torch.tensor([[0, 0], [1, 1]]))


def test_classifier_and_segmentor_share_it():
    assert issubclass(SegmentationConfusion, ConfusionMatrix)
    meter = ClassificationMeter((1,))
    assert meter.confusion is None
    meter.update(torch.eye(3)[[0, 2]], torch.tensor([0, 1]))
    assert isinstance(meter._matrix, ConfusionMatrix)
    assert meter.confusion.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]

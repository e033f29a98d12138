"""k-NN speed: our batched torch k-NN (colormae.eval.knn) against scikit-learn's brute-force cosine
KNeighborsClassifier on the same L2-normalised features, in the same process.

Also times the linear probe with cached features (computed once) against re-encoding the training split
every epoch, which is what caching saves.

    python benchmarks/eval_knn_speed.py [--n 20000] [--dim 384] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from sklearn.neighbors import KNeighborsClassifier

from colormae.eval.features import extract_features
from colormae.eval.knn import knn_classify
from colormae.eval.linprobe import train_linear_probe
from colormae.models import create_mae


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="training features")
    parser.add_argument("--queries", type=int, default=5000, help="test features")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    train = F.normalize(torch.randn(args.n, args.dim, generator=g), dim=1)
    labels = torch.randint(0, args.classes, (args.n,), generator=g)
    test = F.normalize(torch.randn(args.queries, args.dim, generator=g), dim=1)
    test_y = torch.randint(0, args.classes, (args.queries,), generator=g)

    ours = _best(lambda: knn_classify(train, labels, test, test_y, num_classes=args.classes, k=20))
    sk = KNeighborsClassifier(n_neighbors=20, metric="cosine", algorithm="brute", n_jobs=args.threads)
    sk.fit(train.numpy(), labels.numpy())
    theirs = _best(lambda: sk.predict(test.numpy()), repeat=1)
    print(f"k-NN {args.n} x {args.queries} x {args.dim}: colormae {ours:.3f} s, scikit-learn {theirs:.3f} s, "
          f"speed-up x{theirs / ours:.1f}")

    # linear probe, 10 epochs over 2,000 32 px images with the micro model: cached vs re-encoded
    torch.manual_seed(0)
    model = create_mae("mae_vit_tiny_32px").eval()
    images = torch.randn(2000, 3, 32, 32, generator=g)
    ds = torch.utils.data.TensorDataset(images, torch.randint(0, 10, (2000,), generator=g))
    epochs = 10

    def cached() -> None:
        feats = extract_features(model, ds, progress=False)
        train_linear_probe(feats, feats, num_classes=10, epochs=epochs, progress=False)

    def recomputed() -> None:
        feats = extract_features(model, ds, progress=False)
        train_linear_probe(lambda e: extract_features(model, ds, progress=False), feats, num_classes=10,
                           epochs=epochs, progress=False)

    t_cached, t_re = _best(cached, 1), _best(recomputed, 1)
    print(f"linear probe {epochs} epochs, 2,000 images: cached features {t_cached:.2f} s, re-encoded every "
          f"epoch {t_re:.2f} s, speed-up x{t_re / t_cached:.1f}")


if __name__ == "__main__":
    main()

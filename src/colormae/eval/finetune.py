"""End-to-end fine-tuning of an MAE encoder as a timm ViT classifier, on the shared training engine.

The recipe is MAE's (He et al. 2022, A.3, Table 11) with timm's implementations: layer-wise lr decay
0.65 (:mod:`colormae.eval.layer_decay`), drop path 0.1, Mixup 0.8 / CutMix 1.0 with label smoothing 0.1
(``timm.data.Mixup`` + ``SoftTargetCrossEntropy``), RandAugment ``rand-m9-mstd0.5-inc1`` and random
erasing 0.25 (``timm.data.create_transform``), AdamW (0.9, 0.999), wd 0.05, warm-up + cosine, optional
EMA (``timm.utils.ModelEmaV3``). The loop itself - DDP, AMP, accumulation, checkpoints, exact resume,
metrics - is :func:`colormae.train.engine.fit`; this module only supplies the model, data,
``step_fn`` and a validation pass (Top-1 / Top-5) at every epoch boundary.

Checkpoints are ``kind="finetune"`` with ``model_config`` = the MAE config + ``num_classes`` +
``global_pool``, plus ``ema`` (EMA weights) when EMA is on; :func:`colormae.load`
rebuilds the classifier. Validation results go to ``<out>/eval.jsonl`` (one line per epoch) and
``<out>/finetune.json`` (the last epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import Dataset

from colormae.errors import UserError
from colormae.eval.layer_decay import finetune_optimizer
from colormae.eval.recipe import AUTO, finetune_recipe, resolve_auto
from colormae.eval.results import ClassificationMeter, warn_if_collapsed, write_results
from colormae.eval.targets import TargetTask, evaluate_targets, label_table, scores_file
from colormae.jobs.finetune import FinetuneConfig
from colormae.models.classifier import classifier_config, classifier_from_mae
from colormae.progress import progress as progress_bar
from colormae.ranks import rank_world
from colormae.train.loader import build_eval_loader

if TYPE_CHECKING:
    from colormae.train.job import TrainJob

#: Settings that may be "auto" (:func:`colormae.eval.recipe.finetune_recipe` picks them).
AUTO_SETTINGS = ("lr", "layer_decay", "drop_path", "mixup", "cutmix", "smoothing", "auto_augment", "reprob",
                 "crop_min", "warmup_epochs")
#: MAE's fine-tuning augmentation (Table 11): RandAugment(9, 0.5), increasing severity.
RAND_AUGMENT = "rand-m9-mstd0.5-inc1"


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, *, batch_size: int = 256,
             device: str | torch.device = "cpu", num_workers: int | None = 0, progress: bool = False,
             warn: bool = True) -> dict[str, Any]:
    """Top-1 / Top-5, balanced and per-class accuracy (percent) of a classifier on ``dataset``, split over
    ranks and summed (:class:`~colormae.eval.results.ClassificationMeter`; ``warn``: warn when every
    prediction is one class).

    The loader has its own generator so validation never advances the global RNG (exact resume).
    """
    rank, world = rank_world()
    loader = build_eval_loader(dataset, batch_size=batch_size, num_workers=num_workers, device=device,
                               rank=rank, world_size=world)
    was_training = model.training
    model.eval()
    classes = getattr(dataset, "classes", None)
    meter = ClassificationMeter((1, 5), class_names=classes, num_classes=len(classes) if classes else None)
    for images, targets in progress_bar(loader, desc="val", leave=False, enabled=progress and rank == 0):
        logits = model(images.to(device, non_blocking=True))
        meter.update(logits.float(), torch.as_tensor(targets).to(logits.device))
    model.train(was_training)
    meter.all_reduce()
    return meter.compute(warn=warn)


def safe_rand_augment(policy: str | None) -> str | None:
    """Cap a RandAugment policy's magnitude at 9 (``-mmax9``) unless it sets ``mmax`` itself.

    With ``mstd`` noise the magnitude reaches 10, where timm's ``PosterizeIncreasing`` keeps 0 bits, which
    recent Pillow rejects (``ValueError: bits must be between 1 and 8``); at 9 it keeps 1 bit and every
    other operation changes by a tenth of a level at most.
    """
    if policy and policy.startswith("rand") and "-mmax" not in policy:
        return policy + "-mmax9"
    return policy


def train_transform(img_size: int | tuple[int, int], *, auto_augment: str | None = RAND_AUGMENT,
                    reprob: float = 0.25, crop_min: float = 0.08, norm: Any = None) -> Any:
    """Image -> ``(C, H, W)``. RGB models: timm's training transform (RandomResizedCrop (crop_min, 1),
    flip, RandAugment, ToTensor, Normalize with ``norm``'s statistics (default ImageNet), random erasing).
    Other channel counts (RandAugment is PIL / RGB only): MAE's RandomResizedCrop + flip
    (:func:`colormae.data.mae_transform`) with ``norm``."""
    from timm.data import create_transform
    from torchvision import transforms as T

    from colormae.data.transforms import MEAN, STD, mae_transform, to_rgb

    if norm is not None and norm.channels != 3:
        return mae_transform(img_size, norm)
    mean, std = (norm.mean, norm.std) if norm is not None else (MEAN, STD)
    auto_augment = safe_rand_augment(auto_augment)
    return T.Compose([T.Lambda(to_rgb), create_transform(img_size, is_training=True, scale=(crop_min, 1.0),
                            auto_augment=auto_augment or None, interpolation="bicubic", re_prob=reprob,
                            re_mode="pixel", re_count=1, mean=mean, std=std)])


def _criterion(mixup: float, cutmix: float, smoothing: float, batch_size: int, n_cls: int
               ) -> tuple[Any, nn.Module]:
    """``(mixer or None, loss)``: timm's Mixup / CutMix with soft targets, or label smoothing, or plain CE."""
    from timm.data import Mixup
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy

    use_mix = mixup > 0 or cutmix > 0
    if use_mix and batch_size % 2:
        raise UserError(f"batch_size must be even with mixup / cutmix (got {batch_size})")
    mixer = Mixup(mixup_alpha=mixup, cutmix_alpha=cutmix, label_smoothing=smoothing,
                  num_classes=n_cls) if use_mix else None
    criterion: nn.Module = (SoftTargetCrossEntropy() if use_mix else
                            LabelSmoothingCrossEntropy(smoothing) if smoothing > 0 else nn.CrossEntropyLoss())
    return mixer, criterion


def _resolved(chosen: dict[str, Any], requested: dict[str, Any], peak: float, warmup: int,
              auto_augment: str | None) -> dict[str, Any]:
    """The values this run used, and which of them "auto" chose (saved with the checkpoint and results)."""
    resolved = {**{k: chosen[k] for k in AUTO_SETTINGS if k in chosen}, "lr": peak, "warmup_steps": warmup,
                "auto_augment": auto_augment or "none",
                "auto": sorted(k for k, v in requested.items() if v == AUTO)}
    resolved.pop("warmup_epochs", None)
    return resolved


class _Validation:
    """Top-1 / Top-5 of the model (and its EMA) at every epoch boundary, into the job's ``eval.jsonl``."""

    def __init__(self, job: TrainJob, model: nn.Module, ema: Any, val_ds: Dataset, batch_size: int,
                 workers: int | None, task: TargetTask | None = None) -> None:
        self.job, self.model, self.ema, self.val_ds = job, model, ema, val_ds
        self.batch_size, self.workers, self.task = batch_size, workers, task
        self.first = True

    def evaluate(self, model: nn.Module) -> dict[str, Any]:
        """The metrics of ``model`` on the validation split (the task's with a label file)."""
        kw: dict[str, Any] = {"batch_size": self.batch_size * 2, "device": self.job.device,
                              "num_workers": self.workers}
        if self.task is not None:
            return evaluate_targets(model, self.val_ds, self.task, **kw)[0]
        return evaluate(model, self.val_ds, warn=False, **kw)

    def __call__(self, epoch_done: float) -> None:
        """Evaluate after ``epoch_done`` epochs and log the record."""
        record: dict[str, Any] = {"epoch": epoch_done, **self.evaluate(self.model)}
        if self.ema is not None:
            record.update({f"ema_{k}": v for k, v in self.evaluate(self.ema.module).items()})
        self.job.evals.add(record, "val " + "  ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                      for k, v in record.items()
                                                      if not isinstance(v, dict | str | None)))

    def on_epoch_start(self, epoch: int) -> None:
        """The engine's hook: validate the epoch just finished (none before a run's first epoch)."""
        if self.first:  # epoch 0, or the epoch a resumed run continues: nothing new to validate
            self.first = False
            return
        self(epoch)

    def finish(self, step: int, steps_per_epoch: int) -> None:
        """Validate the run's end unless its last epoch boundary was just validated."""
        history = self.job.evals.history
        if not history or history[-1]["epoch"] != step / steps_per_epoch:
            self(step // steps_per_epoch if step % steps_per_epoch == 0 else round(step / steps_per_epoch, 3))


def freeze_classifier(model: nn.Module, blocks: int | None, encoder: bool, *, say: bool = True) -> int:
    """``--freeze-blocks N`` / ``--freeze-encoder`` on a classifier
    (:func:`colormae.models.freeze.freeze_vit`: the stem and the first N blocks, or all but the head);
    returns the number of trainable parameter elements and, when something is frozen and ``say``, prints
    what trains."""
    from colormae.models.freeze import freeze_vit, trainable_fraction
    from colormae.progress import write

    if encoder and blocks is not None:
        raise UserError("give --freeze-encoder or --freeze-blocks N, not both")
    if encoder or blocks is not None:
        freeze_vit(model, None if encoder else blocks)
    trainable, total = trainable_fraction(model)
    if say and trainable < total:
        depth = len(model.blocks)
        top = f"blocks {blocks}..{depth - 1}, " if blocks is not None and blocks < depth else ""
        what = "the head" if encoder else f"{top}the norms and the head"
        write(f"frozen encoder: {what} train ({trainable:,} of {total:,} parameters)")
    return trainable


def _attach_ema(model: nn.Module, decay: float | None, device: torch.device, resume_path: Path | None,
                payload: dict[str, Any]) -> tuple[Any, Callable[[int], None]]:
    """``(ema or None, on_step_end)``: timm's ``ModelEmaV3`` of ``model`` (restored from ``resume_path``),
    its weights in ``payload["ema"]``, and the hook that updates it after every optimizer step."""
    ema = None
    if decay:
        from timm.utils import ModelEmaV3

        from colormae.train.checkpoint import load_checkpoint

        ema = ModelEmaV3(model, decay=decay, device=device)
        if resume_path is not None:
            ema.module.load_state_dict(load_checkpoint(resume_path)["ema"])
        # the engine saves the payload at checkpoint time: these tensors are updated in place by the EMA
        payload["ema"] = ema.module.state_dict()

    def on_step_end(step: int) -> None:
        # after every optimizer step, before the engine checkpoints it: a checkpoint at step s holds the
        # EMA of updates 1..s, so resuming continues it exactly
        if ema is not None:
            ema.update(model, step=step)

    return ema, on_step_end


def _classify_step(mixer: Any, criterion: Callable[..., torch.Tensor], device: torch.device,
                   table: torch.Tensor | None = None) -> Callable[..., Any]:
    """The engine's ``step_fn``: ``(images (B, C, H, W), targets (B,))`` -> (loss, {}), Mixup / CutMix
    applied when ``mixer`` is set; with ``table`` (a label file's ``(N, C)`` targets) the batch's labels
    are rows of it."""

    def step_fn(net: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        images, targets = batch
        images = images.to(device, non_blocking=True)
        targets = torch.as_tensor(targets)
        targets = (table[targets.long()] if table is not None else targets).to(device, non_blocking=True)
        if mixer is not None:
            images, targets = mixer(images, targets)
        return criterion(net(images), targets), {}

    return step_fn


def finetune(cfg: FinetuneConfig, *, stop_at_step: int | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.ckpt``'s encoder on ``cfg.data`` into ``cfg.out``; returns the final results dict.

    ``cfg.ckpt`` is anything :func:`colormae.load` reads that holds an MAE (a pretraining run or
    checkpoint, a foreign checkpoint, ``random:<preset>`` for training from scratch). A setting left at
    ``"auto"`` takes the value :func:`colormae.eval.recipe.finetune_recipe` picks for this data set's size,
    the encoder's depth, the effective batch and the run's length (``warmup_epochs="auto"``: 5 % of the
    steps); :data:`colormae.eval.recipe.PAPER` holds MAE's ViT-B values. ``lr=None`` means
    ``base_lr * effective_batch / 256``. Checkpoints are written every epoch unless ``ckpt_every`` (steps)
    says otherwise; ``resume`` continues bit-exactly.
    """
    from colormae.config import saved_config
    from colormae.data import data_payload
    from colormae.eval.probes import eval_normalization
    from colormae.eval.schedule import build_schedule, drop_last
    from colormae.loading import load_for_data
    from colormae.train.distributed import init_distributed, seed_everything
    from colormae.train.engine import resolve_resume
    from colormae.train.job import TrainJob
    from colormae.train.loader import build_train_loader, resolve_num_workers

    table = _label_table(cfg)
    info, dev = init_distributed(cfg.device)
    seed_everything(cfg.seed + info.rank)
    loaded = load_for_data(cfg.ckpt, cfg.data, init_channels=cfg.init_channels, seed=cfg.seed,
                           progress=info.is_main and cfg.progress, say=info.is_main,
                           stats_file=cfg.stats_file)
    if loaded.kind == "finetune":
        raise UserError(f"{cfg.ckpt}: already a fine-tuned classifier; pass the pretraining checkpoint")
    mae = loaded.mae()
    img = loaded.img_size
    norm = eval_normalization(loaded, cfg.data, cfg.normalize, progress=info.is_main and cfg.progress,
                              stats_file=cfg.stats_file)
    train_ds, val_ds, n_cls = _splits(cfg.data, table, img, norm)
    out = Path(cfg.out)
    resume_path = resolve_resume(cfg.resume, out)
    job = TrainJob.from_config(cfg, device=dev, dist=info, epochs=cfg.epochs, desc="finetune",
                               ckpt_every=None, resume=resume_path or None, stop_at_step=stop_at_step)
    workers = resolve_num_workers(cfg.num_workers)  # None: from the CPUs of each local process
    loader = build_train_loader(train_ds, batch_size=cfg.batch_size, seed=cfg.seed, dist=info,
                                num_workers=workers, device=dev, drop_last=drop_last(cfg))
    steps_per_epoch, total = job.plan(loader, f"{cfg.data}: {len(train_ds)} images are too few for an "
                                              f"effective batch of {job.effective_batch}")
    recipe = finetune_recipe(len(train_ds), mae.config.depth, job.effective_batch, total_steps=total,
                             pretrained=loaded.kind != "random")
    requested = {k: getattr(cfg, k) for k in AUTO_SETTINGS}
    chosen = resolve_auto(requested, recipe)
    auto_augment = None if (chosen["auto_augment"] or "none").lower() == "none" else chosen["auto_augment"]
    train_ds.transform = train_transform(img, auto_augment=auto_augment,  # type: ignore[attr-defined]
                                         reprob=chosen["reprob"], crop_min=chosen["crop_min"], norm=norm)
    model = classifier_from_mae(mae, n_cls, global_pool=cfg.global_pool,
                                drop_path_rate=chosen["drop_path"]).to(dev)
    trainable = freeze_classifier(model, cfg.freeze_blocks, cfg.freeze_encoder, say=info.is_main)
    schedule, peak, warmup = build_schedule(cfg, chosen, job.effective_batch, steps_per_epoch, total)
    optimizer = finetune_optimizer(model, peak, weight_decay=cfg.weight_decay,
                                   layer_decay=chosen["layer_decay"])
    task = _target_task(table, requested, chosen)
    mixer, criterion = _criterion(chosen["mixup"], chosen["cutmix"], chosen["smoothing"], cfg.batch_size,
                                  n_cls) if task is None else (None, task.loss)
    resolved = _resolved(chosen, requested, peak, warmup, auto_augment)
    payload: dict[str, Any] = {"kind": "finetune", "config": saved_config(cfg), "recipe": resolved,
                               "model_config": classifier_config(mae.config, n_cls, cfg.global_pool),
                               "classes": list(getattr(train_ds, "classes", None) or []),  # names for exports
                               "data": data_payload(norm, norm_pix_loss=mae.config.norm_pix_loss,
                                                    img_size=img),
                               **({"targets": task.as_dict()} if task else {})}
    ema, on_step_end = _attach_ema(model, cfg.ema_decay, dev, resume_path, payload)
    validate = _Validation(job, model, ema, val_ds, cfg.batch_size, workers, task)
    step_fn = _classify_step(mixer, criterion, dev, train_ds.label_targets if task else None)  # type: ignore
    result = job.fit(model, loader, step_fn, optimizer, schedule, on_epoch_start=validate.on_epoch_start,
                     on_step_end=on_step_end, payload=payload)
    validate.finish(result.step, steps_per_epoch)
    history = job.evals.history
    last = {**history[-1], **(_target_results(cfg, task, model, validate) if task else {})}
    final = job.report("finetune", cfg, result, recipe=resolved, trainable_params=trainable, **last,
                       history=history)
    if info.is_main:
        _warn(final, task)
        write_results(out / "finetune.json", final)
    return final


def _label_table(cfg: FinetuneConfig) -> Any:
    """The label table of ``cfg`` (:func:`colormae.eval.targets.label_table`), or ``None`` after checking
    that ``cfg.data`` has train and val class folders."""
    from colormae.eval.probes import check_splits

    table = label_table(cfg)
    if table is None:
        check_splits(cfg.data)
    return table


def _splits(data: str, table: Any, img: tuple[int, int], norm: Any) -> tuple[Dataset, Dataset, int]:
    """``(train, val, classes)``: the class folders of ``data`` or a label table's images; the training
    transform is set later, once the recipe knows the data set's size."""
    from colormae.data import build_dataset, eval_transform, num_classes
    from colormae.data.labelled import LabelledImages

    tf = eval_transform(img, norm)
    if table is not None:
        train: Dataset = LabelledImages(table, "train", channels=norm.channels)
        return train, LabelledImages(table, "val", tf, channels=norm.channels), len(table.names)
    train = build_dataset(data, split="train", channels=norm.channels)
    return train, build_dataset(data, split="val", transform=tf, channels=norm.channels), num_classes(train)


def _target_task(table: Any, requested: dict[str, Any], chosen: dict[str, Any]) -> TargetTask | None:
    """A label table's :class:`~colormae.eval.targets.TargetTask` (``None`` without one). Mixup / CutMix
    mix one class an image: "auto" turns them off here, an explicit value is a :class:`UserError`."""
    if table is None:
        return None
    for key in ("mixup", "cutmix"):
        if requested[key] != AUTO and chosen[key]:
            raise UserError(f"{key}={chosen[key]}: mixing is for one class an image; with labels= set "
                            f"{key}=0 (or auto)")
        chosen[key] = 0.0
    smoothing = chosen["smoothing"] if table.task == "multilabel" else 0.0
    return TargetTask.fit(table.task, table.names, table.train.targets, smoothing)


def _target_results(cfg: FinetuneConfig, task: TargetTask, model: nn.Module, validate: _Validation
                    ) -> dict[str, Any]:
    """The final model's metrics on the validation split of a label file, and its scores saved next to
    ``finetune.json`` (:func:`colormae.eval.targets.scores_file`)."""
    from colormae.data.labelled import paths_of, targets_of

    metrics, scores, rows = evaluate_targets(model, validate.val_ds, task, batch_size=cfg.batch_size * 2,
                                             device=validate.job.device, num_workers=validate.workers)
    saved = scores_file(cfg.out, "finetune", scores, targets_of(validate.val_ds, rows), task.names,
                        paths_of(validate.val_ds, rows))
    return {**metrics, "task": task.kind, "labels": cfg.labels, "classes": task.names, **saved}


def _warn(results: dict[str, Any], task: TargetTask | None) -> None:
    """A results warning: the collapse warning of classification, one ``warning:`` line for targets."""
    from colormae.progress import warn

    if task is None:
        warn_if_collapsed(results)
    elif results.get("warning"):
        warn(str(results["warning"]))

"""``colormae convert``: move MAE weights between facebookresearch/mae, mmpretrain (official ColorMAE),
Hugging Face ViTMAE, timm and colormae checkpoints; write the encoder as the backbone of mmseg, mmdet's
or detectron2's ViTDet, or as an ONNX model.

SRC is anything colormae reads (colormae.load): a run directory or checkpoint, a foreign file, a Hugging
Face folder, or random:<preset>. It is read safely: safetensors, torch.load(weights_only=True), and for
raw mmengine training files a restricted unpickler that turns unknown classes into inert placeholders
and never runs their code. Its layout is detected from the key names unless --from says it. Unknown
layouts and shape mismatches are reported with the offending keys. Head counts cannot be read from
weights: they come from the checkpoint's own config or metadata, then a matching preset; a guess is
printed as a note; override with --num-heads / --decoder-num-heads.
"""

from __future__ import annotations

import argparse

EXAMPLES = """\
examples:
  colormae convert mae_pretrain_vit_base_full.pth -o runs/vitb.pt           # facebookresearch/mae -> ours
  colormae convert colormae_green_300e.pth -o runs/green.pt --from mmpretrain   # official ColorMAE -> ours
  colormae convert runs/demo/pretrain -o runs/demo_vit.safetensors --to timm    # encoder -> timm ViT
  colormae convert runs/ft -o runs/ft_vit.safetensors --to timm           # fine-tuned classifier -> timm
  colormae convert runs/demo/pretrain -o runs/hf_demo/ --to hf           # whole model -> HF ViTMAE
  colormae convert runs/hf_demo/ -o runs/back.pt                         # HF folder -> ours
  colormae convert runs/vitb -o runs/vitb_mmseg.pth --to mmseg           # mmseg MAE backbone
  colormae convert runs/vitb -o runs/vitb_vitdet.pth --to mmdet-vitdet   # mmdet ViTDet backbone
  colormae convert runs/vitb -o runs/encoder.onnx --to onnx              # encoder -> ONNX

--to timm writes the encoder (a fine-tuned run: the whole classifier, with its class count and names) as a
safetensors state dict; load it with
  timm.create_model(NAME, pretrained=False, num_classes=N, pretrained_cfg_overlay=CFG, **KWARGS)
      .load_state_dict(load_file(DST))
where NAME, N, CFG (mean, std, input size, class names: what timm.data.resolve_data_config reads) and
KWARGS are printed (and stored in the file's metadata). A timm source holds no decoder: the imported
decoder is freshly initialised. -o names must match the format (.safetensors for timm, .pt for colormae,
.onnx for onnx, .pth for mmseg / ViTDet).

--to mmseg / mmdet-vitdet write one file for both of mmseg's / mmdet's loading routes; the config lines
(official ColorMAE configs; FILE is -o):
{routes}
--to onnx writes the encoder: images (B, C, H, W) -> tokens (B, 1 + N, D) ([CLS] first, final norm, no
masking), dynamic batch; metadata_props hold colormae_img_size, colormae_mean, colormae_std.
"""

#: ``--to`` -> the config lines that load the written file, one per route.
ROUTES = {
    "mmseg": [
        "init_cfg (official; colormae-base_upernet_8xb2-amp-160k_ade20k-512x512.py, init_values=1.0):",
        "  --cfg-options model.pretrained=FILE",
        "  or: model.pretrained=None model.backbone.init_cfg.type=Pretrained "
        "model.backbone.init_cfg.checkpoint=FILE",
        "load_from: --cfg-options model.pretrained=None load_from=FILE",
    ],
    "mmdet-vitdet": [
        "init_cfg (official; vitdet_mask-rcnn_vit-b-mae_lsj-100e.py):",
        "  --cfg-options model.backbone.init_cfg.checkpoint=FILE",
        "load_from: --cfg-options model.backbone.init_cfg=None load_from=FILE",
    ],
    "detectron2-vitdet": ["train.init_checkpoint=FILE (detectron2 projects/ViTDet/configs/COCO/"
                          "mask_rcnn_vitdet_b_100ep.py)"],
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``colormae convert``."""
    from colormae.convert.formats import FROM_LAYOUTS, TO_FORMATS

    routes = "\n".join(f"  --to {to}:\n" + "\n".join(f"    {line}" for line in lines)
                       for to, lines in ROUTES.items())
    parser = sub.add_parser("convert",
                            help="import / export checkpoints (mae, mmpretrain, HF, timm; mmseg, ViTDet, "
                                 "ONNX)",
                            description=__doc__, epilog=EXAMPLES.format(routes=routes),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", metavar="SRC", help="checkpoint file, colormae run directory, or HF folder")
    parser.add_argument("-o", "--out", required=True, metavar="DST",
                        help="output: a .pt checkpoint (colormae), a .safetensors file (timm), a folder "
                             "(hf), a .pth file (mmseg, ViTDet) or an .onnx file (onnx)")
    parser.add_argument("--from", dest="from_", choices=FROM_LAYOUTS, default="auto",
                        help="source layout (default: detected from the keys)")
    parser.add_argument("--to", choices=TO_FORMATS, default="colormae",
                        help="output format (default colormae)")
    parser.add_argument("--num-heads", type=int, default=None, help="encoder attention heads (override)")
    parser.add_argument("--decoder-num-heads", type=int, default=None,
                        help="decoder attention heads (override)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Convert and say what was written."""
    from colormae.export import convert

    overrides = {k: v for k, v in (("num_heads", args.num_heads),
                                   ("decoder_num_heads", args.decoder_num_heads)) if v is not None}
    loaded = convert(args.src, args.out, from_=args.from_, to=args.to, **overrides)
    cfg = loaded.config
    print(f"read {loaded.name} as {loaded.source_format}: ViT {cfg.embed_dim}x{cfg.depth} ({cfg.num_heads} "
          f"heads), patch {cfg.patch_size}, {cfg.img_size} px; decoder {cfg.decoder_embed_dim}x"
          f"{cfg.decoder_depth}")
    for note in loaded.notes:
        print(f"note: {note}")
    print(f"wrote {args.out} ({args.to})")
    if args.to == "timm":
        from safetensors import safe_open

        from colormae.convert import timm_create_call

        with safe_open(str(args.out), "pt") as fh:
            meta = fh.metadata()
        print(f"load with model = {timm_create_call(meta)}")
        print(f"  then model.load_state_dict(safetensors.torch.load_file({str(args.out)!r})); "
              "timm.data.resolve_data_config(model=model) gives its preprocessing")
    for line in ROUTES.get(args.to, []):
        print(("load with " if not line.startswith(" ") else "") + line.replace("FILE", str(args.out)))
    return 0

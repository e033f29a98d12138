"""The checkpoint layouts ``colormae convert`` reads and the formats it writes (no heavy imports: the
CLI's parser uses them for ``--help``)."""

#: Layouts a checkpoint can be read from (``auto`` detects one from the keys).
FROM_LAYOUTS = ("auto", "colormae", "mae", "mmpretrain", "hf", "timm")
#: Formats a model can be written to: whole models (colormae, hf), encoders (timm), and the backbone
#: layouts of the dense stacks the official ColorMAE release uses (mmseg's MAE backbone, mmdet's and
#: detectron2's ViTDet), and the encoder as an ONNX model.
TO_FORMATS = ("colormae", "timm", "hf", "mmseg", "mmdet-vitdet", "detectron2-vitdet", "onnx")

#: File name endings each file format is written under (``hf`` writes a folder); a name without an ending
#: is taken as it is.
SUFFIXES = {"colormae": (".pt", ".pth", ".ckpt"), "timm": (".safetensors",), "onnx": (".onnx",),
            "mmseg": (".pth", ".pt"), "mmdet-vitdet": (".pth", ".pt"), "detectron2-vitdet": (".pth", ".pt")}

"""The checkpoint layouts ``colormae convert`` reads and the formats it writes (no heavy imports: the
CLI's parser uses them for ``--help``)."""

#: Layouts a checkpoint can be read from (``auto`` detects one from the keys).
FROM_LAYOUTS = ("auto", "colormae", "mae", "mmpretrain", "hf", "timm")
#: Formats a model can be written to.
TO_FORMATS = ("colormae", "timm", "hf")

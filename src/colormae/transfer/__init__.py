"""Dense transfer jobs: fine-tune a segmentor or a detector from any checkpoint, and compare arms."""

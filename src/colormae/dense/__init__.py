"""Dense prediction from a pretrained encoder: semantic segmentation and object detection."""

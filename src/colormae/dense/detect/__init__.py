"""Object detection and instance segmentation: ViTDet's Mask R-CNN on torchvision, COCO data and COCOeval."""

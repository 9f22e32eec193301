"""GloRe data: list parsing -> records, clip sampling, frame reading, clip augmentation, datasets."""

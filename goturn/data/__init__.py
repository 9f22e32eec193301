"""GOTURN's data pipeline: index (alov.py, imagenet_det.py -> records.py),
then crop (crops.py), move (motion.py), make examples (examples.py) and
assemble batches (stream.py). demo.py writes a synthetic data set."""

"""torch.hub entry points, for using trained models from Python without this repository's
commands:

    tracker = torch.hub.load(REPO, "goturn", checkpoint="goturn/runs/.../checkpoint.pth")
    tracker.init(first_frame, [x, y, w, h]); box = tracker.update(next_frame)
    classifier = torch.hub.load(REPO, "glore", checkpoint="glore/runs/.../checkpoint.pth")
    classifier.predict("video.avi")      # [(class name, probability), ...], most likely first

REPO is a local clone (``source="local"``) or the GitHub repository. Checkpoints are the ones
goturn.train and glore.train write (GOTURN also takes a goturn-pytorch ``.ckpt``); nothing is
downloaded.
"""

dependencies = ["torch", "numpy", "cv2", "av", "PIL"]


def goturn(checkpoint, device="auto"):
    """A ready GOTURN tracker (goturn.tracking.tracker.Tracker): ``init(image, box)``, then
    ``update(image) -> box`` per frame (``[x, y, w, h]``; images RGB uint8 arrays or PIL)."""
    from goturn.tracking.tracker import Tracker

    return Tracker(checkpoint, device=device)


def goturn_net(checkpoint):
    """The GOTURN network with the checkpoint's weights, in eval mode:
    ``net(target_crops, search_crops) -> N x 4`` boxes in crop units."""
    from goturn.tracking.tracker import load_model

    return load_model(checkpoint).eval()


def glore(checkpoint, device="auto", clips=10, crops=3):
    """A ready GloRe video classifier (glore.inference.trained_model.VideoClassifier):
    ``predict(video, topk=5)``, ``probabilities(video)``, ``class_names``."""
    from glore.inference.trained_model import VideoClassifier

    return VideoClassifier(checkpoint, device=device, clips=clips, crops=crops)

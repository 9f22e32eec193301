"""Take batches off the data loader in a background thread.

A DataLoader with worker processes has batches ready long before the
training step asks, yet handing one over still costs the training process
real time: unpickling the batch, receiving its shared-memory file
descriptors and mapping them, and sending the worker its next index. For a
small model (the GloRe demo's steps take ~60 ms) that fixed cost alone was
2-5 % of the step, all of it counted as waiting for data. A thread that
pulls the next batches while the step computes hides it: torch's kernels
release the GIL, so the hand-over runs beside them. (DataLoader does the
same with its pin-memory thread on CUDA; this works on every device.)

The order of the batches is the loader's; the thread never touches a random
stream, so runs stay bitwise reproducible.
"""

import queue
import threading

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class BackgroundIterator:
    """Iterate ``iterable`` in a daemon thread, up to ``depth`` items ahead.

    An exception raised by the source is re-raised by ``__next__`` in the
    consumer, in order, after the items before it. ``close()`` (or leaving a
    ``with`` block) stops the thread; call it when the consumer stops early
    so the thread does not keep the loader busy.
    """

    def __init__(self, iterable, depth: int = 2, name: str = "batch-prefetch"):
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._source = iter(iterable)
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(_Failure(error))
            return
        self._put(_DONE)

    def _put(self, item) -> bool:
        """Queue ``item`` unless asked to stop; False when stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        item = self._queue.get()
        if item is _DONE:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.error
        return item

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread. It may be inside the source's ``next()`` (a loader
        waiting for a worker), so wait for it a while, not forever."""
        self._stop.set()
        self._finished = True
        while True:  # free a slot in case the thread is blocked on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

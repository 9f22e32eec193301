"""common/loader.py: the run's steps resume by index and run through the remaining epochs."""

from common.loader import RunSteps


def test_run_steps_resume_by_index_and_run_to_the_last_epoch():
    steps = RunSteps(5, epochs=4)
    steps.start_at(3, 2)
    assert list(steps) == [(3, 2), (3, 3), (3, 4)] and len(steps) == 3
    steps.start_at(2, 4)
    assert list(steps) == [(2, 4), (3, 0), (3, 1), (3, 2), (3, 3), (3, 4)] and len(steps) == 6
    assert RunSteps(5, 4, batch_at=lambda e, s: [e, s]).first_steps(1, 2) == [[1, 0], [1, 1]]

"""Concluding a split pass's hunts in two processes (hunter.search.sharing), played here by two
threads of this process over real pipes: which hunts move is decided by what is under way, so each
test holds one side inside a hunt (an event it waits on) while the other runs out and asks."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from hunter.errors import EventSourceError
from hunter.search.sharing import Channel, Sharing, lightest_half


def test_the_lightest_hunts_are_given_up_to_half_of_what_is_left() -> None:
    todo = [1, 3, 5, 7]  # heaviest first
    weights = {1: 40, 3: 30, 5: 15, 7: 5}
    assert lightest_half(todo, weights) == [7, 5]  # 5 + 15 of 45, then 30 does not fit
    assert todo == [1, 3]
    assert lightest_half([1], {1: 9}) == []  # one left: it stays
    assert lightest_half([], {}) == []
    # the hunt under way counts at half: 100 under way and 20 left, 35 may go
    todo = [2, 4]
    assert lightest_half(todo, {2: 10, 4: 10}, busy=100) == [4, 2]
    assert todo == []


@pytest.fixture
def pipes() -> Iterator[tuple[Channel, Channel, int]]:
    """The parent's and the helper's channels, and the file the helper writes its answers to."""
    down, up = os.pipe(), os.pipe()  # parent -> helper, helper -> parent
    with tempfile.TemporaryFile() as spill:
        parent, helper = Channel(up[0], down[1]), Channel(down[0], up[1])
        yield parent, helper, spill.fileno()
        parent.close()
        helper.close()


def side(
    channel: Channel,
    own: Sequence[int],
    weights: Mapping[int, int],
    conclude: Callable[[int, Mapping[int, Any]], Any],
    *,
    parent: bool,
    spill: int,
) -> Sharing[Any]:
    found = {number: f"output {number}" for number in own}  # a run per hunt, numbered alike
    return Sharing(
        channel,
        own,
        weights,
        found,
        runs_of=list,
        conclude=conclude,
        parent=parent,
        spill=spill,
    )


def test_a_process_that_runs_out_takes_the_lightest_of_what_the_other_has_not_begun(
    pipes: tuple[Channel, Channel, int],
) -> None:
    """The helper is inside its heaviest hunt when the parent runs out: it gives the hunts it has
    not begun (the one under way counts at half), at once; the parent concludes them from the
    outputs that came with them, asks again, gets nothing and stops; the helper then ends its hunt,
    finds nothing to take, and its answers reach the parent through the shared file."""
    parent_channel, helper_channel, spill = pipes
    release = threading.Event()
    where: dict[int, str] = {}

    def conclude(number: int, found: Mapping[int, Any]) -> str:
        where[number] = threading.current_thread().name
        if number == 0:
            assert release.wait(timeout=60)
        return f"answer {number} from {found[number]}"

    helper = side(
        helper_channel, [0, 2, 4, 6], {0: 100, 2: 5, 4: 5, 6: 5}, conclude, parent=False, spill=spill
    )
    parent = side(parent_channel, [1], {1: 1}, conclude, parent=True, spill=spill)

    def run_helper() -> None:
        helper_channel.send("concluded", helper.run())

    thread = threading.Thread(target=run_helper, name="helper")
    thread.start()
    mine = parent.run()
    release.set()
    theirs = parent.helper_answer()
    thread.join()
    assert parent.taken == [6, 4, 2] and helper.given == [6, 4, 2]
    assert sorted(mine) == [1, 2, 4, 6] and list(theirs) == [0]
    assert {**mine, **theirs} == {
        number: f"answer {number} from output {number}" for number in (0, 1, 2, 4, 6)
    }
    assert where[0] == "helper" and all(where[number] != "helper" for number in (1, 2, 4, 6))
    assert helper.taken == [] and parent.given == []


def test_the_helper_takes_from_the_parent_too(pipes: tuple[Channel, Channel, int]) -> None:
    """The other way round: the parent is inside a heavy hunt, the helper runs out and takes the
    parent's lightest; the helper's answers still reach the parent."""
    parent_channel, helper_channel, spill = pipes
    release = threading.Event()

    def conclude(number: int, found: Mapping[int, Any]) -> str:
        if number == 0:
            assert release.wait(timeout=60)
        return f"answer {number}"

    parent = side(parent_channel, [0, 2, 4], {0: 50, 2: 3, 4: 2}, conclude, parent=True, spill=spill)
    helper = side(helper_channel, [1], {1: 1}, conclude, parent=False, spill=spill)
    done = threading.Event()

    def run_helper() -> None:
        concluded = helper.run()
        done.set()
        helper_channel.send("concluded", concluded)

    thread = threading.Thread(target=run_helper, name="helper")
    thread.start()

    def run_parent() -> dict[int, Any]:
        return parent.run()

    result: dict[str, dict[int, Any]] = {}
    main = threading.Thread(target=lambda: result.update(mine=run_parent()))
    main.start()
    assert done.wait(timeout=60)  # the helper took 4 and 2 while the parent was inside 0, and ended
    release.set()
    main.join()
    theirs = parent.helper_answer()
    thread.join()
    assert helper.taken == [4, 2] and parent.given == [4, 2]
    assert sorted(result["mine"]) == [0] and sorted(theirs) == [1, 2, 4]
    assert theirs[2] == "answer 2"


def test_a_failure_of_the_helper_is_raised_in_the_parent(pipes: tuple[Channel, Channel, int]) -> None:
    """An error the helper sends is raised where the parent next waits for the helper; a helper
    that ends without a word is said to have."""
    parent_channel, helper_channel, spill = pipes
    parent = side(parent_channel, [1], {1: 1}, lambda number, found: number, parent=True, spill=spill)
    helper_channel.send("error", ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        parent.run()
    parent.stop()


def test_a_failure_of_the_helper_stops_the_parent_before_its_next_hunt(
    pipes: tuple[Channel, Channel, int],
) -> None:
    """The helper's error (its events out of order, which makes the parent read the files again
    unstreamed) is raised as soon as the hunt under way ends, not after every hunt is concluded."""
    parent_channel, helper_channel, spill = pipes
    concluded: list[int] = []

    def conclude(number: int, found: Mapping[int, Any]) -> int:
        concluded.append(number)
        if number == 0:
            helper_channel.send("error", ValueError("out of order"))
            assert parent.failed.wait(timeout=60)
        return number

    parent = side(parent_channel, [0, 1, 2], {0: 3, 1: 2, 2: 1}, conclude, parent=True, spill=spill)
    with pytest.raises(ValueError, match="out of order"):
        parent.run()
    parent.stop()
    assert concluded == [0]


def test_a_helper_that_ends_without_its_answer_is_an_error(pipes: tuple[Channel, Channel, int]) -> None:
    parent_channel, helper_channel, spill = pipes
    os.close(helper_channel.write_end)
    helper_channel.write_end = os.open(os.devnull, os.O_WRONLY)  # closed again by the fixture
    parent = side(parent_channel, [1], {1: 1}, lambda number, found: number, parent=True, spill=spill)
    with pytest.raises(EventSourceError, match="ended without results"):
        parent.run()
    parent.stop()

"""The hub: fan-out, late snapshots, and mailboxes that stay bounded whatever the viewer's pace."""

import asyncio
import json
from typing import Any

import pytest

from layerlab.engine.hub import Frame, Hub, Mailbox, frame_text


def point(step: int) -> dict[str, Any]:
    return {"step": step, "train_loss": 1.0 / (step + 1)}


def grid(step: int) -> dict[str, Any]:
    return {"step": step, "shape": [2, 2], "data": "AAAAAA=="}


async def frames_of(mailbox: Mailbox) -> list[dict[str, Any]]:
    return await asyncio.wait_for(mailbox.next_frames(), 1.0)


def test_a_subscriber_gets_a_snapshot_then_what_follows() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.open("r", {"id": "r", "status": "running"})
        hub.publish_metrics("r", point(0))
        hub.publish_grid("r", grid(0))
        async with hub.subscribe("r") as (snapshot, mailbox):
            assert snapshot["type"] == "snapshot"
            assert snapshot["history"] == [point(0)]
            assert snapshot["grid"] == grid(0)
            hub.publish_metrics("r", point(1))
            hub.publish_metrics("r", point(2))
            hub.publish_grid("r", grid(2))
            assert await frames_of(mailbox) == [
                {"type": "metrics", "points": [point(1), point(2)]},
                {"type": "grid", **grid(2)},
            ]
            assert hub.viewers("r") == 1
        assert hub.viewers("r") == 0

    asyncio.run(scenario())


def test_a_newer_grid_replaces_an_unsent_one() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.open("r", {"status": "running"})
        async with hub.subscribe("r") as (_, mailbox):
            for step in range(10):
                hub.publish_grid("r", grid(step))
            frames = await frames_of(mailbox)
            assert frames == [{"type": "grid", **grid(9)}]
            assert mailbox.replaced_grids == 9

    asyncio.run(scenario())


def test_a_viewer_that_never_reads_holds_a_bounded_mailbox() -> None:
    async def scenario() -> None:
        hub = Hub(max_history_points=400, max_pending_points=100)
        hub.open("r", {"status": "running"})
        async with hub.subscribe("r") as (_, mailbox):
            for step in range(10_000):
                hub.publish_metrics("r", point(step))
                hub.publish_grid("r", grid(step))
                assert mailbox.pending <= 100 + 1
            frames = await frames_of(mailbox)
            steps = [p["step"] for p in frames[0]["points"]]
            assert steps == sorted(steps)
            assert steps[-1] == 9999  # thinned, never cut short
            assert len(hub.channels["r"].history) <= 400

    asyncio.run(scenario())


def test_status_changes_merge_and_a_final_one_comes_last_and_ends_the_stream() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.open("r", {"status": "queued"})
        async with hub.subscribe("r") as (_, mailbox):
            hub.publish_status("r", {"status": "running", "model_info": {"task": "binary"}})
            hub.publish_metrics("r", point(5))
            hub.publish_status("r", {"status": "done", "final_metrics": {"test_acc": 1.0}})
            frames = await frames_of(mailbox)
            assert frames == [
                {"type": "metrics", "points": [point(5)]},
                {
                    "type": "status",
                    "status": "done",
                    "model_info": {"task": "binary"},
                    "final_metrics": {"test_acc": 1.0},
                },
            ]
            assert await frames_of(mailbox) == []  # ended
        assert hub.snapshot("r") is not None and hub.snapshot("r")["run"]["status"] == "done"  # type: ignore[index]

    asyncio.run(scenario())


def test_a_non_final_status_comes_before_the_numbers() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.open("r", {"status": "running"})
        async with hub.subscribe("r") as (_, mailbox):
            hub.publish_metrics("r", point(1))
            hub.publish_status("r", {"status": "paused"})
            frames = await frames_of(mailbox)
            assert [f["type"] for f in frames] == ["status", "metrics"]

    asyncio.run(scenario())


def test_subscribing_to_an_unknown_run_raises_and_discard_ends_viewers() -> None:
    async def scenario() -> None:
        hub = Hub()
        with pytest.raises(KeyError):
            async with hub.subscribe("missing"):
                pass
        hub.open("r", {"status": "running"})
        async with hub.subscribe("r") as (_, mailbox):
            hub.discard("r")
            assert await frames_of(mailbox) == []
        assert "r" not in hub.channels

    asyncio.run(scenario())


def test_a_grid_and_a_point_are_written_as_json_once_for_every_viewer() -> None:
    async def scenario() -> None:
        hub = Hub()
        hub.open("r", {"id": "r", "status": "running"})
        async with hub.subscribe("r") as (_, first), hub.subscribe("r") as (_, second):
            hub.publish_metrics("r", {**point(1), "test_loss": float("nan")})
            hub.publish_grid("r", grid(1))
            sent_first, sent_second = await frames_of(first), await frames_of(second)
            assert sent_first[1] is sent_second[1]  # one grid frame, shared
            texts = [frame_text(frame) for frame in sent_first + sent_second]
            assert json.loads(texts[0]) == {
                "type": "metrics",
                "points": [{**point(1), "test_loss": None}],  # NaN as JSON null
            }
            assert json.loads(texts[1]) == {"type": "grid", **grid(1)}
            assert texts[:2] == texts[2:]
            shared_point = sent_first[0]["points"][0]
            assert isinstance(shared_point, Frame) and shared_point._text is not None
            assert sent_second[0]["points"][0] is shared_point

    asyncio.run(scenario())

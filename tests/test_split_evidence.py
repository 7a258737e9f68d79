"""Steps of `evidence.write_evidence` on a real analysis of the vfr_phone sample."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from convoycount.evidence import _decode_once, _render_facts, _TileCollector
from convoycount.evidence.sheet import plan_tiles
from convoycount.pipeline import analyze
from convoycount.video import Frame, frames

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "vfr_phone.mp4"


@pytest.fixture(scope="module")
def report():
    if not SAMPLE.exists():
        pytest.skip("samples/vfr_phone.mp4 is not in the checkout")
    return analyze(SAMPLE)


def test_tiles_come_from_their_planned_frames_and_a_time_mismatch_is_counted(report):
    specs = plan_tiles(report)
    assert specs, "the sample has crossings"
    tiles = _TileCollector(report, specs)
    for f in frames(report.input_path):
        tiles(f)
    assert sorted(tiles.tiles) == sorted(s.n for s in specs)
    assert tiles.time_mismatches == 0
    # the same picture under another timestamp is not the frame the analysis saw
    timed = next(s for s in specs if s.frame_time_s is not None)
    f = next(fr for fr in frames(report.input_path) if fr.index == timed.frame_index)
    tiles(Frame(index=f.index, time_s=f.time_s + 0.01, image=f.image))
    assert tiles.time_mismatches == 1


def test_render_facts_without_video_stop_at_the_last_tile_frame(report, tmp_path):
    specs = plan_tiles(report)
    tiles = _TileCollector(report, specs)
    seen, written = [], {}
    res = _decode_once(report, tmp_path, tiles, False, seen.append, written)
    assert written == {} and not (tmp_path / "annotated.mp4").exists()
    assert seen[-1] == 0.90
    # every tile was drawn, and decoding stopped there rather than at the end
    assert sorted(tiles.tiles) == sorted(s.n for s in specs)
    assert max(s.frame_index for s in specs) <= res.frames < report.frames_processed
    facts = _render_facts(report, res, False, tiles.time_mismatches)
    assert facts == {"frames re-decoded": res.frames,
                     "frames analysed": report.frames_processed,
                     "first frame time (s)": res.first_time_s,
                     "last frame time (s)": res.last_time_s}
    # with the video, a re-decode of another length warns that boxes may not line up
    other = dataclasses.replace(report, frames_processed=res.frames + 1)
    facts = _render_facts(other, res, True, 2)
    assert facts["box/frame time mismatches"] == res.time_mismatches + 2
    assert "boxes may not line up" in facts["note"]
    assert "note" not in _render_facts(dataclasses.replace(report, frames_processed=res.frames),
                                       res, True, 0)

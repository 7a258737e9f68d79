"""Steps of the synthetic planner: how vehicles are dealt to lanes."""
from __future__ import annotations

from convoycount.synth.config import SynthConfig
from convoycount.synth.plan import RNG_SCENE, RNG_VEHICLES, _lane_queues, rng_for
from convoycount.synth.scene import make_palette


def _queues(**kw):
    cfg = SynthConfig(**kw)
    pal = make_palette(rng_for(cfg, RNG_SCENE), cfg)
    return _lane_queues(cfg, pal, rng_for(cfg, RNG_VEHICLES), cfg.lanes)


def test_every_lane_gets_its_share_of_the_vehicles():
    for seed in range(5):
        queues, tails = _queues(seed=seed, n_vehicles=11, lanes=3, two_way=True, non_crossing=3,
                                non_crossing_kinds=("reverse_out",))
        sizes = [len(q) for q in queues]
        assert sum(sizes) == 14 and max(sizes) - min(sizes) <= 1, sizes
        assert tails == [[], [], []]


def test_parked_vehicles_take_one_lane_each_and_enter_last():
    for seed in range(5):
        queues, tails = _queues(seed=seed, n_vehicles=6, lanes=3, two_way=True, non_crossing=3,
                                non_crossing_kinds=("park",))
        # one per lane, and only in the tail: a parked vehicle blocks the ones behind it
        assert all(len(t) == 1 and t[0]["role"] == "park" for t in tails)
        assert all(s["role"] != "park" for q in queues for s in q)


def test_a_second_parked_vehicle_in_a_lane_reverses_out_instead():
    queues, tails = _queues(seed=2, n_vehicles=2, lanes=1, non_crossing=3, non_crossing_kinds=("park",))
    assert [s["role"] for s in tails[0]] == ["park"]
    assert sorted(s["role"] for s in queues[0]) == ["cruise", "cruise", "reverse_out", "reverse_out"]

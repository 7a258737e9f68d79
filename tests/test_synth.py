"""The synthetic clip generator: exact timestamps, exact crossings, boxes, tags, presets."""
from __future__ import annotations

import dataclasses
import subprocess

import av
import numpy as np
import pytest

from convoycount.errors import ConvoyCountError
from convoycount.synth import (SCENARIOS, SynthConfig, Truth, generate, render, scenario, truth_for,
                               truth_path)
from convoycount.synth.plan import build_plan

TICK = 1 / 90000

# small, quick clips
SMALL = dict(width=256, height=144, pixels_per_m=6.0, n_vehicles=2, crf=30)


def _decode_times(path):
    with av.open(str(path)) as c:
        frames = [(f.time, f.rotation, f.width, f.height) for f in c.decode(video=0)]
        return frames, len(c.streams.audio)


def _side(line, p):
    x1, y1, x2, y2 = line
    return (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1)


def _centre(b):
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


# ---- timestamps ------------------------------------------------------------------------
@pytest.mark.parametrize("opts", [
    dict(vfr=False, speedup=1, duration_real_s=3.0),
    dict(vfr=True, speedup=1, duration_real_s=4.0, audio=True),
    dict(vfr=True, speedup=3, duration_real_s=9.0, real_fps=30000 / 1001),
    dict(vfr=False, speedup=4, duration_real_s=8.0, real_fps=25.0),
])
def test_timestamps_round_trip_exactly(tmp_path, opts):
    cfg = SynthConfig(seed=1, **SMALL, **opts)
    truth = generate(tmp_path / "c.mp4", cfg)
    frames, n_audio = _decode_times(tmp_path / "c.mp4")
    assert len(frames) == truth.frames == len(truth.frame_times_s)
    err = max(abs(t - w) for (t, *_), w in zip(frames, truth.frame_times_s))
    assert err < TICK
    k = cfg.speedup
    np.testing.assert_allclose(np.array(truth.frame_real_times_s), k * np.array(truth.frame_times_s),
                               rtol=0, atol=1e-9)
    # the kept frames are every K-th capture: mean clip interval stays 1/real_fps
    iv = np.diff(truth.frame_times_s)
    assert abs(iv.mean() * cfg.real_fps - 1) < (0.15 if cfg.vfr else 1e-6)
    if cfg.vfr and k == 1:
        assert iv.max() > 2.5 / cfg.real_fps          # a dropped-frame gap
        assert np.std(iv[iv < 1.5 / cfg.real_fps]) * cfg.real_fps > 0.05   # jitter
    if not cfg.vfr:
        np.testing.assert_allclose(iv, 1 / cfg.real_fps, atol=TICK)
    assert n_audio == (1 if cfg.audio else 0)
    assert truth.duration_s == pytest.approx(truth.frame_times_s[-1] + 1 / cfg.real_fps)


def test_truth_json_round_trips(tmp_path):
    truth = generate(tmp_path / "a.mp4", SynthConfig(seed=2, duration_real_s=2.0, **SMALL))
    again = Truth.from_json(truth_path(tmp_path / "a.mp4"))
    assert again.to_dict() == truth.to_dict()
    assert SynthConfig.from_dict(again.config) == SynthConfig(seed=2, duration_real_s=2.0, **SMALL)
    assert not list(tmp_path.glob(".*"))            # no temp files left behind


# ---- determinism ------------------------------------------------------------------------
def test_same_seed_same_pixels_and_truth():
    cfg = SynthConfig(seed=5, **{**SMALL, "n_vehicles": 3}, noise_sigma=4, shake_px=2, duration_real_s=4,
                      two_way=True)
    a, b = list(render(cfg)), list(render(cfg))
    assert len(a) == len(b) > 0
    assert all(np.array_equal(x.image, y.image) and x.boxes == y.boxes for x, y in zip(a, b))
    assert truth_for(cfg).to_dict() == truth_for(cfg).to_dict()
    other = next(iter(render(dataclasses.replace(cfg, seed=6))))
    assert not np.array_equal(a[0].image, other.image)


# ---- crossings, boxes, lanes ----------------------------------------------------------
CROSSING_CASES = {
    "stop_and_go_diagonal": dict(width=320, height=180, pixels_per_m=8.0, real_fps=15.0, n_vehicles=7,
                                 stop_and_go=0.8, stop_on_line_fraction=0.6, non_crossing=3, spacing_s=2.0,
                                 line=(0.42, 0.0, 0.62, 1.0), seed=3, lanes=1),
    "vertical_two_way_sped_up": dict(width=180, height=320, pixels_per_m=8.0, orientation="vertical",
                                     two_way=True, speedup=2, n_vehicles=6, seed=4),
    "overlap_three_lanes_vfr": dict(width=320, height=180, pixels_per_m=7.0, lanes=3, two_way=True,
                                    overlap=True, vfr=True, n_vehicles=8, spacing_s=1.5, seed=5, real_fps=20.0),
}


@pytest.mark.parametrize("case", sorted(CROSSING_CASES))
def test_crossing_truth_agrees_with_rendered_frames(case):
    cfg = SynthConfig(**CROSSING_CASES[case])
    truth = truth_for(cfg)
    frames = [(f.clip_time_s, f.scene_boxes) for f in render(cfg)]
    assert len(frames) == truth.frames
    line = truth.line_px
    crossing = [v for v in truth.vehicles if v.crosses_line]
    assert truth.total_crossing == len(crossing) == cfg.n_vehicles
    for v in truth.vehicles:
        seen = [(t, _centre(sb[v.id])) for t, sb in frames if v.id in sb]
        assert seen, f"vehicle {v.id} never drawn"
        assert seen[0][0] == v.first_seen_clip_s and seen[-1][0] == v.last_seen_clip_s
        if not v.crosses_line:
            assert v.behaviour in ("park", "reverse_out")
            assert len({np.sign(_side(line, c)) for _, c in seen}) == 1, f"{v.id} changes side"
            continue
        tc = v.crossing_clip_time_s
        assert tc == pytest.approx(v.crossing_real_time_s / cfg.speedup, abs=1e-12)
        before = [c for t, c in seen if t < tc][-1]
        after = [c for t, c in seen if t > tc][0]
        assert _side(line, before) * _side(line, after) < 0, f"vehicle {v.id} at {tc}"
    if case == "stop_and_go_diagonal":
        # some vehicle stands still with its box straddling the line
        straddles = 0
        for v in truth.vehicles:
            for s in v.stops:
                x, y = s["centre_px"]
                box_w = v.box_size_px[0]
                lx = line[0] + (line[2] - line[0]) * (y - line[1]) / (line[3] - line[1])
                straddles += abs(x - lx) < box_w / 2 and s["end_real_s"] - s["start_real_s"] > 1.0
        assert straddles >= 1
        behaviours = {v.behaviour for v in truth.vehicles}
        assert "stop_on_line" in behaviours and "reverse_out" in behaviours


def test_vehicles_in_one_lane_never_overlap():
    cfg = SynthConfig(width=320, height=180, pixels_per_m=8.0, n_vehicles=10, stop_and_go=0.7, spacing_s=1.2,
                      spacing_jitter=0.8, speed_mps=(5.0, 16.0), lanes=2, non_crossing=2, seed=11)
    plan = build_plan(cfg)
    t = np.linspace(plan.frame_real_s[0], plan.frame_real_s[-1], 20000)
    lanes = {}
    for v in plan.vehicles:
        lanes.setdefault(v.lane.index, []).append(v)
    pairs = 0
    for vs in lanes.values():
        for i, a in enumerate(vs):
            for b in vs[i + 1:]:
                pa, pb = a.trajectory.at(t), b.trajectory.at(t)
                half = (a.w_px + b.w_px) / (2 * a.lane.scale_px_per_m)
                view = (cfg.width + max(a.w_px, b.w_px)) / (2 * a.lane.scale_px_per_m)
                both = (np.abs(pa) < view) & (np.abs(pb) < view)
                if both.any():
                    pairs += 1
                    assert np.all(np.abs(pa - pb)[both] >= half - 1e-6), (a.id, b.id)
    assert pairs > 3
    # the queue is real: someone waits behind a stopped vehicle
    assert sum(len(v.stops) for v in truth_for(cfg).vehicles) > sum(
        1 for v in plan.vehicles if v.behaviour in ("stop", "stop_on_line"))


def test_boxes_are_the_drawn_extent():
    cfg = SynthConfig(width=320, height=180, pixels_per_m=9.0, n_vehicles=3, shadow_strength=0.0, seed=8,
                      class_mix="mixed", lead_in_s=0.5, spacing_s=4.0, two_way=True, low_contrast_fraction=0.0)
    frames = list(render(cfg))
    empty = frames[0]
    assert not empty.boxes
    checked = 0
    for f in frames[::7]:
        if len(f.boxes) != 1:
            continue
        vid, cls, (x1, y1, x2, y2), frac = f.boxes[0]
        diff = np.abs(f.image.astype(int) - empty.image.astype(int)).max(axis=2) > 12
        ys, xs = np.nonzero(diff)
        assert len(xs) > 0
        assert xs.min() >= np.floor(x1) - 1 and xs.max() <= np.ceil(x2) and ys.min() >= y1 - 1 and ys.max() <= y2
        # the painted pixels reach the box edges (within a pixel) unless the box is clipped
        assert xs.min() <= x1 + 1.5 and xs.max() >= x2 - 2.5 and ys.min() <= y1 + 1.5 and ys.max() >= y2 - 2.5
        assert 0 < frac <= 1
        checked += 1
    assert checked >= 5


# ---- container tags, clock ----------------------------------------------------------
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_tag_is_written_and_undone_by_players(tmp_path, rotation):
    import imageio_ffmpeg
    cfg = SynthConfig(width=256, height=144, pixels_per_m=6.0, n_vehicles=1, duration_real_s=1.0, clock=True,
                      crf=18, rotation=rotation)
    generate(tmp_path / "r.mp4", cfg)
    frames, _ = _decode_times(tmp_path / "r.mp4")
    t, rot_ccw, w, h = frames[0]
    # PyAV reports the display matrix angle counter-clockwise: -rotation (in [-180, 180])
    assert (-rot_ccw) % 360 == rotation
    assert (w, h) == ((256, 144) if rotation == 180 else (144, 256))
    # ffmpeg applies the tag when decoding; the result is the upright picture
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(tmp_path / "r.mp4"),
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
                         capture_output=True, check=True).stdout
    upright = next(iter(render(cfg))).image
    shown = np.frombuffer(raw, np.uint8).reshape(upright.shape).astype(int)
    good = np.abs(shown - upright).mean()
    wrong = np.abs(shown - np.rot90(upright, 2)).mean()
    assert good < 4 and wrong > 4 * good


def test_clock_shows_real_time(tmp_path):
    cfg = SynthConfig(width=320, height=180, pixels_per_m=8.0, n_vehicles=1, duration_real_s=5.0, clock=True,
                      speedup=2, crf=20, clock_start="09:59:58")
    truth = generate(tmp_path / "k.mp4", cfg)
    x1, y1, x2, y2 = truth.clock["region_px"]
    rendered = list(render(cfg))
    assert rendered[0].clock_text == "09:59:58.0"
    for f in rendered:
        s = 9 * 3600 + 59 * 60 + 58 + f.real_time_s
        want = f"{int(s // 3600) % 24:02d}:{int(s // 60) % 60:02d}:{int(s) % 60:02d}.{int(s * 10 + 1e-6) % 10}"
        assert f.clock_text == want
    with av.open(str(tmp_path / "k.mp4")) as c:
        decoded = [f.to_ndarray(format="bgr24")[y1:y2, x1:x2].astype(int) for f in c.decode(video=0)]
    crops = [f.image[y1:y2, x1:x2].astype(int) for f in rendered]
    for d, r in zip(decoded, crops):
        assert d.max() - d.min() > 150                      # bright text on a dark box
        assert np.abs(d - r).mean() < 12                     # survives encoding
    # the crop changes exactly when the text changes
    for i in range(1, len(crops)):
        changed = rendered[i].clock_text != rendered[i - 1].clock_text
        assert changed == (not np.array_equal(crops[i], crops[i - 1]))


# ---- presets ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(6))
def test_news_story_preset_meets_its_spec(seed):
    truth = truth_for(scenario("news_story", seed=seed))
    crossing = truth.crossing_vehicles
    assert truth.total_crossing == len(truth.vehicles) == 9
    clip = [v.crossing_clip_time_s for v in crossing]
    real = [v.crossing_real_time_s for v in crossing]
    assert clip[-1] - clip[0] < 10 and real[-1] - real[0] > 28
    assert truth.speedup == 4 and len(truth.by_direction) == 1
    assert truth.visible_vehicles == 9


def test_every_preset_plans():
    for name in SCENARIOS:
        truth = truth_for(scenario(name))
        cfg = scenario(name)
        assert truth.total_crossing == cfg.n_vehicles, name
        assert len(truth.vehicles) == cfg.n_vehicles + cfg.non_crossing, name
        assert truth.config["name"] == name


def test_bad_settings_are_one_line_errors():
    for bad in (dict(width=321), dict(rotation=45), dict(speedup=0), dict(line=(0.5, 0.5, 0.5, 0.5)),
                dict(class_mix={"tank": 1.0}), dict(lanes=8, pixels_per_m=30.0), dict(lanes=1, two_way=True)):
        with pytest.raises(ConvoyCountError) as e:
            truth_for(SynthConfig(**bad))
        assert "\n" not in str(e.value)
    with pytest.raises(ConvoyCountError):
        scenario("no_such_thing")
    with pytest.raises(ConvoyCountError):
        scenario("news_story", warp_speed=9)


def test_synth_command(tmp_path):
    import typer
    from typer.testing import CliRunner

    from convoycount.synth.command import synth_command

    app = typer.Typer()
    app.command("synth")(synth_command)
    app.command("noop")(lambda: None)    # two commands: typer keeps the subcommand name
    runner = CliRunner()
    out = tmp_path / "s.mp4"
    res = runner.invoke(app, ["synth", str(out), "--scenario", "two_way", "--seed", "3", "--vehicles", "2",
                              "--width", "256", "--height", "144", "--pixels-per-m", "6", "--duration-real", "3"])
    assert res.exit_code == 0, res.output
    assert len(res.output.strip().splitlines()) == 1 and "crossing" in res.output
    assert out.exists() and truth_path(out).exists()
    assert Truth.from_json(truth_path(out)).config["seed"] == 3
    bad = runner.invoke(app, ["synth", str(tmp_path / "b.mp4"), "--rotation", "45"])
    assert bad.exit_code != 0 and not (tmp_path / "b.mp4").exists()


def test_a_long_clip_keeps_only_the_sprites_of_vehicles_still_to_come():
    # Each vehicle's sprite is drawn once and cached; a 10-minute 1080p clip's 200
    # vehicles kept ~200 MB of them to the end. After its last frame a vehicle's go.
    from convoycount.synth.render import _Renderer
    plan = build_plan(scenario("two_way", seed=11, width=320, height=180, n_vehicles=24))
    renderer = _Renderer(plan)
    held = [len(renderer.sprites) for _ in renderer.frames()]
    assert max(held) >= 2                       # vehicles were drawn
    assert held[-1] <= max(held) < len(plan.vehicles) // 2, held

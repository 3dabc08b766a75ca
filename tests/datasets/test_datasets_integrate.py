"""Frames equal hand-computed counts and SpikingJelly's equations (ported literally in sjds_reference)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sjds_reference import (
    sj_fixed_duration_greedy,
    sj_fixed_duration_grid,
    sj_fixed_frames_number,
    sj_segment_index,
    sj_segment_to_frame,
)

from sj.datasets import integrate as I
from sj.datasets.events import make_events


def ev(t, x=None, y=None, p=None):
    n = len(t)
    return make_events(x if x is not None else [0] * n, y if y is not None else [0] * n, t,
                       p if p is not None else [1] * n)


def test_split_by_number_counts_by_hand():
    e = ev([0, 1, 2, 3, 4], x=[0, 1, 1, 2, 2], p=[0, 1, 1, 0, 1])
    f = I.integrate_events_by_fixed_frames_number(e, "number", 2, 1, 3)
    assert f.shape == (2, 2, 1, 3) and f.dtype == np.float64
    # di = 5 // 2 = 2: frame 0 = events 0, 1; frame 1 = events 2, 3, 4 (the last frame takes the remainder)
    assert f[0, 0].tolist() == [[1, 0, 0]] and f[0, 1].tolist() == [[0, 1, 0]]
    assert f[1, 0].tolist() == [[0, 0, 1]] and f[1, 1].tolist() == [[0, 1, 1]]


def test_split_by_time_event_on_edge_goes_right():
    e = ev([0, 10, 20, 30, 40], x=[0, 1, 2, 3, 4])
    f = I.integrate_events_by_fixed_frames_number(e, "time", 2, 1, 5)
    # dt = 40 // 2 = 20: frame 0 = [0, 20) → t 0, 10; t = 20 lies on the edge → frame 1
    assert f[0, 1, 0].tolist() == [1, 1, 0, 0, 0]
    assert f[1, 1, 0].tolist() == [0, 0, 1, 1, 1]


def test_split_by_time_floors_dt_and_last_frame_takes_rest():
    e = ev([0, 5, 9], x=[0, 1, 2])
    f = I.integrate_events_by_fixed_frames_number(e, "time", 2, 1, 3)
    # dt = 9 // 2 = 4: frame 0 = [0, 4) → t 0; frame 1 = everything from 4 → t 5, 9
    assert f[:, 1, 0].tolist() == [[1, 0, 0], [0, 1, 1]]


def test_split_by_time_empty_window_gives_zero_frame():
    e = ev([0, 1, 100], x=[0, 1, 2])
    f = I.integrate_events_by_fixed_frames_number(e, "time", 4, 1, 3)
    # dt = 25: [0,25) → t 0, 1; [25,50) and [50,75) empty (SpikingJelly raises IndexError); [75, ...) → t 100
    assert f[:, 1, 0].tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1]]
    with pytest.raises(IndexError):
        sj_segment_index(e["t"], "time", 4)


def test_one_event_and_empty_polarity():
    f = I.integrate_events_by_fixed_frames_number(ev([7], x=[2], y=[1], p=[1]), "number", 3, 2, 3)
    # di = 0: frames 0 and 1 empty, the last frame holds the one event; channel 0 (p == 0) stays empty
    assert f.sum() == 1 and f[2, 1, 1, 2] == 1 and f[:, 0].sum() == 0


def test_empty_recording():
    e = ev([])
    assert I.integrate_events_by_fixed_frames_number(e, "time", 3, 2, 2).sum() == 0
    assert I.integrate_events_by_fixed_duration(e, 10, 2, 2).shape == (0, 2, 2, 2)


def test_unsorted_timestamps_rejected():
    with pytest.raises(ValueError, match="non-decreasing; t decreases at index 2"):
        I.integrate_events_by_fixed_frames_number(ev([0, 5, 3]), "time", 2, 1, 1)
    with pytest.raises(ValueError, match="decreases"):
        I.integrate_events_by_fixed_duration(ev([0, 5, 3]), 2, 1, 1)


def test_coordinates_outside_frame_rejected():
    with pytest.raises(ValueError, match=r"coordinate x must lie in \[0, 2\]"):
        I.integrate_events_by_fixed_frames_number(ev([0, 1], x=[0, 3]), "number", 1, 1, 3)
    with pytest.raises(ValueError, match="coordinate y"):
        I.integrate_events_by_fixed_frames_number(ev([0, 1], y=[0, -1]), "number", 1, 1, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split_by"):
        I.integrate_events_by_fixed_frames_number(ev([0]), "count", 2, 1, 1)
    with pytest.raises(ValueError, match="frames_num"):
        I.integrate_events_by_fixed_frames_number(ev([0]), "number", 0, 1, 1)
    with pytest.raises(ValueError, match="duration"):
        I.integrate_events_by_fixed_duration(ev([0]), 0, 1, 1)


def test_fixed_duration_greedy_and_grid_by_hand():
    e = ev([0, 3, 5, 6, 12], x=[0, 1, 2, 3, 4])
    greedy = I.integrate_events_by_fixed_duration(e, 5, 1, 5, windows="greedy")
    # greedy: frame from t 0 takes t - 0 <= 5 → 0, 3, 5; from 6 → 6 (12 - 6 > 5); from 12 → 12
    assert greedy[:, 1, 0].tolist() == [[1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]
    grid = I.integrate_events_by_fixed_duration(e, 5, 1, 5)
    # grid (the default, SpikingJelly 2.0's): ceil(12 / 5) = 3 frames; t // 5 = 0, 0, 1, 1, 2
    assert grid[:, 1, 0].tolist() == [[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]]


def test_1d_time_split_uses_exact_dt():
    e = ev([0, 1, 2, 3, 10], x=[0, 1, 2, 3, 4], p=[0] * 5)
    f = I.integrate_events_by_fixed_frames_number_1d(e, "time", 3, 5)
    # dt = 10 / 3: [0, 3.33) → t 0..3; [3.33, 6.67) empty; rest → t 10
    assert f.tolist() == [[1, 1, 1, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
    floored = I.integrate_events_by_fixed_frames_number(e, "time", 3, 1, 5)[:, 0, 0]
    assert floored.tolist() == [[1, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]  # dt = 3


def test_1d_duration_grid_by_hand():
    e = ev([100, 1100, 2100, 2500], x=[5, 5, 6, 699], p=[0] * 4)
    f = I.integrate_events_by_fixed_duration_1d(e, 1000, 700)
    # rel t = 0, 1000, 2000, 2400 → ceil(2.4) = 3 frames, indices 0, 1, 2, 2
    assert f.shape == (3, 700) and f[0, 5] == 1 and f[1, 5] == 1 and f[2, 6] == 1 and f[2, 699] == 1 and f.sum() == 4


def test_segment_to_frame_default_takes_every_event_like_spikingjelly_2():
    x, y, p = np.array([0, 1, 2]), np.array([0, 0, 0]), np.array([1, 1, 0])
    ours = I.integrate_events_segment_to_frame(x, y, p, 1, 3)
    assert ours.sum() == 3 and ours[0, 0, 2] == 1 and ours[1, 0, :2].tolist() == [1, 1]
    assert np.array_equal(I.integrate_events_segment_to_frame(x, y, p, 1, 3, 0, -1), sj_segment_to_frame(x, y, p, 1, 3))


@st.composite
def recordings(draw):
    n = draw(st.integers(1, 300))
    t = np.sort(np.asarray(draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n)), np.int64))
    x = np.asarray(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    y = np.asarray(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    p = np.asarray(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    return make_events(x, y, t, p)


@settings(max_examples=150, deadline=None)
@given(recordings(), st.integers(1, 12), st.sampled_from(["number", "time"]))
def test_fixed_frames_number_equals_spikingjelly(e, frames, split_by):
    ours = I.integrate_events_by_fixed_frames_number(e, split_by, frames, 5, 7)
    try:
        ref = sj_fixed_frames_number(e, split_by, frames, 5, 7)
    except IndexError:  # SpikingJelly fails on an empty time window; ours then gives zeros (tested by hand above)
        assert ours.sum() == e.size
        return
    assert np.array_equal(ours, ref)


@settings(max_examples=100, deadline=None)
@given(recordings(), st.integers(1, 3000))
def test_fixed_duration_equals_spikingjelly(e, duration):
    assert np.array_equal(I.integrate_events_by_fixed_duration(e, duration, 5, 7, windows="greedy"),
                          sj_fixed_duration_greedy(e, duration, 5, 7))
    if e["t"][-1] > e["t"][0]:  # SpikingJelly's grid rule builds no frame for a zero-length recording
        assert np.array_equal(I.integrate_events_by_fixed_duration(e, duration, 5, 7),
                              sj_fixed_duration_grid(e, duration, 5, 7))


def test_accepts_spikingjelly_event_dict_and_dtype():
    d = {"t": np.array([0, 1]), "x": np.array([0, 1]), "y": np.array([0, 0]), "p": np.array([1, 0])}
    f = I.integrate_events_by_fixed_frames_number(d, "number", 1, 1, 2, dtype=np.float32)
    assert f.dtype == np.float32 and f[0, :, 0].tolist() == [[0, 1], [1, 0]]

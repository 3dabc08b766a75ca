"""A literal port of SpikingJelly's published integration equations (loops and masks; 0.0.0.0.14's greedy duration
rule and ``j_r=-1`` segment default included), the baseline of the property tests and of the benchmark, which must
run without SpikingJelly. SpikingJelly 2.0 itself is the oracle of ``tests/sjparity/test_datasets_parity.py``."""

from __future__ import annotations

import numpy as np


def sj_segment_index(t: np.ndarray, split_by: str, frames_num: int, float_dt: bool = False):
    j_l = np.zeros(frames_num, dtype=int)
    j_r = np.zeros(frames_num, dtype=int)
    n = t.size
    if split_by == "number":
        di = n // frames_num
        for i in range(frames_num):
            j_l[i] = i * di
            j_r[i] = j_l[i] + di
        j_r[-1] = n
    else:
        dt = (t[-1] - t[0]) / frames_num if float_dt else (t[-1] - t[0]) // frames_num
        idx = np.arange(n)
        for i in range(frames_num):
            t_l = dt * i + t[0]
            t_r = t_l + dt
            masked = idx[np.logical_and(t >= t_l, t < t_r)]
            j_l[i] = masked[0]  # IndexError on an empty window, as in SpikingJelly
            j_r[i] = masked[-1] + 1
        j_r[-1] = n
    return j_l, j_r


def sj_segment_to_frame(x, y, p, H, W, j_l=0, j_r=-1):
    frame = np.zeros(shape=[2, H * W])
    x = x[j_l:j_r].astype(int)
    y = y[j_l:j_r].astype(int)
    p = p[j_l:j_r]
    mask = [p == 0]
    mask.append(np.logical_not(mask[0]))
    for c in range(2):
        position = y[mask[c]] * W + x[mask[c]]
        counts = np.bincount(position)
        frame[c][np.arange(counts.size)] += counts
    return frame.reshape((2, H, W))


def sj_fixed_frames_number(events, split_by, frames_num, H, W):
    t, x, y, p = (events[k] for k in ("t", "x", "y", "p"))
    j_l, j_r = sj_segment_index(t, split_by, frames_num)
    frames = np.zeros([frames_num, 2, H, W])
    for i in range(frames_num):
        frames[i] = sj_segment_to_frame(x, y, p, H, W, j_l[i], j_r[i])
    return frames


def sj_fixed_duration_greedy(events, duration, H, W):
    x, y, t, p = (events[k] for k in ("x", "y", "t", "p"))
    n = t.size
    frames = []
    left = right = 0
    while True:
        t_l = t[left]
        while not (right == n or t[right] - t_l > duration):
            right += 1
        frames.append(np.expand_dims(sj_segment_to_frame(x, y, p, H, W, left, right), 0))
        left = right
        if right == n:
            return np.concatenate(frames)


def sj_fixed_duration_grid(events, duration, H, W):
    x, y, t, p = (events[k] for k in ("x", "y", "t", "p"))
    n = t.size
    t = t - t.min()
    frames_num = int(np.ceil(t[-1] / duration))
    frames = np.zeros([frames_num, 2, H, W])
    frame_index = t // duration
    left = 0
    for i in range(frames_num - 1):
        right = np.searchsorted(frame_index, i + 1, side="left")
        frames[i] = sj_segment_to_frame(x, y, p, H, W, left, right)
        left = right
    frames[-1] = sj_segment_to_frame(x, y, p, H, W, left, n)
    return frames

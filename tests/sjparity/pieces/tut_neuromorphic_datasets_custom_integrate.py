# ruff: noqa
"""Tutorial neuromorphic_datasets, "Custom Integrating Method": a custom_integrate_function splitting a sample's events
at a random index into 2 frames, with integrate_events_segment_to_frame. SJ's DVS128Gesture needs torchvision's
DatasetFolder, which does not load here: the function is called as the dataset calls it, on 3 synthetic samples
of a 128×128 sensor."""
from typing import Dict
import numpy as np
from spikingjelly.datasets.utils import integrate_events_segment_to_frame

def integrate_events_to_2_frames_randomly(events: Dict, H: int, W: int):
    index_split = np.random.randint(low=0, high=len(events['t']))
    frames = np.zeros([2, 2, H, W])
    t, x, y, p = (events[key] for key in ('t', 'x', 'y', 'p'))
    frames[0] = integrate_events_segment_to_frame(x, y, p, H, W, 0, index_split)
    frames[1] = integrate_events_segment_to_frame(x, y, p, H, W, index_split, len(events['t']))
    return frames

frames = []
for n in (300, 500, 700):  # synthetic samples
    events = {'t': np.sort(np.random.randint(0, 10 ** 6, n)), 'x': np.random.randint(0, 128, n),
              'y': np.random.randint(0, 128, n), 'p': np.random.randint(0, 2, n)}
    frames.append(integrate_events_to_2_frames_randomly(events, 128, 128))

result = {"frames": frames}

# ruff: noqa
"""Tutorial neuromorphic_datasets, "Get Frame Data": events split into frames_number=20 slices of nearly equal event
counts (split_by='number') and integrated to [20, 2, H, W] frames; also split_by='time' and fixed duration. SJ's
DVS128Gesture needs torchvision's DatasetFolder, which does not load here: the integration functions it calls run on a
synthetic sample of a 128×128 sensor."""
import numpy as np
from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number, integrate_events_by_fixed_duration

n = 2000
events = {'t': np.sort(np.random.randint(0, 5 * 10 ** 6, n)), 'x': np.random.randint(0, 128, n),
          'y': np.random.randint(0, 128, n), 'p': np.random.randint(0, 2, n)}
frame = integrate_events_by_fixed_frames_number(events, 'number', 20, 128, 128)
print(frame.shape)
frame_time = integrate_events_by_fixed_frames_number(events, 'time', 20, 128, 128)
frame_duration = integrate_events_by_fixed_duration(events, 1000000, 128, 128)

result = {"number": frame, "time": frame_time, "duration": frame_duration}

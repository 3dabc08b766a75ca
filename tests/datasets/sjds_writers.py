"""Writers of the raw formats, for tests: small recordings with known events (no downloads)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_atis_bin(path: Path, x, y, t, p) -> None:
    """N-MNIST / N-Caltech101 40-bit events: x, y, (p << 7) | t[22:16], t[15:8], t[7:0]."""
    x, y, t, p = (np.asarray(a, dtype=np.int64) for a in (x, y, t, p))
    raw = np.empty((x.size, 5), dtype=np.uint8)
    raw[:, 0] = x
    raw[:, 1] = y
    raw[:, 2] = (p << 7) | ((t >> 16) & 0x7F)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw.tobytes())


def encode_dvs128_address(x, y, p) -> np.ndarray:
    """Inverse of SpikingJelly 2.0's CIFAR10-DVS decoding (x = 127 - bits 8-14, y = 127 - bits 1-7, p inverted)."""
    x, y, p = (np.asarray(a, dtype=np.uint32) for a in (x, y, p))
    return ((127 - y) << 1) | ((127 - x) << 8) | (1 - p)


def write_aedat2(path: Path, address, timestamp) -> None:
    """AEDAT 2.0: '#' header lines, then big-endian (address, timestamp) u32 pairs."""
    pairs = np.stack([np.asarray(address, np.int64), np.asarray(timestamp, np.int64)], axis=1).astype(">u4")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n# created by a test\r\n" + pairs.tobytes())


def _aedat31_packet(e_type: int, payload: bytes, size: int, capacity: int, overflow: int = 0) -> bytes:
    return struct.pack("<HHIIIIII", e_type, 1, size, 4, overflow, capacity, capacity, capacity) + payload


def write_aedat31(path: Path, packets: list[tuple]) -> None:
    """AEDAT 3.1 with one polarity packet per (x, y, t, p) tuple, plus a special-event packet (type 0) first."""
    out = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"]
    out.append(_aedat31_packet(0, b"\x00" * 8 * 2, 8, 2))
    for x, y, t, p in packets:
        x, y, t, p = (np.asarray(a, dtype=np.int64) for a in (x, y, t, p))
        overflow = int(t[0] >> 31) if t.size else 0
        assert np.all((t >> 31) == overflow), "one packet, one overflow epoch"
        data = ((x << 17) | (y << 2) | (p << 1) | 1).astype("<u4")
        words = np.stack([data, (t & 0x7FFFFFFF).astype("<u4")], axis=1)
        out.append(_aedat31_packet(1, words.tobytes(), 8, x.size, overflow))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))


def write_gesture_labels(path: Path, rows: list[tuple[int, int, int]]) -> None:
    path.write_text("class,startTime_usec,endTime_usec\n" + "".join(f"{c},{a},{b}\n" for c, a, b in rows))


def write_columns_npy(path: Path, *columns) -> None:
    """An [N, k] integer .npy array (tonic's Gesture release: x, y, p, t_ms; POKER-DVS: t, x, y, p)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack([np.asarray(c, np.int64) for c in columns], axis=1))


def write_lip_npy(path: Path, x, y, t, p) -> None:
    arr = np.empty(len(t), dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "?")])
    arr["x"], arr["y"], arr["t"], arr["p"] = x, y, t, p
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)


def write_hsd_h5(path: Path, samples: list[tuple[np.ndarray, np.ndarray]], labels: list[int]) -> None:
    """Heidelberg file: spikes/times (vlen float, seconds), spikes/units (vlen uint16), labels."""
    import h5py

    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (tt, uu) in enumerate(samples):
            times[i] = np.asarray(tt, np.float32)
            units[i] = np.asarray(uu, np.uint16)
        f["labels"] = np.asarray(labels, np.uint16)


def write_asl_mat(path: Path, ts, x, y, pol) -> None:
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    col = lambda a: np.asarray(a, np.int64).reshape(-1, 1)  # noqa: E731
    savemat(path, {"ts": col(ts), "x": col(x), "y": col(y), "pol": col(pol)})


def write_events_npz(path: Path, x, y, t, p) -> None:
    """SpikingJelly's raw event file / HARDVS sample: an .npz with arrays t, x, y, p."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, t=np.asarray(t, np.int64), x=np.asarray(x, np.int64), y=np.asarray(y, np.int64),
                        p=np.asarray(p, np.int64))


def write_es_imagenet_npz(path: Path, pos_yxt, neg_yxt) -> None:
    """ES-ImageNet sample: arrays pos and neg of rows (y, x, t)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pos=np.asarray(pos_yxt, np.int64).reshape(-1, 3),
                        neg=np.asarray(neg_yxt, np.int64).reshape(-1, 3))


def write_nav_dat(path: Path, x, y, t, p, header: bool = True) -> None:
    """NAVGesture ATIS .dat: '%' header lines, event type and size (8) bytes, then u64 words
    t | x << 32 | y << 41 | p << 49."""
    x, y, t, p = (np.asarray(a, dtype=np.uint64) for a in (x, y, t, p))
    words = (t | (x << np.uint64(32)) | (y << np.uint64(41)) | (p << np.uint64(49))).astype("<u8")
    head = b"% Data file containing ATIS TD events\n% Version 2\n" + bytes([0, 8]) if header else b""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(head + words.tobytes())


def write_bullying_npy(path: Path, chunks: list[tuple]) -> None:
    """Bullying10K sample: an object array of structured (t, x, y, p) record arrays (saved with a pickle)."""
    dtype = [("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("p", "u1")]
    arr = np.empty(len(chunks), dtype=object)
    for i, (x, y, t, p) in enumerate(chunks):
        rec = np.empty(len(t), dtype=dtype)
        rec["t"], rec["x"], rec["y"], rec["p"] = t, x, y, p
        arr[i] = rec
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr, allow_pickle=True)

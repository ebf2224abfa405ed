"""Reading an offline W&B run back, as the tracking tests do: W&B's offline run file, record by record."""

from __future__ import annotations

import struct
from pathlib import Path


def wandb_records(run_file: Path) -> list:
    """The records of an offline W&B run file: a 7-byte header, then LevelDB-log blocks of
    32 KiB whose records (7-byte header: checksum, length, type) hold protobuf Records."""
    from wandb.proto import wandb_internal_pb2

    data = run_file.read_bytes()
    assert data[:4] == b":W&B"
    records, position, pending = [], 7, b""
    while position + 7 <= len(data):
        space_in_block = 32768 - position % 32768
        if space_in_block < 7:
            position += space_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        chunk = data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # whole record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + chunk)
            records.append(record)
            pending = b""
        elif kind in (2, 3):
            pending += chunk
        else:
            break
    return records

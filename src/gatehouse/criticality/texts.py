"""Texts for Phase 1 calibration windows, and the deterministic window sampling of spec §3.

`--texts` is a text file (one row), a directory of text files (one row per file, sorted by relative
path), or a parquet file with a `text` column (one row per row). The embedded default is the Python
reference text in the standard library's `pydoc_data.topics` (PSF licence), one row per topic in
sorted key order.

Sampling (spec §3 "Sampling of windows"): each row is tokenized with add_special_tokens=False into one
token buffer; consecutive non-overlapping windows of T tokens are cut from it until
pool_size = max(n, min(BOOTSTRAP_REPS, n * WINDOW_POOL_FACTOR)); n windows are drawn with
numpy.default_rng(seed).choice(pool, n, replace=False), seed = int(sha256("1337|run_id|A")[:8], 16), and
sorted. dataset_slice_sha256 hashes the compact JSON [{dataset_role, chunk_index, input_ids}, ...].
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gatehouse.runs import RunError

SEQ_LEN = 256            # SEQ_LEN_TOKENS
BOOTSTRAP_REPS = 500     # reused by the reference as the pool cap
WINDOW_POOL_FACTOR = 10
SAMPLING_SEED = 1337
DATASET_ROLE = "A"
DEFAULT_TEXTS = "pydoc_data.topics"


@dataclass(frozen=True)
class Texts:
    """Rows of text and how they were named: `source` for errors and records, `sha256` of the rows."""
    source: str
    rows: tuple[str, ...]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for row in self.rows:
            encoded = row.encode()
            digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return digest.hexdigest()


@dataclass(frozen=True)
class Windows:
    input_ids: np.ndarray        # int64 [n, T], in ascending chunk_index order
    chunk_index: tuple[int, ...]  # position of each window in the pool
    pool_size: int
    slice_sha256: str


def load_texts(texts: str | None) -> Texts:
    """The rows of `--texts` (a file, a directory of text files, a parquet with `text`), or the default."""
    if texts is None:
        from pydoc_data.topics import topics

        return Texts(DEFAULT_TEXTS, tuple(topics[key] for key in sorted(topics)))
    path = Path(texts)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise RunError(f"{path}: --texts directory holds no text file")
        return Texts(str(path.resolve()), tuple(_read_text(p) for p in files))
    if not path.is_file():
        raise RunError(f"{path}: --texts file not found")
    if path.suffix == ".parquet":
        return Texts(str(path.resolve()), _parquet_rows(path))
    return Texts(str(path.resolve()), (_read_text(path),))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise RunError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def _parquet_rows(path: Path) -> tuple[str, ...]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as error:
        raise RunError(f"{path}: not a readable parquet file ({error})") from None
    if "text" not in schema.names:
        raise RunError(f"{path}: missing column text (columns: {', '.join(schema.names)})")
    if not (pa.types.is_string(schema.field("text").type) or pa.types.is_large_string(schema.field("text").type)):
        raise RunError(f"{path}: column text: type {schema.field('text').type}, expected string")
    column = pq.read_table(path, columns=["text"]).column("text")
    if column.null_count:
        raise RunError(f"{path}: column text: {column.null_count} null value(s)")
    return tuple(column.to_pylist())


def pool_size(n_windows: int) -> int:
    return max(n_windows, min(BOOTSTRAP_REPS, n_windows * WINDOW_POOL_FACTOR))


def sampling_seed(run_id: str, dataset_role: str = DATASET_ROLE) -> int:
    return int(hashlib.sha256(f"{SAMPLING_SEED}|{run_id}|{dataset_role}".encode()).hexdigest()[:8], 16)


def token_pool(texts: Texts, tokenizer, n_pool: int, seq_len: int = SEQ_LEN) -> list[list[int]]:
    """Up to n_pool consecutive windows of seq_len tokens from the rows' token buffer."""
    buffer: list[int] = []
    for row in texts.rows:
        buffer.extend(tokenizer(row, add_special_tokens=False, verbose=False)["input_ids"])
        if len(buffer) >= n_pool * seq_len:
            break
    count = min(n_pool, len(buffer) // seq_len)
    return [buffer[k * seq_len:(k + 1) * seq_len] for k in range(count)]


def slice_sha256(chunks: list[int], windows: list[list[int]], dataset_role: str = DATASET_ROLE) -> str:
    document = [{"dataset_role": dataset_role, "chunk_index": int(k), "input_ids": [int(i) for i in ids]}
                for k, ids in zip(chunks, windows)]
    return hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()


def sample_windows(texts: Texts, tokenizer, n_windows: int, run_id: str, seq_len: int = SEQ_LEN) -> Windows:
    """n_windows windows drawn from the pool with the run's seed, in ascending chunk_index order."""
    n_pool = pool_size(n_windows)
    pool = token_pool(texts, tokenizer, n_pool, seq_len)
    if len(pool) < n_windows:
        n_tokens = sum(len(window) for window in pool)
        raise RunError(f"{texts.source}: too few tokens: {len(pool)} window(s) of {seq_len} tokens "
                       f"(at least {n_tokens} tokens), {n_windows} needed (--n-windows)")
    chosen = np.sort(np.random.default_rng(sampling_seed(run_id)).choice(len(pool), n_windows, replace=False))
    windows = [pool[k] for k in chosen]
    return Windows(np.asarray(windows, dtype=np.int64), tuple(int(k) for k in chosen), len(pool),
                   slice_sha256(chosen.tolist(), windows))

"""Counter-based RNG for Segment 1B: Philox 2x64-10 plus the SHA-256 substream law (reference §4).

Everything is vectorised over arrays of substreams, so any single draw can be regenerated from
(seed, manifest_fingerprint, label, merchant, country[, site_order], block index) alone.

Conventions:
- A substream is (key, ctr_hi, ctr_lo), all uint64; the 128-bit counter is ctr_hi·2^64 + ctr_lo.
- Block j of a substream is Philox applied to counter + j; it yields two uint64 lanes (x0, x1).
- Philox input lanes are c0 = ctr_lo and c1 = ctr_hi.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

import numpy as np

PHILOX_M = 0xD2B74407B1CE6E93
PHILOX_W = 0x9E3779B97F4A7C15
PHILOX_ROUNDS = 10

_U64 = np.uint64
_MASK32 = _U64(0xFFFFFFFF)
_SHIFT32 = _U64(32)
_M_LO = _U64(PHILOX_M & 0xFFFFFFFF)
_M_HI = _U64(PHILOX_M >> 32)
_TWO_NEG_64 = 2.0**-64
U01_MAX = 1.0 - 2.0**-53  # largest double below 1; replaces an exact 1.0 so u01 stays in (0, 1)

MASTER_DOMAIN = "mlr:1B.master"
SUBSTREAM_DOMAIN = "mlr:1B"

# Arrays are processed in chunks of this many lanes so the ~20 temporaries per round stay in cache.
_CHUNK = 1 << 16


# --------------------------------------------------------------------------------------------
# Philox 2x64-10
# --------------------------------------------------------------------------------------------

def mulhilo_const(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) of the 128-bit product PHILOX_M · b, via 32-bit halves (numpy has no u128)."""
    return _mulhilo(_M_HI, _M_LO, b)


def mulhi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """High 64 bits of a·b for uint64 arrays (broadcasting)."""
    a = np.asarray(a, dtype=_U64)
    return _mulhilo(a >> _SHIFT32, a & _MASK32, np.asarray(b, dtype=_U64))[0]


def _mulhilo(a_hi, a_lo, b):
    b_lo = b & _MASK32
    b_hi = b >> _SHIFT32
    lo_lo = a_lo * b_lo
    lo_hi = a_lo * b_hi
    hi_lo = a_hi * b_lo
    # each term < 2^32, so the sum < 3·2^32 cannot overflow
    middle = (lo_lo >> _SHIFT32) + (lo_hi & _MASK32) + (hi_lo & _MASK32)
    hi = a_hi * b_hi + (lo_hi >> _SHIFT32) + (hi_lo >> _SHIFT32) + (middle >> _SHIFT32)
    lo = (middle << _SHIFT32) | (lo_lo & _MASK32)
    return hi, lo


def philox2x64(key, ctr_hi, ctr_lo, rounds: int = PHILOX_ROUNDS) -> tuple[np.ndarray, np.ndarray]:
    """Philox 2x64 block function, elementwise over broadcast uint64 arrays. Returns (x0, x1)."""
    key, ctr_hi, ctr_lo = np.broadcast_arrays(
        np.asarray(key, dtype=_U64), np.asarray(ctr_hi, dtype=_U64), np.asarray(ctr_lo, dtype=_U64))
    shape = key.shape
    key, ctr_hi, ctr_lo = key.ravel(), ctr_hi.ravel(), ctr_lo.ravel()
    x0 = np.empty(key.size, dtype=_U64)
    x1 = np.empty(key.size, dtype=_U64)
    for start in range(0, key.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        x0[part], x1[part] = _philox_chunk(key[part], ctr_hi[part], ctr_lo[part], rounds)
    return x0.reshape(shape), x1.reshape(shape)


def _philox_chunk(key, c1, c0, rounds):
    k = key.copy()
    weyl = _U64(PHILOX_W)
    for r in range(rounds):
        hi, lo = mulhilo_const(c0)
        c0, c1 = hi ^ k ^ c1, lo
        if r + 1 < rounds:
            k += weyl  # wraps mod 2^64
    return c0, c1


def u01(x) -> np.ndarray:
    """Map uint64 to the open interval (0, 1): (x + 1)·2^-64, with 1.0 replaced by 1 − 2^-53.

    x + 1 is formed in integers first (a single correctly rounded conversion to float64);
    x = 2^64 − 1 wraps to 0 and is the one value that would give exactly 1.0.
    """
    x = np.asarray(x, dtype=_U64)
    u = (x + _U64(1)).astype(np.float64) * _TWO_NEG_64
    u[(x == _U64(0xFFFFFFFFFFFFFFFF)) | (u >= 1.0)] = U01_MAX
    return u


def add_to_counter(ctr_hi, ctr_lo, blocks) -> tuple[np.ndarray, np.ndarray]:
    """128-bit counter + blocks (uint64, broadcasting), with carry into the high word."""
    ctr_hi = np.asarray(ctr_hi, dtype=_U64)
    ctr_lo = np.asarray(ctr_lo, dtype=_U64)
    blocks = np.asarray(blocks, dtype=_U64)
    lo = ctr_lo + blocks
    hi = ctr_hi + (lo < ctr_lo).astype(_U64)
    return hi, lo


def philox_blocks(key, ctr_hi, ctr_lo, n_blocks: int, first_block=0) -> tuple[np.ndarray, np.ndarray]:
    """Raw lanes (x0, x1), each of shape (len(key), n_blocks), of blocks first_block .. +n_blocks-1.

    `first_block` may be a scalar or one offset per substream.
    """
    key = np.asarray(key, dtype=_U64).reshape(-1, 1)
    first = np.asarray(first_block, dtype=_U64).reshape(-1, 1)
    offsets = first + np.arange(n_blocks, dtype=_U64)[None, :]
    hi, lo = add_to_counter(np.asarray(ctr_hi).reshape(-1, 1), np.asarray(ctr_lo).reshape(-1, 1), offsets)
    return philox2x64(key, hi, lo)


def draw_uniforms(key, ctr_hi, ctr_lo, n_blocks: int, first_block=0) -> np.ndarray:
    """Uniforms in (0, 1) of shape (len(key), n_blocks, 2): [..., 0] = u01(x0), [..., 1] = u01(x1)."""
    x0, x1 = philox_blocks(key, ctr_hi, ctr_lo, n_blocks, first_block)
    return np.stack([u01(x0), u01(x1)], axis=-1)


# --------------------------------------------------------------------------------------------
# Substream derivation
# --------------------------------------------------------------------------------------------

def uer_string(text: str) -> bytes:
    """UER string encoding: u32 little-endian byte length, then the UTF-8 bytes."""
    raw = text.encode("utf-8")
    return struct.pack("<I", len(raw)) + raw


def le64(value: int) -> bytes:
    return struct.pack("<Q", int(value))


def master_material(seed: int, manifest_fingerprint_hex: str) -> bytes:
    try:
        mf_bytes = bytes.fromhex(manifest_fingerprint_hex)
    except (TypeError, ValueError):
        mf_bytes = b""
    if len(mf_bytes) != 32:
        raise ValueError(f"manifest_fingerprint must be 64 hex characters, got {manifest_fingerprint_hex!r}")
    return hashlib.sha256(uer_string(MASTER_DOMAIN) + mf_bytes + le64(seed)).digest()


def merchant_u64(merchant_id: int) -> int:
    """LE u64 of SHA256(LE64(merchant_id))[24:32]."""
    return int.from_bytes(hashlib.sha256(le64(merchant_id)).digest()[24:32], "little")


def substreams(seed: int, manifest_fingerprint_hex: str, label: str, merchant_ids: Iterable[int],
               isos: Iterable[str], site_orders: Iterable[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(key, ctr_hi, ctr_lo) uint64 arrays, one substream per input row.

    H = SHA256(M ‖ UER("mlr:1B") ‖ UER(label) ‖ LE64(merchant_u64) ‖ UER(iso) [‖ LE64(site_order)]);
    key = LE u64 of H[24:32], counter = (BE64 H[16:24], BE64 H[24:32]).
    The hash state is computed once up to the label and once per distinct (merchant, iso) pair, so a
    site costs one state copy, one 8-byte update and one digest.
    """
    merchants = np.asarray(merchant_ids, dtype=np.uint64)
    iso_array = np.asarray(isos, dtype=object)
    if iso_array.shape != merchants.shape:
        raise ValueError("merchant_ids and isos must have the same length")
    pair_codes, pair_merchants, pair_isos = _factorize_pairs(merchants, iso_array)
    pair_states = _pair_states(seed, manifest_fingerprint_hex, label, pair_merchants, pair_isos)

    if site_orders is None:
        pair_digests = [state.digest() for state in pair_states]
        blob = b"".join([pair_digests[code] for code in pair_codes.tolist()])
    else:
        orders = np.asarray(site_orders, dtype=np.int64)
        if orders.shape != merchants.shape:
            raise ValueError("site_orders must have the same length as merchant_ids")
        if orders.size and orders.min() < 0:
            raise ValueError("site_order must be non-negative")
        blob = _site_digests(pair_states, pair_codes, orders)
    return _parse_digests(blob, len(merchants))


def _factorize_pairs(merchants: np.ndarray, isos: np.ndarray):
    """Integer code per row plus the distinct (merchant, iso) values, without a Python-level loop."""
    import pandas as pd

    merchant_codes, merchant_values = pd.factorize(merchants)
    iso_codes, iso_values = pd.factorize(isos)
    n_isos = max(len(iso_values), 1)
    pair_codes, pair_values = pd.factorize(merchant_codes.astype(np.int64) * n_isos + iso_codes)
    pair_merchants = np.asarray(merchant_values, dtype=np.uint64)[pair_values // n_isos]
    pair_isos = np.asarray(iso_values, dtype=object)[pair_values % n_isos]
    return pair_codes.astype(np.int64), pair_merchants, pair_isos


def _pair_states(seed, manifest_fingerprint_hex, label, pair_merchants, pair_isos) -> list:
    prefix = hashlib.sha256(master_material(seed, manifest_fingerprint_hex))
    prefix.update(uer_string(SUBSTREAM_DOMAIN) + uer_string(label))
    distinct = np.unique(pair_merchants)
    hashed = [hashlib.sha256(m).digest()[24:32] for m in _le64_slices(distinct)]
    merchant_bytes = dict(zip(distinct.tolist(), hashed))  # digest[24:32] read LE, re-encoded LE: same bytes
    iso_bytes = {iso: uer_string(_checked_iso(iso)) for iso in set(pair_isos.tolist())}
    states = []
    append = states.append
    for merchant, iso in zip(pair_merchants.tolist(), pair_isos.tolist()):
        state = prefix.copy()
        state.update(merchant_bytes[merchant] + iso_bytes[iso])
        append(state)
    return states


def _checked_iso(iso) -> str:
    if not isinstance(iso, str) or iso != iso.upper():
        raise ValueError(f"ISO codes must be upper-case strings (UER rule), got {iso!r}")
    return iso


def _le64_slices(values: np.ndarray) -> list[bytes]:
    raw = np.asarray(values, dtype="<u8").tobytes()
    return [raw[i: i + 8] for i in range(0, len(raw), 8)]


def _site_digests(pair_states: list, pair_codes: np.ndarray, orders: np.ndarray) -> bytearray:
    """32-byte digests back to back; written into one buffer to avoid millions of bytes objects."""
    order_bytes = orders.astype("<u8").tobytes()
    out = bytearray(32 * len(orders))
    for i, code in enumerate(pair_codes.tolist()):
        h = pair_states[code].copy()
        h.update(order_bytes[8 * i: 8 * i + 8])
        out[32 * i: 32 * i + 32] = h.digest()
    return out


def _parse_digests(blob: bytes | bytearray, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    digests = np.frombuffer(blob, dtype=np.uint8).reshape(count, 32)
    key = np.ascontiguousarray(digests[:, 24:32]).view("<u8").ravel().astype(_U64)
    ctr_hi = np.ascontiguousarray(digests[:, 16:24]).view(">u8").ravel().astype(_U64)
    ctr_lo = np.ascontiguousarray(digests[:, 24:32]).view(">u8").ravel().astype(_U64)
    return key, ctr_hi, ctr_lo

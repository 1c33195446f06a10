"""RFC 9162 §2.1 Merkle tree hashing, proof generation and proof verification.

Tree hashing (RFC 9162 §2.1.1): a leaf is ``SHA-256(0x00 ‖ d)``, an interior
node ``SHA-256(0x01 ‖ left ‖ right)``, split at the largest power of two
``k < n``; the empty tree hashes to :data:`EMPTY_ROOT`.

Proofs are generated for storage that keeps only *perfect* subtree hashes,
``node(level, idx) = MTH(D[idx·2^level : (idx+1)·2^level])``, written once when
the subtree becomes complete and never changed (crypto-notes §2.3). Every range
the RFC recursion visits decomposes into O(log n) such nodes
(:func:`perfect_nodes`), whose hashes :func:`fold` back into the range's MTH.
:func:`inclusion_ranges` and :func:`consistency_ranges` list the ranges whose
MTHs form ``PATH`` and ``SUBPROOF``, so a store can fetch every node a proof
needs in one batched read (:data:`NodeReader`). :class:`MemoryTree` keeps its
nodes exactly as the SQL store does and is the reference for it.

Verification is pure and raises :class:`~exchange.protocol.errors.ProofError`
on any failure: :func:`verify_inclusion` (RFC 9162 §2.1.3.2) and
:func:`verify_consistency` (§2.1.4.2), plus :func:`verify_subtree_inclusion`
and :func:`verify_subtree_consistency` for subtrees ``[start, end)``, the
generalisation C2SP ``tlog-cosignature`` (``subtree/v1``) signs and the
transparency-dev/merkle ``subtree*`` vectors test.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from exchange.protocol.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "MemoryTree",
    "NodeReader",
    "consistency_proof",
    "consistency_ranges",
    "fold",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_nodes",
    "root",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_subtree_consistency",
    "verify_subtree_inclusion",
]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({})``: the root of the empty tree (RFC 9162 §2.1.1)."""

NodeReader = Callable[[list[tuple[int, int]]], Sequence[bytes]]
"""Reads perfect-subtree hashes ``node(level, idx)``, in the order asked, in one batch."""


def leaf_hash(data: bytes) -> bytes:
    """Return the leaf hash ``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the interior node hash ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_subtree(start: int, end: int) -> bool:
    """Whether ``[start, end)`` is a non-empty range the RFC recursion can visit.

    That is ``start < end`` and ``start`` a multiple of the smallest power of two
    ``>= end - start``: the subtrees of every tree of size ``>= end``.
    """
    return 0 <= start < end and start % (1 << (end - start - 1).bit_length()) == 0


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return ``MTH`` of a list of leaf hashes, computed in memory (RFC 9162 §2.1.1)."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        mid = lo + _split(hi - lo)
        return node_hash(mth(lo, mid), mth(mid, hi))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


# -- generation from perfect subtree nodes ------------------------------------------


def perfect_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """Return the perfect subtrees ``(level, idx)`` covering ``[start, end)``, left to right.

    They follow the binary digits of ``end - start``, largest first, so there
    are at most ``log2(end - start) + 1`` of them. An empty range has none.
    Raises ``ValueError`` if ``[start, end)`` is not a range of the RFC recursion.
    """
    if start == end >= 0:
        return []
    if not _is_subtree(start, end):
        raise ValueError(f"[{start}, {end}) is not a subtree of the RFC 9162 recursion")
    nodes: list[tuple[int, int]] = []
    for level in reversed(range((end - start).bit_length())):
        if (end - start) >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Return the MTH of a range from its :func:`perfect_nodes` hashes, in order.

    A left-balanced tree is its perfect subtrees hashed right to left:
    ``node(h0, node(h1, … node(h[-2], h[-1])))``. No hashes give :data:`EMPTY_ROOT`.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose MTHs form ``PATH(index, D[size])``, in proof order.

    RFC 9162 §2.1.3.1; the sibling nearest the leaf comes first.
    Raises ``ValueError`` unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _subproof(index, index + 1, size)[0]


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """Return the leaf ranges whose MTHs form ``PROOF(old, D[new])``, in proof order.

    RFC 9162 §2.1.4.1 (``SUBPROOF``); equal sizes give no ranges. Raises
    ``ValueError`` unless ``0 < old <= new`` (the RFC defines no proof from
    the empty tree).
    """
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    return _subproof(0, old, new)[0]


def _subproof(start: int, end: int, size: int) -> tuple[list[tuple[int, int]], bool]:
    """``SUBPROOF`` generalised to a subtree ``[start, end)`` of a tree of ``size`` leaves.

    The walk descends from ``[0, size)`` towards ``[start, end)``, recording
    each sibling range. When the subtree spans the split (then ``start`` is the
    range's first leaf), its right part is not known to the verifier: the walk
    continues into it, and its hash joins the proof (``b = false``).
    For a single-leaf subtree this is exactly ``PATH``. Returns the ranges in
    proof order and whether the subtree's own hash is left out of the proof
    (``b = true`` all the way down); if not, the first range is its innermost part.
    """
    lo, hi, known = 0, size, True
    ranges: list[tuple[int, int]] = []
    while (lo, hi) != (start, end):
        mid = lo + _split(hi - lo)
        if end <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            if start < mid:
                start, known = mid, False
            lo = mid
    if not known:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges, known


def _range_hashes(nodes: NodeReader, ranges: list[tuple[int, int]]) -> list[bytes]:
    """Read every perfect node of ``ranges`` in one call and fold each range's MTH."""
    covers = [perfect_nodes(a, b) for a, b in ranges]
    keys = [key for cover in covers for key in cover]
    hashes = list(nodes(keys))
    if len(hashes) != len(keys):
        raise ValueError(f"node reader returned {len(hashes)} hashes for {len(keys)} nodes")
    out: list[bytes] = []
    at = 0
    for cover in covers:
        out.append(fold(hashes[at : at + len(cover)]))
        at += len(cover)
    return out


def inclusion_proof(nodes: NodeReader, index: int, size: int) -> list[bytes]:
    """Return ``PATH(index, D[size])`` from perfect-subtree nodes, reading them in one batch.

    Raises ``ValueError`` unless ``0 <= index < size``.
    """
    return _range_hashes(nodes, inclusion_ranges(index, size))


def consistency_proof(nodes: NodeReader, old: int, new: int) -> list[bytes]:
    """Return ``PROOF(old, D[new])`` from perfect-subtree nodes, reading them in one batch.

    Raises ``ValueError`` unless ``0 < old <= new``.
    """
    return _range_hashes(nodes, consistency_ranges(old, new))


def tree_root(nodes: NodeReader, size: int) -> bytes:
    """Return ``MTH(D[size])`` from its at most ``log2(size) + 1`` perfect-subtree nodes."""
    return fold(nodes(perfect_nodes(0, size))) if size else EMPTY_ROOT


class MemoryTree:
    """An append-only tree in memory that keeps perfect-subtree nodes as the SQL store does.

    Appending leaf ``i`` writes ``node(0, i)``; while the node just written is a
    right child (odd ``idx``) it is hashed with its left sibling and the parent
    written. Nodes are never rewritten, so any earlier size stays provable.
    """

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._size = 0

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, data: bytes) -> int:
        """Append a leaf holding ``data``; return its index."""
        index = self._size
        level, idx, h = 0, index, leaf_hash(data)
        self._nodes[(level, idx)] = h
        while idx & 1:
            h = node_hash(self._nodes[(level, idx - 1)], h)
            level, idx = level + 1, idx >> 1
            self._nodes[(level, idx)] = h
        self._size += 1
        return index

    def nodes(self, keys: list[tuple[int, int]]) -> list[bytes]:
        """Return the hashes of perfect nodes ``(level, idx)``: a :data:`NodeReader`."""
        return [self._nodes[key] for key in keys]

    def root(self, size: int | None = None) -> bytes:
        """Return the root at ``size`` (default: the current size)."""
        return tree_root(self.nodes, self._size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Return the inclusion proof of leaf ``index`` at ``size`` (default: current)."""
        return inclusion_proof(self.nodes, index, self._size if size is None else size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Return the consistency proof from ``old`` to ``new`` (default: current)."""
        return consistency_proof(self.nodes, old, self._size if new is None else new)


# -- verification ---------------------------------------------------------------------


def _check_hashes(**hashes: bytes) -> None:
    """Raise ``ProofError`` unless every named hash is ``HASH_SIZE`` bytes."""
    for name, value in hashes.items():
        if len(value) != HASH_SIZE:
            raise ProofError(f"{name} is {len(value)} bytes, not {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes]) -> None:
    """Raise ``ProofError`` unless every proof hash is ``HASH_SIZE`` bytes."""
    for i, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ProofError(f"proof[{i}] is {len(value)} bytes, not {HASH_SIZE}")


def _check_root(name: str, computed: bytes, expected: bytes) -> None:
    """Raise ``ProofError`` unless the computed hash equals the expected one."""
    if not hmac.compare_digest(computed, expected):
        raise ProofError(f"computed {name} does not match the given one")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Returns ``None``; raises ``ProofError`` if a hash is not
    32 bytes, ``index >= size``, the proof is too long or too short, or the
    computed root differs.
    """
    # 0. Every hash is a SHA-256 digest.
    _check_hashes(leaf_hash=leaf_hash, root=root)
    _check_proof(proof)
    # 1. The leaf is in the tree.
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    # 2-3. Walk from the leaf: fn is its index, sn the last index, r the hash so far.
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        # 4a. Nothing is left to climb: too many hashes.
        if sn == 0:
            raise ProofError(f"inclusion proof of {len(proof)} hashes is too long")
        # 4b. p is a left sibling (or r the last node of its level, p covering the rest).
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        # 4c. p is a right sibling.
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    # 5. The walk reached the root level, and the root matches.
    if sn != 0:
        raise ProofError(f"inclusion proof of {len(proof)} hashes is too short")
    _check_root("root", r, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Verify that the tree of ``old_size`` with ``old_root`` is a prefix of the newer one.

    RFC 9162 §2.1.4.2 for ``0 < old_size < new_size``. Equal sizes need an
    empty proof and equal roots. From size 0 there is no proof (every tree
    extends the empty one; a caller with no earlier tree head has nothing to
    check), so it is an error, as in the transparency-dev reference and its vectors.
    Returns ``None``; raises ``ProofError`` if a hash is not 32 bytes, the
    sizes are out of order, the proof is too long or too short, or a computed
    root differs.
    """
    # 0. Every proof hash is a SHA-256 digest.
    _check_proof(proof)
    # 1. Sizes in order.
    if old_size < 0 or old_size > new_size:
        raise ProofError(f"old size {old_size} is not between 0 and new size {new_size}")
    # 2. From the empty tree there is nothing to prove (every tree extends it): a
    #    caller with no earlier tree head has nothing to check (as the reference).
    if old_size == 0:
        raise ProofError("there is no consistency proof from the empty tree")
    # 3. Equal sizes: the same tree. Nothing is hashed: the roots are only compared
    #    (as the reference does, whatever their length; the vectors expect it).
    if old_size == new_size:
        if proof:
            raise ProofError(f"consistency proof between equal sizes {old_size} must be empty")
        _check_root("old root", new_root, old_root)
        return
    # 4. Both roots are SHA-256 digests.
    _check_hashes(old_root=old_root, new_root=new_root)
    # 5. (RFC step 1) 0 < old < new needs at least one hash.
    if not proof:
        raise ProofError("consistency proof is empty")
    # 6. (RFC step 2) A perfect old tree is its own first node.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    # 7. (RFC steps 3-5) Skip the levels where the old tree's last node is a right child.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    # 8. (RFC step 6) Rebuild both roots.
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof of {len(proof)} hashes is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # 9. (RFC step 7) Reached the root level; both roots match.
    if sn != 0:
        raise ProofError(f"consistency proof of {len(proof)} hashes is too short")
    _check_root("old root", fr, old_root)
    _check_root("new root", sr, new_root)


def verify_subtree_inclusion(
    leaf_hash: bytes, index: int, start: int, end: int, proof: Sequence[bytes], subtree: bytes
) -> None:
    """Verify ``leaf_hash`` is leaf ``index`` of subtree ``[start, end)`` hashing to ``subtree``.

    A subtree is a non-empty ``[start, end)`` with ``start`` a multiple of the
    smallest power of two ``>= end - start``; the proof is ``PATH`` inside it.
    Returns ``None``; raises ``ProofError`` if the range is not a subtree,
    ``index`` is outside it, or :func:`verify_inclusion` fails.
    """
    # 1. A subtree the RFC recursion can visit.
    if not _is_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a subtree")
    # 2. The leaf is in it.
    if not start <= index < end:
        raise ProofError(f"leaf index {index} is not in the subtree [{start}, {end})")
    # 3. An inclusion proof within the subtree.
    verify_inclusion(leaf_hash, index - start, end - start, proof, subtree)


def verify_subtree_consistency(
    start: int, end: int, size: int, subtree: bytes, root: bytes, proof: Sequence[bytes]
) -> None:
    """Verify that subtree ``[start, end)`` with hash ``subtree`` is in the tree ``(size, root)``.

    With ``start = 0`` this is :func:`verify_consistency` from size ``end``.
    An empty subtree (``start == end``) needs an empty proof and
    ``subtree == EMPTY_ROOT``. Returns ``None``; raises ``ProofError`` if a
    hash is not 32 bytes, the range is not a subtree of the tree, the proof
    has the wrong length, or a computed hash differs.
    """
    # 0. Every proof hash is a SHA-256 digest.
    _check_proof(proof)
    # 1. The range lies in the tree.
    if not 0 <= start <= end <= size:
        raise ProofError(f"[{start}, {end}) is not a range of a tree of size {size}")
    # 2. The empty subtree is in every tree (the tree's root plays no part).
    if start == end:
        if proof:
            raise ProofError("consistency proof of an empty subtree must be empty")
        _check_root("subtree hash", EMPTY_ROOT, subtree)
        return
    # 3. The whole tree: the same tree, compared, not hashed (as in `verify_consistency`).
    if start == 0 and end == size:
        if proof:
            raise ProofError("consistency proof of the whole tree must be empty")
        _check_root("subtree hash", root, subtree)
        return
    # 4. Both hashes that take part are SHA-256 digests.
    _check_hashes(subtree=subtree, root=root)
    # 5. A subtree the RFC recursion can visit.
    if not _is_subtree(start, end):
        raise ProofError(f"[{start}, {end}) is not a subtree")
    # 6. One hash per range of the generalised SUBPROOF, checked before hashing.
    ranges, known = _subproof(start, end, size)
    if len(proof) != len(ranges):
        raise ProofError(f"consistency proof has {len(proof)} hashes, expected {len(ranges)}")
    # 7. Rebuild the subtree hash (fr) and the root (sr) from the innermost range out:
    #    a left sibling inside the subtree extends both, any other sibling only the root.
    pairs = list(zip(ranges, proof, strict=True))
    if known:
        lo, fr = start, subtree
    else:
        (lo, _), fr = pairs.pop(0)
    sr = fr
    for (a, b), c in pairs:
        if b == lo:
            sr = node_hash(c, sr)
            if a >= start:
                fr = node_hash(c, fr)
            lo = a
        else:
            sr = node_hash(sr, c)
    # 8. Both hashes match.
    _check_root("subtree hash", fr, subtree)
    _check_root("root", sr, root)

"""RFC 9162 Merkle proofs: known-answer vectors, generated proofs, tamper tests."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.protocol.errors import ProofError
from exchange.protocol.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    consistency_ranges,
    fold,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_nodes,
    root,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_subtree_consistency,
    verify_subtree_inclusion,
)

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "testvectors" / "merkle"
VECTOR_FILES = sorted(VECTORS.glob("*/**/*.json"))


N = 64


def _b(text: str) -> bytes:
    return base64.b64decode(text)


def _run_vector(kind: str, v: dict[str, Any]) -> None:
    proof = [_b(p) for p in v["proof"] or []]
    if kind == "inclusion":
        verify_inclusion(_b(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b(v["root"]))
    elif kind == "consistency":
        verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), proof)
    elif kind == "subtreeinclusion":
        verify_subtree_inclusion(
            _b(v["leafHash"]), v["leafIdx"], v["start"], v["end"], proof, _b(v["root"])
        )
    else:
        assert kind == "subtreeconsistency"
        verify_subtree_consistency(
            v["start"], v["end"], v["size"], _b(v["root1"]), _b(v["root2"]), proof
        )


def test_the_vectors_are_there() -> None:
    kinds = {f.relative_to(VECTORS).parts[0] for f in VECTOR_FILES}
    assert kinds == {"inclusion", "consistency", "subtreeinclusion", "subtreeconsistency"}
    assert len(VECTOR_FILES) == 518


@pytest.mark.parametrize(
    "path", VECTOR_FILES, ids=[str(f.relative_to(VECTORS)) for f in VECTOR_FILES]
)
def test_vector(path: Path) -> None:
    name = path.relative_to(VECTORS).as_posix()
    vector = json.loads(path.read_text(encoding="utf-8"))
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            _run_vector(name.split("/")[0], vector)
    else:
        _run_vector(name.split("/")[0], vector)


# -- a naive RFC 9162 implementation to compare against ------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def _subtree_subproof(start: int, end: int, d: list[bytes], b: bool) -> list[bytes]:
    if (start, end) == (0, len(d)):
        return [] if b else [_mth(d)]
    k = _k(len(d))
    if end <= k:
        return [*_subtree_subproof(start, end, d[:k], b), _mth(d[k:])]
    if start >= k:
        return [*_subtree_subproof(start - k, end - k, d[k:], b), _mth(d[:k])]
    return [*_subtree_subproof(0, end - k, d[k:], False), _mth(d[:k])]


def _is_subtree(start: int, end: int) -> bool:
    width = 1
    while width < end - start:
        width *= 2
    return start < end and start % width == 0


LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(N)]


@pytest.fixture(scope="module")
def trees() -> list[MemoryTree]:
    """``trees[n]`` holds the first ``n`` leaves (each its own tree, to catch state leaks)."""
    out = []
    for n in range(N + 1):
        t = MemoryTree()
        for i in range(n):
            assert t.append(i.to_bytes(4, "big")) == i
        assert t.size == n
        out.append(t)
    return out


def test_hashing_matches_the_rfc() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"l", b"r") == hashlib.sha256(b"\x01lr").digest()
    assert root([]) == EMPTY_ROOT
    for n in range(N + 1):
        assert root(LEAVES[:n]) == _mth(LEAVES[:n])


def test_perfect_nodes_fold_to_the_range_hash() -> None:
    for start in range(N):
        for end in range(start + 1, N + 1):
            if not _is_subtree(start, end):
                with pytest.raises(ValueError, match="is not a subtree"):
                    perfect_nodes(start, end)
                continue
            nodes = perfect_nodes(start, end)
            assert len(nodes) == bin(end - start).count("1")
            hashes = [_mth(LEAVES[i << lv : (i + 1) << lv]) for lv, i in nodes]
            covered = [j for lv, i in nodes for j in range(i << lv, (i + 1) << lv)]
            assert covered == list(range(start, end))
            assert fold(hashes) == _mth(LEAVES[start:end])
    assert perfect_nodes(0, 0) == perfect_nodes(5, 5) == []
    assert fold([]) == EMPTY_ROOT


def test_generated_proofs_equal_the_rfc_and_verify(trees: list[MemoryTree]) -> None:
    big = trees[N]
    for n in range(1, N + 1):
        d = LEAVES[:n]
        r = _mth(d)
        assert trees[n].root() == big.root(n) == r
        for m in range(n):
            proof = big.inclusion_proof(m, n)
            assert proof == trees[n].inclusion_proof(m) == _path(m, d)
            verify_inclusion(d[m], m, n, proof, r)
            verify_subtree_inclusion(d[m], m, 0, n, proof, r)
        for m in range(1, n + 1):
            proof = big.consistency_proof(m, n)
            assert proof == trees[n].consistency_proof(m) == _subproof(m, d, True)
            verify_consistency(m, n, _mth(d[:m]), r, proof)
            verify_subtree_consistency(0, m, n, _mth(d[:m]), r, proof)
        with pytest.raises(ProofError, match="from the empty tree"):
            verify_consistency(0, n, EMPTY_ROOT, r, [])


def test_subtree_proofs_verify() -> None:
    for n in range(1, 33):
        d = LEAVES[:n]
        r = _mth(d)
        for start in range(n):
            for end in range(start + 1, n + 1):
                if not _is_subtree(start, end):
                    continue
                sub = _mth(d[start:end])
                proof = _subtree_subproof(start, end, d, True)
                verify_subtree_consistency(start, end, n, sub, r, proof)
                for i in range(start, end):
                    path = _path(i - start, d[start:end])
                    verify_subtree_inclusion(d[i], i, start, end, path, sub)
        verify_subtree_consistency(n, n, n, EMPTY_ROOT, r, [])


def test_ranges_reject_what_the_rfc_does_not_define() -> None:
    for index, size in [(0, 0), (3, 3), (-1, 2)]:
        with pytest.raises(ValueError, match="is not in a tree of size"):
            inclusion_ranges(index, size)
    for old, new in [(0, 3), (4, 3), (-1, 1)]:
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_ranges(old, new)
    assert consistency_ranges(5, 5) == []
    assert inclusion_ranges(6, 7) == [(4, 6), (0, 4)]
    assert consistency_ranges(3, 7) == [(2, 3), (3, 4), (0, 2), (4, 7)]


def test_one_batched_read_per_proof(trees: list[MemoryTree]) -> None:
    calls: list[list[tuple[int, int]]] = []

    def reader(keys: list[tuple[int, int]]) -> list[bytes]:
        calls.append(keys)
        return trees[N].nodes(keys)

    assert inclusion_proof(reader, 5, 63) == _path(5, LEAVES[:63])
    assert consistency_proof(reader, 13, 63) == _subproof(13, LEAVES[:63], True)
    assert tree_root(reader, 63) == _mth(LEAVES[:63])
    assert len(calls) == 3
    assert tree_root(reader, 0) == EMPTY_ROOT
    assert len(calls) == 3


def test_a_short_node_reader_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 0 hashes for 2 nodes"):
        inclusion_proof(lambda keys: [], 0, 3)


# -- tampering -------------------------------------------------------------------------


def _flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _tampered(proof: list[bytes]) -> list[list[bytes]]:
    out = []
    for i in range(len(proof)):
        for bit in (0, 7):
            out.append([*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]])
        out.append(proof[:i] + proof[i + 1 :])
        out.append([*proof[:i], proof[i], *proof[i:]])
    out.append([*proof, proof[-1] if proof else EMPTY_ROOT])
    out.append([EMPTY_ROOT, *proof])
    return out


def _raises(verify: Callable[..., None], *args: Any) -> None:
    with pytest.raises(ProofError):
        verify(*args)


def test_tampered_inclusion_proofs_fail(trees: list[MemoryTree]) -> None:
    big = trees[N]
    for n in range(1, 40):
        d, r = LEAVES[:n], big.root(n)
        for m in range(n):
            proof = big.inclusion_proof(m, n)
            for bad in _tampered(proof):
                _raises(verify_inclusion, d[m], m, n, bad, r)
            _raises(verify_inclusion, _flip(d[m], 1), m, n, proof, r)
            _raises(verify_inclusion, d[m], m, n, proof, _flip(r, 1))
            for m2 in {m - 1, m + 1, m ^ 2, n} - {m}:
                _raises(verify_inclusion, d[m], m2, n, proof, r)
            for n2 in {n * 2, n // 2} - {n}:
                _raises(verify_inclusion, d[m], m, n2, proof, r)


def test_tampered_consistency_proofs_fail(trees: list[MemoryTree]) -> None:
    big = trees[N]
    for n in range(1, 40):
        r = big.root(n)
        for m in range(1, n + 1):
            r1, proof = big.root(m), big.consistency_proof(m, n)
            for bad in _tampered(proof):
                _raises(verify_consistency, m, n, r1, r, bad)
            _raises(verify_consistency, m, n, _flip(r1, 3), r, proof)
            _raises(verify_consistency, m, n, r1, _flip(r, 3), proof)
            for m2 in {m - 1, m + 1, m * 2} - {m}:
                _raises(verify_consistency, m2, n, r1, r, proof)
            for n2 in {n * 2, n // 2} - {n}:
                _raises(verify_consistency, m, n2, r1, r, proof)
            if m < n:
                _raises(verify_subtree_consistency, 0, m, n, _flip(r1, 0), r, proof)
                _raises(verify_subtree_consistency, 0, m, n, r1, _flip(r, 0), proof)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: verify_inclusion(b"x", 0, 1, [], EMPTY_ROOT), "leaf_hash is 1 bytes"),
        (lambda: verify_inclusion(EMPTY_ROOT, 0, 1, [], b""), "root is 0 bytes"),
        (lambda: verify_inclusion(EMPTY_ROOT, 0, 2, [b"abc"], EMPTY_ROOT), r"proof\[0\] is 3"),
        (lambda: verify_inclusion(EMPTY_ROOT, 2, 2, [], EMPTY_ROOT), "index 2 is not in a tree"),
        (lambda: verify_inclusion(EMPTY_ROOT, -1, 2, [], EMPTY_ROOT), "index -1 is not in"),
        (lambda: verify_inclusion(EMPTY_ROOT, 0, 1, [EMPTY_ROOT], EMPTY_ROOT), "too long"),
        (lambda: verify_inclusion(EMPTY_ROOT, 0, 2, [], EMPTY_ROOT), "too short"),
        (lambda: verify_inclusion(EMPTY_ROOT, 0, 1, [], LEAVES[0]), "computed root does not"),
        (lambda: verify_consistency(2, 1, EMPTY_ROOT, EMPTY_ROOT, []), "not between 0 and"),
        (lambda: verify_consistency(-1, 1, EMPTY_ROOT, EMPTY_ROOT, []), "not between 0 and"),
        (lambda: verify_consistency(0, 3, EMPTY_ROOT, LEAVES[0], []), "from the empty tree"),
        (lambda: verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []), "from the empty tree"),
        (lambda: verify_consistency(2, 2, LEAVES[0], LEAVES[0], [LEAVES[1]]), "must be empty"),
        (lambda: verify_consistency(2, 2, LEAVES[0], LEAVES[1], []), "old root does not"),
        (lambda: verify_consistency(2, 3, LEAVES[0], LEAVES[1], []), "proof is empty"),
        (lambda: verify_consistency(1, 2, LEAVES[0], LEAVES[1], [EMPTY_ROOT] * 2), "too long"),
        (lambda: verify_consistency(3, 8, LEAVES[0], LEAVES[1], [EMPTY_ROOT]), "too short"),
        (lambda: verify_consistency(1, 2, b"", EMPTY_ROOT, [EMPTY_ROOT]), "old_root is 0"),
        (lambda: verify_consistency(1, 2, EMPTY_ROOT, b"", [EMPTY_ROOT]), "new_root is 0"),
        (lambda: verify_subtree_inclusion(EMPTY_ROOT, 3, 3, 5, [], EMPTY_ROOT), "not a subtree"),
        (lambda: verify_subtree_inclusion(EMPTY_ROOT, 4, 4, 4, [], EMPTY_ROOT), "not a subtree"),
        (lambda: verify_subtree_inclusion(EMPTY_ROOT, 3, 4, 6, [], EMPTY_ROOT), "not in the sub"),
        (lambda: verify_subtree_consistency(0, 3, 2, EMPTY_ROOT, EMPTY_ROOT, []), "not a range"),
        (lambda: verify_subtree_consistency(2, 1, 2, EMPTY_ROOT, EMPTY_ROOT, []), "not a range"),
        (lambda: verify_subtree_consistency(1, 1, 2, LEAVES[0], EMPTY_ROOT, []), "subtree hash"),
        (
            lambda: verify_subtree_consistency(1, 1, 2, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
            "empty subtree must be empty",
        ),
        (lambda: verify_subtree_consistency(2, 6, 8, EMPTY_ROOT, EMPTY_ROOT, []), "not a subtree"),
        (
            lambda: verify_subtree_consistency(4, 6, 8, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
            "has 1 hashes, expected 2",
        ),
        (lambda: verify_subtree_consistency(0, 1, 2, b"", EMPTY_ROOT, []), "subtree is 0 bytes"),
        (lambda: verify_subtree_consistency(0, 1, 1, b"", EMPTY_ROOT, []), "does not match"),
        (
            lambda: verify_subtree_consistency(0, 1, 1, LEAVES[0], LEAVES[0], [LEAVES[1]]),
            "whole tree must be empty",
        ),
    ],
)
def test_each_failure_says_what_failed(call: Callable[[], None], message: str) -> None:
    with pytest.raises(ProofError, match=message):
        call()


def test_a_size_off_by_one_can_share_the_proof_shape() -> None:
    """RFC 9162 property: the proof pins the path's shape, the signed tree head pins the size.

    Leaf 0 of 5 leaves and of 6 leaves hashes in the same order, so the 5-leaf proof
    also "verifies" for size 6 against the 5-leaf root. Never take the size from
    anywhere but the verified tree head.
    """
    tree = MemoryTree()
    for i in range(5):
        tree.append(i.to_bytes(4, "big"))
    verify_inclusion(LEAVES[0], 0, 6, tree.inclusion_proof(0), tree.root())
    verify_consistency(1, 6, tree.root(1), tree.root(), tree.consistency_proof(1))


# -- properties (hypothesis is in the dev environment) ---------------------------------

BIG = MemoryTree()
for _i in range(2048):
    BIG.append(_i.to_bytes(4, "big"))


@given(data=st.data(), size=st.integers(1, 2048))
@settings(max_examples=200, deadline=None)
def test_any_proof_verifies_and_any_bit_flip_fails(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    r = BIG.root(size)
    inc = BIG.inclusion_proof(index, size)
    con = BIG.consistency_proof(old, size)
    verify_inclusion(leaf_hash(index.to_bytes(4, "big")), index, size, inc, r)
    verify_consistency(old, size, BIG.root(old), r, con)
    if inc:
        at = data.draw(st.integers(0, len(inc) - 1))
        inc[at] = _flip(inc[at], data.draw(st.integers(0, 7)))
        with pytest.raises(ProofError):
            verify_inclusion(leaf_hash(index.to_bytes(4, "big")), index, size, inc, r)
    if con:
        at = data.draw(st.integers(0, len(con) - 1))
        con[at] = _flip(con[at], data.draw(st.integers(0, 7)))
        with pytest.raises(ProofError):
            verify_consistency(old, size, BIG.root(old), r, con)

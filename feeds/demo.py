"""``feeds demo``: the whole sealed-report flow against a throwaway hub, step by step.

`run_demo` starts ``exchange serve`` on a free loopback port with its data in
a temporary directory, plays the operator with ``exchange admin`` (separate
processes, as an operator would), and plays four members with this package,
each with its own keystore: a law-enforcement authority that owns the feed, a
technology company that publishes to it, a third member that the operator
grants the feed but the owner's policy does not name, and an auditor. Each
`Step` says what was done and what it proved. Everything is removed at the
end, the hub process included.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from exchange.protocol import TAXII_21
from feeds.crypto.envelope import seal_report
from feeds.crypto.keyfile import KdfParams
from feeds.crypto.keys import MemberSecrets
from feeds.crypto.keystore import Keystore
from feeds.errors import FeedsError, NotARecipient, RequestRefused
from feeds.exchange_api import ExchangeApi
from feeds.feed_policy import fetch_feed_policy, publish_policy
from feeds.opening import ReportOpener
from feeds.pinning import PinStore
from feeds.policy_files import sign_policy
from feeds.publishing import post_objects, publish_report, recipient_key, recipient_keys
from feeds.pulling import feed_pages, pull_feed
from feeds.registration import register_keys
from feeds.transparency import DirectoryCheck
from feeds.trends.build import build_trend_report
from feeds.trends.chart import write_chart
from feeds.trends.merge import merge_reports, write_merged
from feeds.trends.periods import parse_period
from feeds.trends.report import trend_bundle
from feeds.trends.synthetic import generate_incidents, write_incidents
from policies import policy_from_template

__all__ = ["DemoFailed", "Step", "run_demo"]

FEED = "cybercrime-trends"
_DEMO_KDF = KdfParams(t=1, m=8 * 1024, p=1)
"""A light Argon2id setting: these keys live for a minute and guard nothing."""
_START_TIMEOUT = 30.0
_YEAR = "2025-10-01/2026-10-01"
_QUARTERS = ("2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3")
_RATE = 40.0
"""Synthetic incident records a day, for each reporting member."""


class DemoFailed(FeedsError):
    """A step of the demo did not prove what it should have."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step: what was done, and what it proved."""

    title: str
    proved: str
    seconds: float


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    id: str
    token: SecretStr
    keystore: Keystore

    def api(self, hub: str) -> ExchangeApi:
        return ExchangeApi(hub, self.token, httpx.Client(timeout=30.0))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _exchange() -> list[str]:
    """The operator's command line: the ``exchange`` script beside this interpreter."""
    script = Path(sys.executable).parent / "exchange"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "exchange"]


def _run_exchange(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the operator's ``exchange`` script with ``args`` (a fixed command line)."""
    return subprocess.run(  # noqa: S603
        [*_exchange(), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


class _Operator:
    """The hub's operator: ``exchange serve`` and ``exchange admin`` on a private home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
        self.env["EXCHANGE_HOME"] = str(home / "hub")
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def admin(self, *args: str) -> dict[str, Any]:
        # A fixed command line: our own operator script and our own arguments.
        done = _run_exchange(["admin", *args, "--json"], self.env)
        if done.returncode != 0:
            raise DemoFailed(f"exchange admin {' '.join(args)} failed: {done.stderr.strip()}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def start(self) -> str:
        port = _free_port()
        log = (self.home / "hub.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603
            [*_exchange(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoFailed(f"the hub exited early: {self.log()[-2000:]}")
            try:
                httpx.get(f"{self.url}/taxii2/", timeout=1.0)
                return self.url
            except httpx.TransportError:
                time.sleep(0.1)
        raise DemoFailed("the hub did not answer within 30 s")

    def audit(self, hub: str, token: SecretStr, state: Path) -> dict[str, Any]:
        """Run ``exchange audit verify`` as an auditor would; return its JSON report."""
        env = {k: v for k, v in self.env.items() if k != "EXCHANGE_HOME"}
        env["EXCHANGE_TOKEN"] = token.get_secret_value()
        time.sleep(1.2)  # the hub checkpoints its logs every second
        done = _run_exchange(
            ["audit", "verify", "--hub", hub, "--state", str(state), "--json"], env
        )
        if done.returncode != 0:
            raise DemoFailed(f"exchange audit verify failed: {done.stdout}{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def log(self) -> str:
        path = self.home / "hub.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def data_bytes(self) -> bytes:
        """Every byte of the hub's data directory (its database and anything beside it)."""
        root = self.home / "hub"
        return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def _trend_reports(
    work: Path, member: _Member, kind: str, seed: int, *, epsilon: float | None = None
) -> tuple[bytes, list[str]]:
    """``member``'s quarterly trend reports for the demo's year, built from synthetic
    incident records of its own, as one STIX bundle; and the reports' ids."""
    records = work / f"{kind}-incidents.csv"
    window = parse_period(_YEAR)
    write_incidents(
        generate_incidents(
            seed=seed, start=window.start, end=window.end, rate=_RATE, reporter_kind=kind
        ),
        records,
    )
    reports = []
    for quarter in _QUARTERS:
        built = build_trend_report(
            records,
            period=parse_period(quarter),
            reporter_kind=kind,
            k=10,
            epsilon=epsilon,
            ledger=work / f"{kind}-privacy-ledger.json" if epsilon is not None else None,
            created_by=member.id,
        )
        reports.append(built.report)
    bundle = trend_bundle(*reports)
    return json.dumps(bundle, indent=1).encode(), [report["id"] for report in reports]


@contextmanager
def _workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="trend-exchange-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _objects_status(member: _Member, hub: str, feed_id: str) -> int:
    """The HTTP status of ``member``'s TAXII request for the feed's objects."""
    with member.api(hub) as api:
        url = f"{api.api_root()}collections/{feed_id}/objects/"
    headers = {
        "Accept": TAXII_21,
        "Authorization": f"Bearer {member.token.get_secret_value()}",
    }
    return httpx.get(url, headers=headers, timeout=30.0).status_code


def _with_ghost(
    api: ExchangeApi,
    plaintext: bytes,
    feed_id: str,
    publisher: str,
    ghost: str,
    signer: MemberSecrets,
) -> dict[str, Any]:
    """``plaintext`` sealed to the policy's readers plus ``ghost``, properly signed."""
    signed = fetch_feed_policy(api, feed_id, now=datetime.now(UTC), pins=None).current
    recipients = [*recipient_keys(api, signed, publisher), recipient_key(api, ghost)]
    return seal_report(
        plaintext,
        feed=feed_id,
        publisher=publisher,
        policy_version=signed.policy.version,
        policy_digest=signed.digest,
        tlp_marking=signed.policy.tlp,
        recipients=recipients,
        signer=signer,
    )


def run_demo(report: Callable[[Step], None], out: Path) -> list[Step]:
    """Run the demo, calling ``report`` after each step; return the steps.

    The merged trend table and its charts are written to ``out`` (``merged.json``,
    ``trends.html``, ``trends.png``); nothing else is left behind.

    Raises `DemoFailed` if a step does not prove what it should, and
    `FeedsError` if something fails on the way.
    """
    steps: list[Step] = []
    clock = [time.monotonic()]

    def done(title: str, proved: str) -> None:
        now = time.monotonic()
        step = Step(title, proved, round(now - clock[0], 2))
        clock[0] = now
        steps.append(step)
        report(step)

    with _workspace() as work:
        operator = _Operator(work)
        try:
            hub = operator.start()
            done(
                f"started a throwaway hub on {hub} (data in a temporary directory)",
                "the hub answers TAXII 2.1 discovery on loopback; it holds no member's key",
            )
            # The keystores' passphrase: random, and gone with the run.
            _play(operator, hub, work, out, done, secrets.token_urlsafe(24))
        finally:
            operator.stop()
    return steps


def _play(
    operator: _Operator,
    hub: str,
    work: Path,
    charts: Path,
    done: Callable[[str, str], None],
    passphrase: str,
) -> None:
    # The operator admits the members and creates the feed.
    kinds = {
        "authority": ("National cybercrime unit", "authority"),
        "company": ("Technology company", "industry"),
        "third": ("Third member", "research"),
        "auditor": ("Auditor", "auditor"),
    }
    members: dict[str, _Member] = {}
    for role, (name, kind) in kinds.items():
        out = operator.admin("member", "add", name, "--kind", kind)
        members[role] = _Member(name, out["id"], SecretStr(out["token"]), Keystore(work / role))
    owner = members["authority"].name
    operator.admin("feed", "add", FEED, "--title", "Cybercrime trends", "--owner", owner)
    operator.admin("grant", members["company"].name, FEED, "--read", "--write")
    operator.admin("grant", members["third"].name, FEED, "--read")
    done(
        "the operator admitted an authority, a technology company, a third member and an"
        f" auditor, created the feed {FEED} owned by the authority, and granted the company"
        " and the third member access",
        "each member holds a bearer token the hub stores only as a hash; grants are the"
        " operator's half of access, the owner's signed policy is the other",
    )
    # Every member makes its keys locally and registers the public half.
    for member in members.values():
        member.keystore.create(passphrase, kdf=_DEMO_KDF)
        with member.api(hub) as api:
            register_keys(api, member.keystore, lambda: passphrase)
    done(
        "each member generated its keys (ML-KEM-768+X25519, Ed25519, ML-DSA-65) on its own"
        " machine and registered the self-signed public bundle",
        "the hub took each bundle after checking its self-signatures; the private keys"
        " stayed in each member's keystore (no route of the hub accepts one)",
    )
    # The authority signs the policy.
    authority, company, third = members["authority"], members["company"], members["third"]
    now = datetime.now(UTC)
    with authority.api(hub) as api:
        feed_id = api.resolve_feed(FEED).id
        policy = policy_from_template(
            "authorities-and-industry",
            feed=feed_id,
            owner=authority.id,
            valid_from=now,
            readers=(authority.id, company.id),
            writers=(authority.id, company.id),
        )
        keys = authority.keystore.load(passphrase).current
        first = sign_policy(policy, keys)
        publish_policy(api, FEED, first, pins=PinStore(authority.keystore))
        # A version 2 that adds the third member, signed with keys that are not the owner's.
        widened = policy_from_template(
            "authorities-and-industry",
            feed=feed_id,
            owner=authority.id,
            valid_from=now,
            version=2,
            previous=first.digest,
            readers=(authority.id, company.id, third.id),
            writers=(authority.id, company.id),
        )
        forged = sign_policy(widened, company.keystore.load(passphrase).current)
        try:
            api.publish_policy(feed_id, forged)
        except RequestRefused as exc:
            forged_status = exc.status
        else:
            raise DemoFailed("the hub took a policy not signed by the feed's owner")
    done(
        "the authority signed policy version 1 (TLP:AMBER; readers: itself and the company)"
        " with Ed25519 and ML-DSA-65 and published it; then a version 2 adding the third"
        f" member, signed with the company's keys, was posted (HTTP {forged_status})",
        "the hub takes a policy version only with both of the owner's signatures",
    )
    # The authority and the company each publish a year of quarterly trend reports.
    own, own_ids = _trend_reports(work, authority, "authority", seed=1, epsilon=1.0)
    plaintext, report_ids = _trend_reports(work, company, "industry", seed=2)
    with authority.api(hub) as api:
        mine = publish_report(
            api,
            authority.token,
            FEED,
            own,
            signer=authority.keystore.load(passphrase).current,
            now=datetime.now(UTC),
            pins=PinStore(authority.keystore),
            log_check=DirectoryCheck(api, authority.keystore),
        )
        if not mine.success:
            raise DemoFailed(f"the hub refused the authority's reports: {mine.message}")
    company_keys = company.keystore.load(passphrase).current
    with company.api(hub) as api:
        published = publish_report(
            api,
            company.token,
            FEED,
            plaintext,
            signer=company_keys,
            now=datetime.now(UTC),
            pins=PinStore(company.keystore),
            log_check=DirectoryCheck(api, company.keystore),
        )
        if not published.success:
            raise DemoFailed(f"the hub refused the report: {published.message}")
        ghost = _with_ghost(api, plaintext, feed_id, company.id, third.id, company_keys)
        url = f"{api.api_root()}collections/{feed_id}/"
        status = post_objects(url, company.token, [ghost])
    failures = getattr(status, "failures", None) or []
    if status.success_count or not any("ghost" in str(f) for f in failures):
        raise DemoFailed("the hub stored a report sealed to a member outside the policy")
    done(
        f"the authority and the company each turned a year of their own (synthetic) incident"
        f" records into {len(_QUARTERS)} quarterly trend reports (cells under 10 records"
        " suppressed; the authority's with differential privacy, epsilon 1 per quarter),"
        f" sealed them to the policy's readers and published them (envelope"
        f" {published.envelope_id}, {len(published.recipients)} recipients); then the company"
        " sealed a copy to the third member as well, signed it, and posted that",
        "the hub stored the reports and refused the copy: a recipient outside the signed"
        " policy (a ghost) is caught before anything is stored",
    )
    at_rest = operator.data_bytes()
    inside = [report.encode() for report in (*own_ids, *report_ids)]
    if any(needle in at_rest for needle in inside):
        raise DemoFailed("the hub's data directory holds a trend report's id")
    done(
        f"searched every byte of the hub's data directory ({len(at_rest):,} bytes) for the"
        f" ids of the {len(inside)} trend reports inside the sealed bundles",
        "the hub stores ciphertext only: none of them is there",
    )
    # The authority pulls and opens it.
    with authority.api(hub) as api:
        generations = list(authority.keystore.load(passphrase).generations.values())
        summary = pull_feed(
            api,
            authority.token,
            FEED,
            work / "authority-inbox",
            generations=generations,
            now=datetime.now(UTC),
            pins=PinStore(authority.keystore),
            log_check=DirectoryCheck(api, authority.keystore),
        )
    opened = work / "authority-inbox" / f"{published.envelope_id}.json"
    if summary.count("opened") != 2 or opened.read_bytes() != plaintext:
        raise DemoFailed(f"the authority could not open the report: {summary.outcomes}")
    done(
        "the authority pulled the feed over TAXII and opened both sealed bundles",
        "signatures, recipients against the signed policy and the key commitment all"
        " verified, and the policy and every key bundle used are proven to be in the hub's"
        " directory log; the company's bundle is byte for byte what it sealed",
    )
    # The third member is refused by the hub, and cannot open a copy either.
    refused = _objects_status(third, hub, feed_id)
    if refused not in (403, 404):
        raise DemoFailed(f"the hub answered the third member with HTTP {refused}")
    # The company hands the third member the sealed report and the verified policy.
    with company.api(hub) as api:
        feed_policy = fetch_feed_policy(api, FEED, now=datetime.now(UTC), pins=None)
        url = f"{api.api_root()}collections/{feed_id}/"
        sealed = [
            raw
            for page in feed_pages(url, company.token, added_after=None, per_request=100)
            for raw in page.objects
            if raw.get("id") == f"sealed-report--{published.envelope_id}"
        ]
    with third.api(hub) as api:
        opener = ReportOpener(
            api,
            feed_policy,
            me=third.id,
            generations=list(third.keystore.load(passphrase).generations.values()),
        )
        try:
            opener.open(sealed[0])
        except NotARecipient:
            pass
        else:
            raise DemoFailed("the third member opened a report not sealed to it")
    done(
        f"the third member asked for the feed (HTTP {refused}), then was handed a copy of the"
        " sealed report and tried to open it",
        "an operator grant without the owner's policy gets nothing; a leaked copy does not"
        " open without a recipient's key",
    )
    status = _objects_status(members["auditor"], hub, feed_id)
    if status not in (403, 404):
        raise DemoFailed(f"the hub answered the auditor with HTTP {status}")
    verified = operator.audit(hub, members["auditor"].token, work / "audit-state")
    sizes = ", ".join(f"{r['log']} {r['size']} entries" for r in verified["logs"])
    done(
        f"the auditor asked for the feed (HTTP {status}), then ran exchange audit verify on"
        f" both logs ({sizes})",
        "the auditor reads no report; every request above is in the access log, and"
        " neither log was edited, reordered or forked (signed checkpoints, RFC 9162 proofs)",
    )
    # The authority merges what it opened and charts it.
    charts.mkdir(parents=True, exist_ok=True)
    merged = merge_reports([work / "authority-inbox"])
    if merged.refused or not all(source.verified for source in merged.sources):
        raise DemoFailed(f"the opened reports did not merge: {merged.refused}")
    write_merged(merged, charts / "merged.json")
    page = write_chart(merged, charts / "trends.html")
    write_chart(merged, charts / "trends.png")
    authors = len({source.member for source in merged.sources})
    suppressed = sum(1 for value in merged.combined if value.suppressed)
    done(
        f"the authority merged the {len(merged.sources)} trend reports it opened ({authors}"
        f" members x {len(merged.periods)} quarters) and charted them: {page.path}",
        f"every value names its source, verified by the sealed envelope's signature, and its"
        f" disclosure control; {suppressed} of {len(merged.combined)} combined values stay"
        " suppressed because a member suppressed its cell: merging never un-suppresses",
    )

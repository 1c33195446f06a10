"""``feeds policy``: draft, sign, verify, publish and show a feed's sharing policy."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from feeds.cli._factory import typer_factory
from feeds.cli._output import emit_json, stdout
from feeds.cli._policy_view import policy_json, render_policy
from feeds.cli._session import Session, reported
from feeds.cli.options import (
    FeedOpt,
    HubUrlOpt,
    JsonOpt,
    KeystoreOpt,
    OutputOpt,
    PolicyFileArg,
    TokenOpt,
)
from feeds.errors import DocumentError
from feeds.feed_policy import draft_policy, fetch_feed_policy, publish_policy, verify_with_hub
from feeds.identity import known_member, local_identity
from feeds.pinning import PinStore
from feeds.policy_files import (
    read_policy,
    read_signed_policy,
    sign_policy,
    verify_own_signature,
    write_document,
)
from policies import policy_document, template_names

__all__ = ["create_policy_app"]


def _template(name: str) -> str:
    if name not in template_names():
        raise typer.BadParameter(f"choose one of: {', '.join(template_names())}")
    return name


TemplateOpt = Annotated[
    str,
    typer.Option(
        "--template",
        metavar="NAME",
        callback=_template,
        show_default=False,
        help=f"The template to start from: {', '.join(template_names())}.",
    ),
]


def init(
    feed: FeedOpt,
    template: TemplateOpt,
    output: OutputOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft the next version of a feed's policy (yours) from a template, into a file."""
    with reported():
        session = Session(hub=hub, token=token)
        with session.hub() as api:
            draft = draft_policy(api, feed, template, now=datetime.now(UTC))
        path = output or Path(re.sub(r"[^\w.-]", "_", feed) + ".policy.json")
        if path.exists() and not force:
            raise DocumentError(str(path), "already exists; pass --force to replace it")
        write_document(path, policy_document(draft.policy))
    policy = draft.policy
    if as_json:
        emit_json({"file": str(path), "feed": policy.feed, "version": policy.version})
        return
    stdout.print(f"wrote {escape(str(path))}: version {policy.version} of the policy of {feed}")
    stdout.print(f"readers: {', '.join(policy.readers)}")
    stdout.print(f"writers: {', '.join(policy.writers)}")
    stdout.print(
        f'next: edit "readers" and "writers" (member ids, identity--…) in {escape(str(path))},'
        f" then `feeds policy sign {escape(str(path))}` and"
        f" `feeds policy publish {escape(str(path))} --feed {escape(feed)}`"
    )


def sign(
    file: PolicyFileArg,
    output: OutputOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sign a policy file with your current keys (writes the signed form back, or to -o)."""
    with reported():
        session = Session(keystore=keystore)
        policy = read_policy(file)
        member = known_member(session.keystore)
        if member is not None and member != policy.owner:
            raise DocumentError(
                str(file), f"its owner is {policy.owner}, but this keystore is member {member}"
            )
        signed = sign_policy(policy, session.keystore.load(session.passphrase()).current)
        target = output or file
        write_document(target, signed.to_json())
    if as_json:
        emit_json({"file": str(target), "version": policy.version, "digest": signed.digest})
        return
    stdout.print(f"signed version {policy.version} into {escape(str(target))}")
    stdout.print(f"digest: {signed.digest}")


def verify(
    file: PolicyFileArg,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Check against this keystore's keys (your own policy), not the hub."
        ),
    ] = False,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a signed policy file against its owner's registered keys (or, --offline, yours)."""
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        signed = read_signed_policy(file)
        if offline:
            generation = verify_own_signature(signed, local_identity(session.keystore))
            by = f"key generation {generation.number} of this keystore"
        else:
            with session.hub() as api:
                bundle, chain = verify_with_hub(api, signed, pins=PinStore(session.keystore))
            state = "in force" if bundle.digest == chain[-1].digest else "since replaced"
            by = f"the owner's registered key bundle {bundle.keys.sequence} ({state})"
    policy = signed.policy
    if as_json:
        emit_json(
            {
                "file": str(file),
                "verified": True,
                "feed": policy.feed,
                "owner": policy.owner,
                "version": policy.version,
                "digest": signed.digest,
                "signed_by": by,
            }
        )
        return
    stdout.print(f"verified: version {policy.version} of the policy of feed {policy.feed}")
    stdout.print(f"owner {policy.owner}, signed with {by}")
    stdout.print(f"digest: {signed.digest}")


def publish(
    file: PolicyFileArg,
    feed: FeedOpt,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a signed policy file, then publish it as the feed's next policy version."""
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        signed = read_signed_policy(file)
        with session.hub() as api:
            receipt = publish_policy(api, feed, signed, pins=PinStore(session.keystore))
    if as_json:
        emit_json({"feed": receipt.feed, "version": receipt.version, "digest": receipt.digest})
        return
    stdout.print(f"published version {receipt.version} of the policy of {escape(feed)}")
    stdout.print(f"digest: {receipt.digest}")


def show(
    feed: FeedOpt,
    repin: Annotated[
        bool,
        typer.Option(
            "--repin", help="Forget the feed's pinned owner and pin the one presented now."
        ),
    ] = False,
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch, verify and show the policy in force of a feed (pinning its owner on first use)."""
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        with session.hub() as api:
            shown = fetch_feed_policy(
                api, feed, now=datetime.now(UTC), pins=PinStore(session.keystore), repin=repin
            )
            me = api.whoami().id
    if as_json:
        emit_json(policy_json(shown))
    else:
        render_policy(shown, stdout, me=me)


def create_policy_app() -> typer.Typer:
    """Build the ``feeds policy`` command group."""
    app = typer_factory("Your feeds' sharing policies: draft, sign, verify, publish, show.")
    app.command("init")(init)
    app.command("sign")(sign)
    app.command("verify")(verify)
    app.command("publish")(publish)
    app.command("show")(show)
    return app

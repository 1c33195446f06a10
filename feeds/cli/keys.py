"""``feeds keys``: create, show, register and rotate your keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from feeds.cli._factory import typer_factory
from feeds.cli._output import emit_json, fail, stdout
from feeds.cli._session import Session, reported
from feeds.cli.options import HubUrlOpt, JsonOpt, KeystoreOpt, TokenOpt
from feeds.errors import HubError, KeystoreError
from feeds.identity import LocalIdentity, local_identity
from feeds.registration import Registration, finish_rotation, register_keys, rotate_keys

__all__ = ["create_keys_app"]


def _identity_json(session: Session, identity: LocalIdentity) -> dict[str, Any]:
    return {
        "keystore": str(session.keystore.path),
        "member": identity.member,
        "generation": identity.current.number,
        "fingerprint": identity.fingerprint,
        "generations": [
            {"generation": g.number, "key_ids": g.key_ids} for g in identity.generations
        ],
    }


def _render_identity(session: Session, identity: LocalIdentity, *, all_generations: bool) -> None:
    stdout.print(f"keystore: {escape(str(session.keystore.path))}")
    stdout.print(f"member: {identity.member or 'not registered yet (feeds keys register)'}")
    shown = identity.generations if all_generations else identity.generations[-1:]
    for generation in shown:
        current = " (current, signs)" if generation is identity.current else ""
        stdout.print(f"generation {generation.number}{current}:")
        for alg, key_id in generation.key_ids.items():
            stdout.print(f"  {alg:<16} {key_id}")
    stdout.print(f"fingerprint: {identity.fingerprint}")


def init(
    keystore: KeystoreOpt = None,
    classical: Annotated[
        bool,
        typer.Option("--classical", help="Also create a classical X25519 encryption key."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create your keys (generation 1), protected by a passphrase you choose."""
    with reported():
        session = Session(keystore=keystore)
        if session.keystore.exists():
            raise KeystoreError(
                str(session.keystore.path),
                f"{session.keystore.path} already holds keys; use `feeds keys rotate`",
            )
        session.keystore.create(session.passphrase(confirm=True), classical=classical)
        identity = local_identity(session.keystore)
    if as_json:
        emit_json(_identity_json(session, identity))
        return
    _render_identity(session, identity, all_generations=True)
    stdout.print("next: `feeds keys register` publishes the public keys to the hub")


def show(keystore: KeystoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show your key ids (every generation) and your fingerprint; no passphrase needed."""
    with reported():
        session = Session(keystore=keystore)
        identity = local_identity(session.keystore)
    if as_json:
        emit_json(_identity_json(session, identity))
    else:
        _render_identity(session, identity, all_generations=True)


def _registration_json(registration: Registration, fingerprint: str) -> dict[str, Any]:
    return {
        "member": registration.member,
        "sequence": registration.sequence,
        "digest": registration.digest,
        "generation": registration.generation,
        "uploaded": registration.uploaded,
        "fingerprint": fingerprint,
    }


def _render_registration(registration: Registration, fingerprint: str) -> None:
    if registration.uploaded:
        stdout.print(
            f"registered key generation {registration.generation} as bundle"
            f" {registration.sequence} of {registration.member}"
        )
    else:
        stdout.print(
            f"the hub already holds key generation {registration.generation} as bundle"
            f" {registration.sequence} of {registration.member}; nothing to do"
        )
    stdout.print(f"digest: {registration.digest}")
    stdout.print(f"fingerprint: {fingerprint} (read it to the members who pin your feeds)")


def register(
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish your current public keys to the hub's key directory (once per generation)."""
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        with session.hub() as api:
            registration = register_keys(api, session.keystore, session.passphrase)
        fingerprint = local_identity(session.keystore).fingerprint
    if as_json:
        emit_json(_registration_json(registration, fingerprint))
    else:
        _render_registration(registration, fingerprint)


def rotate(
    hub: HubUrlOpt = None,
    token: TokenOpt = None,
    keystore: KeystoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create your next key generation, endorsed by the current one, and register it.

    Old generations stay in the keystore, to open what was sealed to them.
    """
    with reported():
        session = Session(hub=hub, token=token, keystore=keystore)
        with session.hub() as api:
            pending = rotate_keys(api, session.keystore, session.passphrase())
            try:
                registration = finish_rotation(api, pending)
            except HubError as exc:
                fail(
                    f"{exc.message}; the new keys are saved as generation {pending.generation}:"
                    " run `feeds keys register` to upload them"
                )
        fingerprint = local_identity(session.keystore).fingerprint
    if as_json:
        emit_json(_registration_json(registration, fingerprint))
    else:
        _render_registration(registration, fingerprint)


def create_keys_app() -> typer.Typer:
    """Build the ``feeds keys`` command group."""
    app = typer_factory("Your member keys: create, show, register with the hub, rotate.")
    app.command("init")(init)
    app.command("show")(show)
    app.command("register")(register)
    app.command("rotate")(rotate)
    return app

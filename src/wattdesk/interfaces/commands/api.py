"""`wattdesk api token create --user USERNAME --name NAME` (prints the secret once; only its SHA-256 is kept)
and `wattdesk api token revoke ID`. See docs/api.md."""

from __future__ import annotations

import argparse

NAME = "api"
HELP = "REST API access tokens"
NEEDS_DJANGO = True


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="object", metavar="OBJECT", required=True)
    token = sub.add_parser("token", help="create or revoke an API token")
    actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token for a user; the secret is printed once")
    create.add_argument("--user", required=True, help="username the token acts as (with that user's roles)")
    create.add_argument("--name", required=True, help="what the token is for, e.g. 'AMI gateway'")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)


def run(args: argparse.Namespace) -> int:
    from django.utils import timezone

    from wattdesk.interfaces.api.tokens import create_token, revoke_token

    if args.action == "create":
        issued = create_token(username=args.user, name=args.name, created_at=timezone.now())
        print(f"token {issued.token.pk} for {args.user} ({issued.token.name}):")
        print(issued.secret)
        print("Keep this secret now: it is not stored and cannot be shown again.")
        print("Use it as: Authorization: Bearer <secret>")
        return 0
    token = revoke_token(token_id=args.id)
    print(f"token {token.pk} ({token.name}) revoked")
    return 0

"""What every command shares: the gateway option, and the MeshKit a command acts through
(the CLI is a layer over the Python API: kit/api.py)."""

import argparse
import os

from ..core.errors import InvalidArgumentError

GATEWAY_ENV = "MESHKIT_GATEWAY"
HOME_ENV = "MESHKIT_HOME"


def gateway_url(text: str) -> str:
    """A --gateway value: http(s)://[user:pass@]host[:port][/path]. Refused (without echoing
    it: it may hold a password) when it does not parse."""
    from ..core.auth import canonical_url
    try:
        canonical_url(text)
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError("not a gateway URL (http(s)://host[:port][/path]; "
                                         "percent-encode '/', '?', '#' and '@' in a password)") from None
    return text


def add_gateway(parser, help: str | None = None) -> None:
    """--gateway URL, required unless $MESHKIT_GATEWAY names one (checked the same way)."""
    default = os.environ.get(GATEWAY_ENV) or None
    parser.add_argument("--gateway", metavar="URL", type=gateway_url, required=default is None,
                        default=default,  # argparse checks a string default with ``type`` too
                        help=(help or "the gateway") + f" (default: ${GATEWAY_ENV})")


def env_gateway() -> str | None:
    value = os.environ.get(GATEWAY_ENV)
    if not value:
        return None
    try:
        return gateway_url(value)
    except argparse.ArgumentTypeError:
        raise InvalidArgumentError(f"${GATEWAY_ENV} is not a gateway URL") from None


def kit_for(args, gateway: str | None = None):
    """The MeshKit this command acts through: the home of ``--home``, through ``gateway``
    (default ``--gateway``) or, without one, offline (CAR files, local records)."""
    from ..kit import MeshKit
    gateway = gateway or getattr(args, "gateway", None)
    return MeshKit.connect(gateway, home=args.home) if gateway else MeshKit.offline(args.home)

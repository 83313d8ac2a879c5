"""A small worker on MeshKit's Python API (docs/PYTHON.md): it watches an identity's inbox
and files each envelope shared or sealed to it into a folder, under the sender's file name
made safe (``Opened.save_into``), never over a file already there. What it filed is acknowledged (the gateway
forgets the notice); what can no longer be opened (revoked, expired) is acknowledged and
skipped; what fails for now (the gateway unreachable) is left for the next round.

    python inbox_worker.py --gateway http://127.0.0.1:8765 --home ./worker-home --as worker --into ./inbox
"""

import argparse
import asyncio
import logging
import pathlib

from meshkit_web import MeshKit
from meshkit_web.errors import MeshKitError

log = logging.getLogger("inbox-worker")
GONE = {"revoked", "expired", "opens_used_up", "not_recipient", "policy_denied"}  # will never open: skip it


async def file_new(kit: MeshKit, as_: str, folder: pathlib.Path) -> list[pathlib.Path]:
    """One round: file what the inbox holds now. Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    filed = []
    for message in await kit.inbox(as_):
        if message.root is None:  # not an envelope (an app message): not this worker's
            continue
        try:
            opened = await kit.open(message.root, as_=as_)
            path = pathlib.Path(await opened.save_into(folder))  # its name made safe; "(2)" when taken
        except MeshKitError as error:
            if error.code not in GONE:
                log.warning("left %s for the next round: %s", message.root, error.code)
                continue
            log.info("skipped %s: %s", message.root, error.code)
        else:
            log.info("filed %s from %s as %s", message.root, message.sender_name or message.sender, path.name)
            filed.append(path)
        await kit.ack(as_, message.id)
    return filed


async def watch(kit: MeshKit, as_: str, folder: pathlib.Path, every: float, rounds: int | None = None) -> None:
    done = 0
    while rounds is None or done < rounds:
        try:
            await file_new(kit, as_, folder)
        except MeshKitError as error:  # the whole round failed (offline): try again later
            log.warning("round failed: %s", error.code)
        done += 1
        await asyncio.sleep(every)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="File what arrives in a MeshKit inbox.")
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--home", required=True, help="the worker's MeshKit home (its identity)")
    parser.add_argument("--as", dest="as_", required=True, help="the identity whose inbox is watched")
    parser.add_argument("--into", required=True, type=pathlib.Path, help="the folder files go to")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between rounds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    async def run():
        async with MeshKit.connect(args.gateway, home=args.home) as kit:
            await watch(kit, args.as_, args.into, args.every)
    asyncio.run(run())


if __name__ == "__main__":
    main()

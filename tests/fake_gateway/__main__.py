"""Run the fake gateway by hand: python -m tests.fake_gateway --port 4002"""

import argparse
import asyncio
import contextlib

from .server import FakeGateway


async def main() -> None:
    parser = argparse.ArgumentParser(description="A fake IB Gateway (TWS API 176) on loopback.")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--account", default="DU1234567", help="DU… is a paper account; U… looks live.")
    parser.add_argument("--latency", type=float, default=0.0, help="Seconds before each answer.")
    parser.add_argument("--scan", default="SPY,AAPL,MSFT,NVDA,AMD,TSLA", help="Scanner results, best first.")
    args = parser.parse_args()
    gateway = FakeGateway(account=args.account, latency=args.latency)
    gateway.state.scanner_results = [s for s in args.scan.split(",") if s]
    await gateway.start("127.0.0.1", args.port)
    print(f"fake IB Gateway on 127.0.0.1:{gateway.port}, account {args.account}; Ctrl-C to stop", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())

"""Wall time to quote 50 symbols through the IB backend against the fake gateway with 50 ms
latency per request (real client library, real socket).

    .venv/bin/python bench/bench_ib_quotes.py [--symbols 50] [--latency 0.05]

Cold: contracts are qualified first (one contract-details request each), then quoted.
Warm: contracts already known (from the scanner or an earlier call), quotes only.
The floor is one request round trip at that latency. The client library paces requests
at 45 a second (IB's limit is 50 messages a second), which no backend can beat: N
requests above 45 cost at least (N - 45) / 45 extra seconds.
"""

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from _setup import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    setup_django("ib")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.fake_gateway import FakeGateway
    from trading.brokers.ib import IBBroker

    symbols = [f"S{i:03d}" for i in range(args.symbols)]
    with FakeGateway.run_in_thread(latency=args.latency) as gateway:
        options = {"host": gateway.host, "port": gateway.port, "timeout": 10}
        now = datetime.now(UTC)
        with IBBroker("bench", client_id=77, **options) as broker:
            start = time.perf_counter()
            cold = broker.quotes(symbols, at=now)
            cold_seconds = time.perf_counter() - start
            known = dict(broker._contracts)
        # A fresh connection that already knows the contracts, as after a scan (the scanner
        # returns conIds): quotes only.
        with IBBroker("bench", client_id=78, **options) as broker:
            broker._contracts = dict(known)
            start = time.perf_counter()
            broker.quotes(symbols[:1], at=now)
            floor = time.perf_counter() - start
            time.sleep(1.1)  # let the client's one-second pacing window empty
            start = time.perf_counter()
            warm = broker.quotes(symbols, at=now)
            warm_seconds = time.perf_counter() - start
            client = broker._ib.client
            per_window, window = client.MaxRequests, client.RequestsInterval
    # What no backend on this client library can beat: requests past the first `per_window` wait
    # for the next pacing window, then one round trip.
    pacing_floor = math.ceil(args.symbols / per_window - 1) * window + floor
    complete = sum(1 for q in warm.values() if q.bid and q.ask and q.last)
    assert len(cold) == len(warm) == args.symbols
    print(
        f"{args.symbols} quotes at {args.latency * 1000:.0f} ms latency: cold {cold_seconds:.3f} s (qualify + quote), "
        f"warm {warm_seconds:.3f} s (quote only), one quote {floor:.3f} s, pacing floor {pacing_floor:.3f} s; "
        f"{complete} complete"
    )
    print(
        "BENCH "
        + json.dumps(
            {
                "name": f"IB quotes, {args.symbols} symbols, {args.latency * 1000:.0f} ms latency (warm)",
                "figure": round(warm_seconds, 3),
                "unit": "s",
                "floor": round(pacing_floor, 3),
                "floor_what": f"the client's pacing ({per_window} requests per {window:g} s) plus one round trip",
                "target": 0.3,
                "better": "lower",
                "cold": round(cold_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()

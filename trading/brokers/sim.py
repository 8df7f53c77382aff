"""SIM: the embedded default broker. A deterministic simulated market and paper broker in this
process and database; no network, no account. It is to brokers what locmem is to email.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from trading import sessions
from trading.brokers.base import (
    AccountInfo,
    BaseBroker,
    BracketRequest,
    BracketResult,
    BrokerError,
    BrokerPosition,
    Execution,
    OrderRequest,
    OrderState,
    Quote,
    ScanResult,
)
from trading.prepared import Prepared

SCAN_CODES = ("TOP_PERC_GAIN", "MOST_ACTIVE", "TOP_PERC_LOSE")

_SIM_TO_BOOK_STATUS = {"working": "working", "filled": "filled", "cancelled": "cancelled", "rejected": "rejected"}


class SimBroker(BaseBroker):
    """Options: seed, universe_size, market ("synthetic" or a bar set), account, starting_cash, slippage_bps."""

    name = "sim"
    sends_real_orders = False

    def __init__(self, alias="default", **options):
        super().__init__(alias, **options)
        self.seed = int(options.get("seed", 20240101))
        self.universe_size = int(options.get("universe_size", 500))
        self.account_id = options.get("account", "SIM-PAPER-1")
        self.starting_cash = Decimal(str(options.get("starting_cash", "100000")))
        self.slippage_bps = Decimal(str(options.get("slippage_bps", "2")))
        self.market_name = str(options.get("market") or "synthetic")
        self._market = None
        self._account = None

    @classmethod
    def options_for_book(cls, book) -> dict:
        """A SIM book has its own account, market and (optionally) seed."""
        options = {**super().options_for_book(book), "market": book.market}
        if book.seed is not None:
            options["seed"] = book.seed
        return options

    # -- lifecycle ------------------------------------------------------------------
    def connect(self) -> None:
        from trading.sim.engine import sim_account_get

        self._account = sim_account_get(account_id=self.account_id, starting_cash=self.starting_cash)

    @property
    def market(self):
        """The simulated market: read-only, so asking it (a moment, a quote) writes nothing."""
        if self._market is None:
            from trading.sim.market import market_for

            try:
                self._market = market_for(seed=self.seed, universe_size=self.universe_size, bar_set=self.market_name)
            except ValueError as exc:
                raise BrokerError(str(exc), permanent=True) from None
        return self._market

    @property
    def sim_account(self):
        """The account as stored now (its cash moves with every fill)."""
        return _ACCOUNT(pk=self._account_row.pk)[0]

    @property
    def _account_row(self):
        """The account's row, for keying queries: the engine locks and re-reads it before writing."""
        if self._account is None:
            self.connect()
        return self._account

    # -- clock and market data ----------------------------------------------------------
    def market_moment(self, requested: datetime | None, now: datetime) -> tuple[datetime, str]:
        """Raises SimClockPassed (permanent) when the moment is before this account's clock."""
        moment, label = self._resolve_moment(requested, now)
        from trading.sim.engine import sim_clock_refuse_earlier

        # Read, not get_or_create: asking for a moment writes nothing, even for a new account.
        clock = next(iter(_CLOCK(account_id=self.account_id)), None)
        sim_clock_refuse_earlier(clock=clock, at=moment)
        return moment, label

    def _resolve_moment(self, requested: datetime | None, now: datetime) -> tuple[datetime, str]:
        label_source = f"SIM {self.market.label()}"
        if requested is None:
            moment, why = sessions.latest_market_moment(now)
            return moment, f"{why}; {label_source}"
        if sessions.is_open(requested):
            local = sessions.to_new_york(requested)
            return requested, f"requested moment {local:%Y-%m-%d %H:%M} New York; {label_source}"
        moment, why = sessions.latest_market_moment(requested)
        return moment, f"requested moment is outside NYSE hours; {why}; {label_source}"

    def scan(self, *, at, scan_code, above_price, above_volume, max_results, spy_only=False) -> list[ScanResult]:
        if scan_code not in SCAN_CODES:
            raise ValueError(f"unknown scan code {scan_code!r}; SIM knows {', '.join(SCAN_CODES)}")
        if spy_only:
            return [ScanResult(symbol="SPY", rank=1)] if "SPY" in self.market else []
        current = sessions.session_at_or_before(at)
        columns = self.market.session_columns(current.day)
        if columns is not None:
            return _scan_columns(columns, at, scan_code, float(above_price), above_volume, max_results)
        rows = []
        for symbol, path in self.market.day_paths(self.market.symbols, current.day).items():
            if path is None:
                continue
            index = path.index_at(at)
            price = float(path.mid[index])
            volume = float(path.cumulative_volume[index])
            if price <= float(above_price) or volume <= above_volume:
                continue
            change = price / path.prev_close - 1.0
            # A gainers' scan lists only names up on the day, a losers' scan only names down.
            if (scan_code == "TOP_PERC_GAIN" and change <= 0) or (scan_code == "TOP_PERC_LOSE" and change >= 0):
                continue
            key = {"TOP_PERC_GAIN": -change, "TOP_PERC_LOSE": change, "MOST_ACTIVE": -volume}[scan_code]
            rows.append((key, symbol))
        rows.sort()
        return [ScanResult(symbol=symbol, rank=rank) for rank, (_, symbol) in enumerate(rows[:max_results], start=1)]

    def quotes(self, symbols: list[str], *, at: datetime) -> dict[str, Quote]:
        return self.market.quotes(list(symbols), at)

    # -- execution ------------------------------------------------------------------------
    def is_paper_account(self) -> bool:
        return True  # a simulated account holds no real money

    def account(self) -> AccountInfo:
        account = self.sim_account
        return AccountInfo(account_id=account.account_id, is_paper=True, cash=account.cash)

    def place_bracket(self, bracket: BracketRequest, *, at: datetime) -> BracketResult:
        return self._place([bracket], at=at)[0]

    def place_brackets(self, brackets: list[BracketRequest], *, at: datetime) -> Iterator[BracketResult | BrokerError]:
        if type(self).place_bracket is not SimBroker.place_bracket:
            # A subclass that changes how one bracket goes (tests inject faults so) is asked one by one.
            yield from super().place_brackets(brackets, at=at)
            return
        yield from self._place(list(brackets), at=at)

    def _place(self, brackets: list[BracketRequest], *, at: datetime) -> list[BracketResult]:
        """The brackets accepted together, in one transaction of the SIM broker."""
        from trading.sim.engine import sim_place_brackets

        placed = sim_place_brackets(
            account=self._account_row, brackets=brackets, at=at, market=self.market, slippage_bps=self.slippage_bps
        )
        return [
            BracketResult(
                orders=[self._state(order) for order in orders], executions=[self._execution(e) for e in executions]
            )
            for orders, executions in placed
        ]

    def place_order(self, order: OrderRequest, *, at: datetime) -> BracketResult:
        from trading.sim.engine import sim_place_order

        placed = sim_place_order(
            account=self._account_row, request=order, at=at, market=self.market, slippage_bps=self.slippage_bps
        )
        return BracketResult(
            orders=[self._state(placed)], executions=[self._execution(e) for e in placed.executions.all()]
        )

    def cancel_order(self, order_ref: str) -> None:
        from trading.sim.engine import sim_cancel

        sim_cancel(account=self._account_row, order_ref=order_ref)

    def open_orders(self) -> list[OrderState]:
        from trading.sim.models import SimOrder

        working = SimOrder.objects.filter(account=self._account_row, status=SimOrder.Status.WORKING)
        return _states(working.order_by("id").values_list(*_STATE_COLUMNS))

    def find_orders(self, order_refs: list[str], *, broker_order_ids=None) -> list[OrderState]:
        # SIM always keeps our ref: the broker ids add nothing.
        return _states(_STATES_BY_REF(account=self._account_row.pk, refs=list(order_refs)))

    def executions(self, since: datetime | None = None, *, broker_order_ids=None, order_refs=None) -> list[Execution]:
        from trading.sim.models import SimExecution

        if order_refs is not None and since is None:
            return _executions(_EXECUTIONS_BY_REF(account=self._account_row.pk, refs=list(order_refs)))
        if order_refs is None:
            rows = SimExecution.objects.filter(account=self._account_row)
        else:
            rows = SimExecution.objects.filter(order__in=_orders_by_ref(self._account_row.pk, list(order_refs)))
        if since is not None:
            rows = rows.filter(executed_at__gte=since)
        return _executions(rows.order_by("executed_at", "id").values_list(*_EXECUTION_COLUMNS))

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(symbol=symbol, quantity=quantity, average_cost=cost)
            for symbol, quantity, cost in _POSITIONS_HELD(account=self._account_row.pk)
        ]

    def advance_to(self, at: datetime) -> None:
        from trading.sim.engine import sim_advance

        sim_advance(account=self._account_row, at=at, market=self.market, slippage_bps=self.slippage_bps)

    @contextmanager
    def replaying(self, days: list[date]):
        with self.market.building_ahead(days):
            yield

    # -- translation ------------------------------------------------------------------------
    @staticmethod
    def _state(order) -> OrderState:
        return OrderState(
            order_ref=order.order_ref,
            broker_order_id=str(order.pk),
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            quantity=order.quantity,
            status=_SIM_TO_BOOK_STATUS[order.status],
            filled_quantity=order.filled_quantity,
            limit_price=order.limit_price,
            stop_price=order.stop_price,
            message=order.reason,
        )

    @staticmethod
    def _execution(execution) -> Execution:
        return Execution(
            exec_id=execution.exec_id,
            order_ref=execution.order.order_ref,
            broker_order_id=str(execution.order_id),
            symbol=execution.symbol,
            side=execution.side,
            quantity=execution.quantity,
            price=execution.price,
            commission=execution.commission,
            time=execution.executed_at,
        )


def _scan_columns(columns, at, scan_code: str, above_price: float, above_volume, max_results: int) -> list[ScanResult]:
    """`SimBroker.scan` over a whole session's arrays at once: the same filters, the same keys and
    the same order (key, then symbol) as the scan path by path, on the same float64 values."""
    import numpy as np

    index = columns.index_at(at)
    price, volume = columns.mid[:, index], columns.cumulative_volume[:, index]
    change = price / columns.prev_close - 1.0
    keep = (price > above_price) & (volume > above_volume)
    if scan_code == "TOP_PERC_GAIN":
        keep &= change > 0
    elif scan_code == "TOP_PERC_LOSE":
        keep &= change < 0
    key = {"TOP_PERC_GAIN": -change, "TOP_PERC_LOSE": change, "MOST_ACTIVE": -volume}[scan_code][keep]
    symbols = columns.symbols[keep]
    ranked = symbols[np.lexsort((symbols, key))][:max_results]
    return [ScanResult(symbol=str(symbol), rank=rank) for rank, symbol in enumerate(ranked, start=1)]


# Reports read as values, not as model instances: a sync asks for every working order and each
# awaited execution, and builds its own records from a few of their columns.
_STATE_COLUMNS = (
    "order_ref", "pk", "symbol", "side", "order_type", "quantity", "status", "filled_quantity", "limit_price",
    "stop_price", "reason",
)  # fmt: skip
_EXECUTION_COLUMNS = (
    "exec_id", "order__order_ref", "order_id", "symbol", "side", "quantity", "price", "commission", "executed_at",
)  # fmt: skip


def _states(rows) -> list[OrderState]:
    return [
        OrderState(
            order_ref=ref,
            broker_order_id=str(pk),
            symbol=symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            status=_SIM_TO_BOOK_STATUS[status],
            filled_quantity=filled,
            limit_price=limit,
            stop_price=stop,
            message=reason,
        )
        for ref, pk, symbol, side, order_type, quantity, status, filled, limit, stop, reason in rows
    ]


def _executions(rows) -> list[Execution]:
    return [
        Execution(
            exec_id=exec_id,
            order_ref=ref,
            broker_order_id=str(order_id),
            symbol=symbol,
            side=side,
            quantity=quantity,
            price=price,
            commission=commission,
            time=at,
        )
        for exec_id, ref, order_id, symbol, side, quantity, price, commission, at in rows
    ]


def _orders_by_ref(account: int, refs):
    from trading.sim.engine import orders_by_ref

    return orders_by_ref(account, refs)


def _account(pk):
    from trading.sim.models import SimAccount

    return SimAccount.objects.filter(pk=pk)


def _clock(account_id):
    from trading.sim.models import SimAccount

    return SimAccount.objects.filter(account_id=account_id).values_list("clock", flat=True)


def _executions_by_ref(account, refs):
    """Through the orders asked for, by their unique refs: never the account's whole history."""
    from trading.sim.models import SimExecution

    executions = SimExecution.objects.filter(order__in=_orders_by_ref(account, refs).values("pk"))
    return executions.order_by("executed_at", "id").values_list(*_EXECUTION_COLUMNS)


def _positions_held(account):
    from trading.sim.models import SimPosition

    held = SimPosition.objects.filter(account_id=account).exclude(quantity=0).order_by("symbol")
    return held.values_list("symbol", "quantity", "average_cost")


# What a book's every job asks its SIM broker, built once (see trading.prepared).
_ACCOUNT = Prepared(_account)
_CLOCK = Prepared(_clock)
_STATES_BY_REF = Prepared(
    lambda account, refs: _orders_by_ref(account, refs).order_by("id").values_list(*_STATE_COLUMNS)
)
_EXECUTIONS_BY_REF = Prepared(_executions_by_ref)
_POSITIONS_HELD = Prepared(_positions_held)

"""Nightly entity run: a three-tier summary per entity (e.g. per stock) from its prices.

Entities are `entity` records (key = symbol); prices are `price` records (grp = symbol,
at = YYYY-MM-DD, data = {"close": float}). Each night every entity gets an item keyed
`<day>:<symbol>`, processed `concurrency` at a time; a failure is recorded on its item and
never stops the others; a run stopped by SIGTERM leaves the rest pending for the next run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cronsole.core import Item, JobContext, job


@dataclass(frozen=True)
class NightlySettings:
    concurrency: int = field(default=5, metadata={"min": 1, "max": 64})
    min_prices: int = field(default=2, metadata={"min": 2})


@job(name="nightly-entities", schedule="0 2 * * *", settings=NightlySettings, enabled=False)
def nightly(ctx: JobContext[NightlySettings]) -> dict[str, Any]:
    """Compute each entity's daily change, 7/30-day averages and 30-day volatility."""
    day = ctx.scheduled_for.astimezone(ctx.job.schedule.tz).date()
    symbols = [r.key for r in ctx.records("entity").query(limit=1_000_000)]
    for symbol in symbols:
        ctx.items.enqueue(f"{day}:{symbol}", payload={"symbol": symbol, "day": str(day)})
    ctx.set_total(len(symbols))
    out = ctx.items.drain(
        lambda item: summarise(ctx, item), limit=1_000_000, concurrency=ctx.settings.concurrency
    )
    return {
        "day": str(day),
        "entities": len(symbols),
        "summarised": len(out.done),
        "failed": len(out.failed),
        "left": len(out.left),
    }


def summarise(ctx: JobContext[NightlySettings], item: Item) -> dict[str, Any]:
    symbol, day = item.payload["symbol"], date.fromisoformat(item.payload["day"])
    if ctx.records("entity").get(symbol) is None:
        raise LookupError(f"entity {symbol!r} no longer exists")
    prices = ctx.records("price").query(
        grp=symbol,
        at_from=str(day - timedelta(days=45)),
        at_to=str(day + timedelta(days=1)),
        limit=100,
    )
    closes = [float(p.data["close"]) for p in prices]
    if len(closes) < ctx.settings.min_prices:
        raise ValueError(
            f"{symbol}: {len(closes)} price(s) up to {day}, need {ctx.settings.min_prices}"
        )
    summary = three_tiers(closes[-31:])
    ctx.records("entity_summary").put(
        f"{symbol}|{day}", {"symbol": symbol, "day": str(day), **summary}, grp=symbol, at=str(day)
    )
    return summary


def three_tiers(closes: list[float]) -> dict[str, float | None]:
    """Daily change, 7- and 30-day moving averages, 30-day volatility of daily returns."""
    returns = [(b - a) / a for a, b in zip(closes, closes[1:], strict=False) if a]
    return {
        "close": closes[-1],
        "change_1d": returns[-1] if returns else None,
        "ma_7": statistics.fmean(closes[-7:]),
        "ma_30": statistics.fmean(closes[-30:]),
        "volatility_30d": statistics.stdev(returns[-30:]) if len(returns) >= 2 else None,
    }

"""Quote batches carry the server's publish time, so a client can tell how late one arrived."""

from __future__ import annotations

import json

from deepalpha.server.stream import StreamHub


def _quote(symbol: str) -> dict[str, str]:
    return {"symbol": symbol, "last": "10.00"}


def test_a_quote_batch_carries_when_it_was_published_and_other_events_do_not() -> None:
    hub = StreamHub(backend=None, wall=lambda: 1_764_727_200.1234567)  # type: ignore[arg-type]
    everything = hub.connect("ada")
    everything.channels.update({"quotes", "orders"})
    one = hub.connect("vic")
    one.channels.add("quotes")
    one.symbols = {"600519.SH"}

    items = [_quote("600519.SH"), _quote("000001.SZ")]
    hub.publish("quotes", "quotes", {"quotes": items}, quotes=items)
    hub.publish("orders", "order", {"id": "o1"})

    batch, order = (json.loads(text) for text in everything.queue)
    assert batch["sent"] == 1_764_727_200.123457
    assert len(batch["data"]["quotes"]) == 2
    assert "sent" not in order
    # The batch cut to one client's symbols keeps the stamp of the batch it was cut from.
    (cut,) = (json.loads(text) for text in one.queue)
    assert cut["sent"] == batch["sent"]
    assert [q["symbol"] for q in cut["data"]["quotes"]] == ["600519.SH"]

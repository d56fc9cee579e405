"""Catalogue entries of the order ticket: field labels, the estimate, key hints, outcomes."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    "ticket.title": ("{side} order", "{side}委托"),
    "ticket.side": ("Side", "方向"),
    "ticket.symbol": ("Symbol", "代码/名称"),
    "ticket.symbol_placeholder": (
        "code, alias or name: 600519, sh600519, 茅台, Tencent",
        "代码、别名或名称：600519、sh600519、茅台、Tencent",
    ),
    "ticket.quantity": ("Quantity", "数量"),
    "ticket.quantity_placeholder": ("shares", "股数"),
    "ticket.type": ("Type", "类型"),
    "ticket.price": ("Price", "价格"),
    "ticket.trader": ("Account", "账户"),
    "ticket.board_lot": ("board lot {lot:qty}", "每手 {lot:qty} 股"),
    "ticket.star_lot": ("at least 200, then steps of 1", "最低 200 股，超出部分以 1 股递增"),
    "ticket.sellable": ("sellable {sellable}", "可卖 {sellable}"),
    "ticket.t1_locked": ("T+1 locked {count}", "T+1 冻结 {count}"),
    "ticket.in_open_sells": ("in open sells {count}", "卖单冻结 {count}"),
    "ticket.held": ("held {count}", "持有 {count}"),
    "ticket.no_symbol_info": (
        "pick a symbol to see its lot and band",
        "选择证券后显示每手股数与涨跌停价",
    ),
    "ticket.quote": (
        "{last:price} (bid {bid:price} / ask {ask:price})",
        "{last:price}（买一 {bid:price} / 卖一 {ask:price}）",
    ),
    "ticket.no_quote": ("no quote yet", "暂无行情"),
    "ticket.no_match": ("no instrument matches {text}", "没有与 {text} 匹配的证券"),
    # The estimate.
    "ticket.estimate": ("Estimate", "预估"),
    "ticket.price_used": ("Price", "价格"),
    "ticket.market_at": ("market, est. {price:price}", "市价，预估 {price:price}"),
    "ticket.amount": ("Est. amount", "预估金额"),
    "ticket.fees": ("Fees", "费用"),
    "ticket.total": ("Total", "合计"),
    "ticket.net": ("Net proceeds", "净额"),
    "ticket.limit_up": ("Limit up", "涨停"),
    "ticket.limit_down": ("Limit down", "跌停"),
    "ticket.no_band": ("no daily price limit", "无涨跌幅限制"),
    "ticket.tick": ("tick {tick}", "最小价位 {tick}"),
    "ticket.fee.commission": ("Commission", "佣金"),
    "ticket.fee.stamp_duty": ("Stamp duty", "印花税"),
    "ticket.fee.transfer_fee": ("Transfer fee", "过户费"),
    "ticket.fee.sfc_levy": ("SFC levy", "交易征费"),
    "ticket.fee.afrc_levy": ("AFRC levy", "会财局征费"),
    "ticket.fee.trading_fee": ("Trading fee", "交易费"),
    "ticket.fee.settlement_fee": ("Settlement fee", "结算费"),
    # What is missing before the order can be checked.
    "ticket.need_symbol": ("pick a symbol", "请选择证券"),
    "ticket.need_quantity": ("enter a quantity", "请输入数量"),
    "ticket.need_price": ("enter a limit price", "请输入限价"),
    "ticket.need_trader": ("pick an account", "请选择账户"),
    "ticket.preview_failed": (
        "the estimate is not available: {error}",
        "无法预估：{error}",
    ),
    "ticket.ready": ("ready: Enter to review", "可下单：按 Enter 复核"),
    "ticket.sending": ("sending…", "正在报单…"),
    "ticket.rejected": ("Rejected {code} — {reason}", "废单 {code} — {reason}"),
    "ticket.send_failed": ("the order was not sent: {error}", "委托未能报出：{error}"),
    # Keys.
    "ticket.keys_side": ("b/s or ←/→", "b/s 或 ←/→"),
    "ticket.keys_type": ("←/→", "←/→"),
    "ticket.keys_quantity": ("↑/↓ ± one lot", "↑/↓ 增减一手"),
    "ticket.keys_price": ("↑/↓ ± tick {tick}", "↑/↓ 按最小价位 {tick} 增减"),
    "ticket.keys_symbol": ("↑/↓ choose · Enter pick", "↑/↓ 选择 · Enter 确定"),
    "ticket.keys": (
        "Tab next field · Enter review · Esc close",
        "Tab 下一项 · Enter 复核 · Esc 关闭",
    ),
    "ticket.key.review": ("Review", "复核"),
    "ticket.key.close": ("Close", "关闭"),
    "ticket.key.lot_up": ("+1 lot", "加一手"),
    "ticket.key.lot_down": ("−1 lot", "减一手"),
    "ticket.key.tick_up": ("+1 tick", "加一档"),
    "ticket.key.tick_down": ("−1 tick", "减一档"),
    # The confirmation and the outcome.
    "ticket.confirm_title": ("Confirm order", "确认下单"),
    "ticket.confirm_order": (
        "{side} {quantity} {symbol} {name}",
        "{side} {symbol} {name} {quantity} 股",
    ),
    "ticket.confirm_price_limit": ("Limit {price:price}", "限价 {price:price}"),
    "ticket.confirm_price_market": (
        "Market (est. {price:price})",
        "市价（预估 {price:price}）",
    ),
    "ticket.confirm_total": (
        "Est. total {total} incl. fees {fees}",
        "预估合计 {total}（含费用 {fees}）",
    ),
    "ticket.confirm_net": (
        "Est. net proceeds {total} after fees {fees}",
        "预估净额 {total}（已扣费用 {fees}）",
    ),
    "ticket.confirm_account": ("Account: {trader}", "账户：{trader}"),
    "ticket.far_title": ("Price far from the market", "委托价远离市价"),
    "ticket.far_detail": (
        "{side} {symbol} at {price:price} is {percent} % {direction} the last price "
        "{last:price}.\nA limit more than {threshold} % from the last price asks first. "
        "Send it anyway?",
        "{side} {symbol} 委托价 {price:price}，{direction}最新价 {last:price} 达 {percent}%。\n"
        "委托价偏离最新价超过 {threshold}% 时须再次确认。仍要报单吗？",
    ),
    "ticket.far_above": ("above", "高于"),
    "ticket.far_below": ("below", "低于"),
    "ticket.placed_title": ("Order placed", "委托已报"),
    "ticket.placed": (
        "{side} {quantity} {symbol} {price} — {status}",
        "{side} {symbol} {quantity} 股 {price} — {status}",
    ),
}

"""Catalogue entries of the orders blotter and the positions table."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # The blotter's columns.
    "orders.col.time": ("Time", "时间"),
    "orders.col.trader": ("Trader", "交易员"),
    "orders.col.symbol": ("Symbol", "代码"),
    "orders.col.side": ("Side", "方向"),
    "orders.col.type": ("Type", "类型"),
    "orders.col.quantity": ("Qty", "数量"),
    "orders.col.filled": ("Filled", "成交"),
    "orders.col.price": ("Price", "价格"),
    "orders.col.status": ("Status", "状态"),
    "orders.col.reason": ("Reason", "原因"),
    # Status groups of the filter.
    "orders.group.all": ("All", "全部"),
    "orders.group.open": ("Open", "未成交"),
    "orders.group.filled": ("Filled", "已成"),
    "orders.group.cancelled": ("Cancelled", "已撤"),
    "orders.group.rejected": ("Rejected", "废单"),
    "orders.group.expired": ("Expired", "已失效"),
    # A short status label where "Partially filled" does not fit.
    "orders.partial": ("Part-filled", "部分成交"),
    "orders.market_price": ("MKT", "市价"),
    "orders.filter": (
        "Trader: {trader}   Status: {status}   Symbol: {symbol}",
        "交易员：{trader}   状态：{status}   代码：{symbol}",
    ),
    "orders.summary": (
        "{shown:qty} of {total:orders} · {open:qty} open",
        "显示 {shown:qty} / 共 {total:qty} 笔 · 挂单 {open:qty} 笔",
    ),
    "orders.detail": (
        "{id} · {source} · placed {created} · fees {fees}",
        "{id} · {source} · 下单 {created} · 费用 {fees}",
    ),
    "orders.no_selection": ("No order selected", "未选中委托"),
    "orders.symbol_prompt": (
        "Symbol contains… (Enter keeps, Escape clears)",
        "代码包含…（回车保留，Esc 清除）",
    ),
    "orders.key.trader": ("Trader", "交易员"),
    "orders.key.status": ("Status", "状态"),
    "orders.key.symbol": ("Symbol", "代码"),
    "orders.key.cancel": ("Cancel", "撤单"),
    "orders.key.cancel_all": ("Cancel all", "全撤"),
    "orders.key.clear": ("Clear filter", "清除筛选"),
    "orders.not_open": (
        "Order {id} is {status}: nothing to cancel",
        "委托 {id} 状态为{status}，无需撤单",
    ),
    "orders.none_open": ("No open orders to cancel", "没有可撤的挂单"),
    "orders.cancel_failed": ("Cancel failed: {error}", "撤单失败：{error}"),
    "orders.cancel_all_of": (
        "Cancel {count:open_orders} of {trader}?",
        "撤销 {trader} 的全部 {count:qty} 笔挂单？",
    ),
    # The positions table.
    "positions.col.trader": ("Trader", "交易员"),
    "positions.col.symbol": ("Symbol", "代码"),
    "positions.col.name": ("Name", "名称"),
    "positions.col.quantity": ("Qty", "持仓"),
    "positions.col.sellable": ("Sellable", "可卖"),
    "positions.col.avg_cost": ("Avg cost", "成本"),
    "positions.col.last": ("Last", "现价"),
    "positions.col.value": ("Mkt value", "市值"),
    "positions.col.unrealized": ("Unrealised P&L", "浮动盈亏"),
    "positions.col.realized": ("Realised P&L", "已实现盈亏"),
    "positions.short.unrealized": ("Unreal. P&L", "浮动盈亏"),
    "positions.locked": ("{count} T+1", "{count} 冻结"),
    "positions.summary": (
        "Trader: {trader}   {count:positions}   Sorted by {column} {direction}",
        "交易员：{trader}   共 {count:qty} 只   按{column}{direction}",
    ),
    "positions.ascending": ("↑", "↑"),
    "positions.descending": ("↓", "↓"),
    "positions.none": ("No positions", "暂无持仓"),
    "positions.key.trader": ("Trader", "交易员"),
    "positions.key.sort": ("Sort", "排序"),
    "positions.key.reverse": ("Reverse", "倒序"),
    "orders.key.columns": ("Columns", "列"),
    "orders.columns_title": (
        "Columns to show (space toggles, Enter keeps)",
        "显示的列（空格切换，回车确定）",
    ),
}

"""Catalogue entries of what the keys do where no other part of the catalogue says it: the
Help screen lists every binding with one of these (or another entry), never its action."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # The screens' short names in the nav bar, where the full ones do not fit (80 columns).
    "nav.dashboard": ("Dash", "总览"),
    "nav.market": ("Mkt", "行情"),
    "nav.orders": ("Ord", "委托"),
    "nav.positions": ("Pos", "持仓"),
    "nav.traders": ("Trd", "交易"),
    "nav.backtest": ("Test", "回测"),
    "nav.backups": ("Bkp", "备份"),
    "nav.settings": ("Set", "设置"),
    "nav.decisions": ("AI", "决策"),
    "nav.help": ("Help", "帮助"),
    # Moving in a list (the quote board, the order blotter).
    "keys.row_up": ("Previous row", "上一行"),
    "keys.row_down": ("Next row", "下一行"),
    "keys.page_up": ("Page up", "上一页"),
    "keys.page_down": ("Page down", "下一页"),
    "keys.first": ("First row", "第一行"),
    "keys.last": ("Last row", "最后一行"),
    # The market screen.
    "mkt.key.clear_filter": ("Clear the filter", "清除筛选"),
    "mkt.key.to_board": ("Back to the board", "回到行情表"),
    "mkt.key.ticket": ("Order ticket", "下单"),
    # The positions screen: 1…9, 0 sort by a column.
    "positions.key.sort_by": ("Sort by {column}", "按{column}排序"),
    # The order ticket.
    "ticket.key.previous_choice": ("Previous choice", "上一项"),
    "ticket.key.next_choice": ("Next choice", "下一项"),
    "ticket.key.previous_match": ("Previous match", "上一个候选"),
    "ticket.key.next_match": ("Next match", "下一个候选"),
    # The orders screen's column chooser.
    "orders.key.keep_columns": ("Keep these columns", "确定显示的列"),
    "help.column_chooser": ("Column chooser", "选择列"),
}

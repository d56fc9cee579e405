"""The message catalogue: key → (English, 中文). Keys are grouped by where they are said."""

from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    # --- reject codes (short titles) --------------------------------------------------------
    "code.LOT_SIZE": ("Lot size", "整手限制"),
    "code.TICK_SIZE": ("Tick size", "最小价位"),
    "code.PRICE_LIMIT": ("Price limit", "涨跌停限制"),
    "code.T_PLUS_ONE": ("T+1", "T+1 限制"),
    "code.INSUFFICIENT_CASH": ("Insufficient cash", "资金不足"),
    "code.INSUFFICIENT_POSITION": ("Insufficient position", "持仓不足"),
    "code.MARKET_CLOSED": ("Market closed", "非交易时段"),
    "code.UNKNOWN_SYMBOL": ("Unknown symbol", "未知证券"),
    "code.RISK_MAX_POSITION": ("Position limit", "持仓上限"),
    "code.RISK_MAX_ORDER_VALUE": ("Order value limit", "单笔金额上限"),
    "code.RISK_DAILY_LOSS": ("Daily loss limit", "日亏损熔断"),
    "code.RISK_OPEN_ORDERS": ("Open orders limit", "挂单数量上限"),
    "code.RISK_ORDER_RATE": ("Order rate limit", "下单频率上限"),
    "code.TRADING_DISABLED": ("Trading disabled", "交易已停用"),
    "code.STORAGE_UNAVAILABLE": ("Database unavailable", "数据库不可用"),
    "code.DRY_RUN": ("Dry run", "模拟校验"),
    "code.INVALID_ORDER": ("Invalid order", "无效委托"),
    "code.UNKNOWN_TRADER": ("Unknown trader", "未知交易员"),
    "code.NO_LIQUIDITY": ("No liquidity", "无对手盘"),
    "code.DAY_END": ("Expired at the close", "收盘失效"),
    # --- orders that cannot be read ---------------------------------------------------------
    "order.unknown_trader": ("no trader {trader}", "交易员 {trader} 不存在"),
    "order.whole_shares": (
        "quantity must be a whole number of shares, got {quantity}",
        "委托数量必须是整数股，收到 {quantity}",
    ),
    "order.limit_needs_price": ("a limit order needs a limit price", "限价委托须填写委托价格"),
    "order.market_no_price": ("a market order takes no limit price", "市价委托不能填写委托价格"),
    "order.no_price_yet": (
        "no price yet for {symbol}; a market order needs a quote or a bar",
        "{symbol} 暂无行情价格，市价委托须有报价或K线",
    ),
    # --- symbols ----------------------------------------------------------------------------
    "symbol.empty": ("empty symbol", "证券代码为空"),
    "symbol.unknown_exchange": (
        "cannot tell the exchange of A-share code {code}",
        "无法判断 A 股代码 {code} 所属的交易所",
    ),
    "symbol.hk_digits": (
        "{text}: a Hong Kong code has at most 5 digits",
        "{text}：港股代码最多 5 位数字",
    ),
    "symbol.a_digits": ("{text}: an A-share code has 6 digits", "{text}：A 股代码应为 6 位数字"),
    "symbol.unreadable": (
        "{text} is not a symbol: use a code such as 600519, 600519.SH, sh600519, 00700.HK or "
        "HK.00700",
        "{text} 不是有效的证券代码：请输入 600519、600519.SH、sh600519、00700.HK 或 HK.00700 "
        "这样的代码",
    ),
    "symbol.hk_lot_unknown": (
        "the board lot of {symbol} is unknown: HKEX sets it per stock. Add a line "
        "'{symbol},<name>,<name_en>,<board_lot>' to an instruments CSV "
        "(columns symbol,name,name_en,board_lot) and pass --instruments FILE",
        "{symbol} 的每手股数未知：港交所按个股设定每手股数。请在证券资料 CSV"
        "（列为 symbol,name,name_en,board_lot）中加入一行 "
        "'{symbol},<name>,<name_en>,<board_lot>'，并用 --instruments FILE 传入",
    ),
    # --- sessions ---------------------------------------------------------------------------
    "session.not_accepting": (
        "the {market} market is {phase}; orders are accepted only in the auctions and "
        "continuous trading",
        "{market}市场{phase}；仅在集合竞价和连续竞价时段接受委托",
    ),
    "session.market_order_continuous": (
        "market orders are accepted only in continuous trading; the {market} market is {phase}",
        "市价委托仅在连续竞价时段接受；{market}市场{phase}",
    ),
    # The phase as what the market is doing ("the CN market is at its lunch break",
    # "A股市场正在午间休市").
    "session.phase.closed": ("closed", "已休市"),
    "session.phase.pre_open": ("in its opening auction", "正处于开盘集合竞价"),
    "session.phase.continuous": ("in continuous trading", "正处于连续竞价"),
    "session.phase.lunch_break": ("at its lunch break", "正在午间休市"),
    "session.phase.closing_auction": ("in its closing auction", "正处于收盘集合竞价"),
    # --- board lots -------------------------------------------------------------------------
    "lot.not_positive": (
        "quantity {quantity} must be a positive whole number of shares",
        "委托数量 {quantity} 必须为正整数股",
    ),
    "lot.star_min": (
        "{quantity:shares} is below the STAR minimum of 200 shares for {symbol}",
        "{quantity:qty} 股低于科创板 {symbol} 单笔最低申报数量 200 股",
    ),
    "lot.multiple": (
        "{quantity:shares} is not a multiple of the board lot {lot:qty} for {symbol}",
        "{quantity:qty} 股不是 {symbol} 每手 {lot:qty} 股的整数倍",
    ),
    "lot.hk_multiple": (
        "{quantity:shares} is not a multiple of the board lot {lot:qty} for {symbol} "
        "(odd lots trade in a separate market)",
        "{quantity:qty} 股不是 {symbol} 每手 {lot:qty} 股的整数倍（碎股须在碎股市场另行交易）",
    ),
    "lot.star_remainder": (
        "{quantity:shares} is below the STAR minimum of 200; a remainder below 200 must be "
        "sold whole ({sellable:shares}) for {symbol}",
        "{quantity:qty} 股低于科创板最低申报数量 200 股；{symbol} 不足 200 股的余额须一次性卖出"
        "（{sellable:qty} 股）",
    ),
    "lot.sell_odd_whole": (
        "{quantity:shares} is not a multiple of the board lot 100 for {symbol}; the odd lot "
        "of {odd:shares} can only be sold whole",
        "{quantity:qty} 股不是 {symbol} 每手 100 股的整数倍；零股 {odd:qty} 股须一次性卖出",
    ),
    # --- ticks and price limits -------------------------------------------------------------
    "tick.not_positive": (
        "price {price:price} must be positive",
        "委托价 {price:price} 必须大于零",
    ),
    "tick.hk_range": (
        "price {price:price} is outside HKEX's range {low:price}–{high:price}",
        "委托价 {price:price} 超出港交所允许的价格范围 {low:price}–{high:price}",
    ),
    "tick.off_grid": (
        "price {price:price} is not a multiple of the tick {tick} for {symbol}",
        "委托价 {price:price} 不是 {symbol} 最小价位 {tick} 的整数倍",
    ),
    "band.outside": (
        "limit price {price:price} is outside today's band {low:price}–{high:price} for {symbol} "
        "(reference {reference:price})",
        "{symbol} 委托价 {price:price} 超出今日涨跌停区间 {low:price}–{high:price}"
        "（昨收 {reference:price}）",
    ),
    # --- positions and cash -----------------------------------------------------------------
    "position.insufficient": (
        "sell {quantity:qty} {symbol}: {held:shares} held and not already in open sell orders",
        "卖出 {symbol} {quantity:qty} 股：可用持仓仅 {held:qty} 股（已扣除未成交卖单冻结的股数）",
    ),
    "t1.not_sellable": (
        "sell {quantity:qty} {symbol}: only {sellable:qty} sellable today; what was bought "
        "today ({bought:shares}) becomes sellable on the next trading day (T+1)",
        "T+1：卖出 {symbol} {quantity:qty} 股，今日可卖 {sellable:qty} 股；今日买入的 "
        "{bought:qty} 股下一交易日才可卖出",
    ),
    "cash.insufficient": (
        "buy {quantity:qty} {symbol} at {price:price} needs {need:money} {currency} with fees; "
        "available {available:money}",
        "资金不足：以 {price:price} 买入 {symbol} {quantity:qty} 股含费用需 {need:money} "
        "{currency}，可用资金 {available:money}",
    ),
    # --- why a resting order did not fill ---------------------------------------------------
    "nofill.sealed_up": (
        "{symbol} sealed at limit-up {price:price}: no sellers",
        "{symbol} 封涨停于 {price:price}，无卖盘",
    ),
    "nofill.sealed_down": (
        "{symbol} sealed at limit-down {price:price}: no buyers",
        "{symbol} 封跌停于 {price:price}，无买盘",
    ),
    "nofill.no_ask": ("no ask for {symbol}", "{symbol} 无卖盘报价"),
    "nofill.no_bid": ("no bid for {symbol}", "{symbol} 无买盘报价"),
    "nofill.at_limit_up": (
        "buy {symbol} at {price:price}: at or above limit-up {limit:price}, no fill",
        "买入 {symbol} 价格 {price:price} 达到或高于涨停价 {limit:price}，不成交",
    ),
    "nofill.at_limit_down": (
        "sell {symbol} at {price:price}: at or below limit-down {limit:price}, no fill",
        "卖出 {symbol} 价格 {price:price} 达到或低于跌停价 {limit:price}，不成交",
    ),
    "nofill.not_reached_low": (
        "limit {limit:price} not reached (low {low:price})",
        "未触及委托价 {limit:price}（最低价 {low:price}）",
    ),
    "nofill.not_reached_high": (
        "limit {limit:price} not reached (high {high:price})",
        "未触及委托价 {limit:price}（最高价 {high:price}）",
    ),
    "nofill.no_volume": (
        "{symbol} bar at {time} traded {volume:shares}",
        "{symbol} 在 {time} 的K线成交量为 {volume:qty} 股，无法成交",
    ),
    "nofill.below_one_lot": (
        "{symbol}: the volume allowed ({cap:shares}) is below one lot",
        "{symbol}：可成交量（{cap:qty} 股）不足一手",
    ),
    "nofill.cash": (
        "fill of {symbol} at {price:price} needs {need:money} {currency}; "
        "available {available:money}",
        "资金不足：{symbol} 以 {price:price} 成交需 {need:money} {currency}，"
        "可用资金 {available:money}",
    ),
    # --- expiry and cancellation ------------------------------------------------------------
    "expire.day_end": (
        "day order expired at the close with {remaining:qty} of {quantity:shares} unfilled",
        "当日委托收盘失效，{quantity:qty} 股中 {remaining:qty} 股未成交",
    ),
    "expire.missed_close": (
        "day order expired at the close of {day} with {remaining:qty} of {quantity:shares} "
        "unfilled (DeepAlpha was not running)",
        "当日委托已于 {day} 收盘失效，{quantity:qty} 股中 {remaining:qty} 股未成交"
        "（当时 DeepAlpha 未运行）",
    ),
    "cancel.by_request": ("cancelled by request", "用户撤单"),
    # --- risk limits and the kill switch ----------------------------------------------------
    "risk.trading_disabled": ("trading is disabled for this trader", "该交易员已停止交易"),
    "risk.daily_loss": (
        "today's loss {loss:money} {currency} reached the daily limit {limit:money}; trading "
        "stopped until re-enabled",
        "今日亏损 {loss:money} {currency} 已达日亏损上限 {limit:money}，交易已暂停，"
        "重新启用后方可交易",
    ),
    "risk.max_order_value": (
        "order value {value:money} {currency} exceeds the limit {limit:money} for {symbol}",
        "{symbol} 委托金额 {value:money} {currency} 超过单笔上限 {limit:money}",
    ),
    "risk.max_position": (
        "position in {symbol} would be {total:money} {currency}, above the limit "
        "{limit:money} (held {held:money}, order {value:money})",
        "{symbol} 持仓市值将达 {total:money} {currency}，超过持仓上限 {limit:money}"
        "（现持有 {held:money}，本笔 {value:money}）",
    ),
    "risk.open_orders": (
        "{count:open_orders} already; the limit is {limit:qty}",
        "已有 {count:qty} 笔挂单，上限为 {limit:qty} 笔",
    ),
    "risk.order_rate": (
        "{count:orders} in the last minute; the limit is {limit:qty} a minute",
        "最近一分钟已下 {count:qty} 笔委托，上限为每分钟 {limit:qty} 笔",
    ),
    "risk.dry_run": (
        "dry run: the order passed every check and was not placed",
        "模拟校验：委托已通过全部检查，未实际报出",
    ),
    # --- backtests --------------------------------------------------------------------------
    "backtest.no_bar": (
        "line {line}: no bar for {symbol} at {when} (suspended, not a trading day or outside "
        "the data)",
        "第 {line} 行：{symbol} 在 {when} 没有K线（停牌、非交易日或超出数据范围）",
    ),
    # --- saving -----------------------------------------------------------------------------
    "store.save_failed": (
        "could not save {count:changes}: {error}",
        "无法保存 {count:qty} 条变更：{error}",
    ),
    "store.too_slow": ("saving took too long", "保存超时"),
    "store.saving_again": (
        "saving works again ({count:changes} written); trading resumes",
        "保存已恢复（已写入 {count:qty} 条变更）；交易恢复",
    ),
    "store.suspended": (
        "orders are refused and nothing is matched until the database can be written: {error}",
        "在数据库恢复可写之前，拒绝新委托且暂停撮合：{error}",
    ),
    "store.lease_lost": (
        "the connection holding the database for this engine was lost, so another engine may "
        "now use it; trading stopped — restart DeepAlpha",
        "本引擎持有数据库的连接已断开，其他引擎可能已接管；交易已停止，请重启 DeepAlpha",
    ),
    "store.stopped_unsaved": (
        "stopped with {count:changes} unsaved: {error}",
        "已停止，{count:qty} 条变更未保存：{error}",
    ),
    # --- labels -----------------------------------------------------------------------------
    "status.pending": ("Pending", "待报"),
    "status.open": ("Open", "已报"),
    "status.partially_filled": ("Partially filled", "部分成交"),
    "status.filled": ("Filled", "已成"),
    "status.cancelled": ("Cancelled", "已撤"),
    "status.rejected": ("Rejected", "废单"),
    "status.expired": ("Expired", "已失效"),
    "side.buy": ("Buy", "买入"),
    "side.sell": ("Sell", "卖出"),
    "type.market": ("Market", "市价"),
    "type.limit": ("Limit", "限价"),
    "phase.closed": ("Closed", "休市"),
    "phase.pre_open": ("Pre-open auction", "集合竞价"),
    "phase.continuous": ("Continuous trading", "连续竞价"),
    "phase.lunch_break": ("Lunch break", "午间休市"),
    "phase.closing_auction": ("Closing auction", "收盘集合竞价"),
    "market.CN": ("CN", "A股"),
    "market.HK": ("HK", "港股"),
    "kind.discretionary": ("Discretionary", "人工"),
    "kind.ai": ("AI", "AI"),
    "kind.hybrid": ("Hybrid", "人机协同"),
    "kind.strategy": ("Strategy", "策略"),
    "board.main": ("Main board", "主板"),
    "board.chinext": ("ChiNext", "创业板"),
    "board.star": ("STAR Market", "科创板"),
    "board.beijing": ("Beijing SE", "北交所"),
    "board.hk_main": ("HKEX Main Board", "港股主板"),
}

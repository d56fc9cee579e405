"""Catalogue entries of the AI reply parser and the AI decision rules."""

from __future__ import annotations

TEXT: dict[str, tuple[str, str]] = {
    # --- codes of the AI decision rules (short titles) --------------------------------------
    "code.LOW_CONFIDENCE": ("Low confidence", "置信度不足"),
    "code.REWARD_RISK": ("Reward:risk", "盈亏比不足"),
    "code.THROTTLE_BUYS": ("Buy rate limit", "买入频率上限"),
    "code.COOLDOWN": ("Cooldown after a sell", "卖出后冷却"),
    "code.MIN_HOLDING": ("Minimum holding time", "最短持有时间"),
    "code.POSITION_CAP": ("Position cap", "仓位上限"),
    "code.BAD_DECISION": ("Unusable decision", "无效决策"),
    "code.SAFE_MODE": ("Safe mode", "安全模式"),
    "code.USER_REJECTED": ("Rejected by the user", "用户拒绝"),
    "code.EXPIRED": ("Proposal expired", "提案过期"),
    # --- the reply parser --------------------------------------------------------------------
    "ai.reply.unreadable": (
        "the reply holds no readable decision; recorded as wait",
        "回复中没有可读的决策，记为观望",
    ),
    "ai.reply.truncated": (
        "the reply is cut off; {count:decisions} could be read",
        "回复被截断，仅读到 {count:qty} 条决策",
    ),
    "ai.reply.not_object": (
        "decision {index} is not an object: {text}",
        "第 {index} 条决策不是对象：{text}",
    ),
    "ai.reply.bad_action": (
        "decision {index}: action {text} is not buy, sell, hold or wait",
        "第 {index} 条决策：操作 {text} 不是买入、卖出、持有或观望",
    ),
    "ai.reply.bad_symbol": (
        "decision {index}: {reason}",
        "第 {index} 条决策：{reason}",
    ),
    "ai.reply.no_symbol": (
        "decision {index}: a {action} needs a symbol",
        "第 {index} 条决策：{action} 须指明证券代码",
    ),
    "ai.reply.bad_number": (
        "decision {index}: {field} {text} is not a number",
        "第 {index} 条决策：{field} {text} 不是数字",
    ),
    "ai.reply.bad_quantity": (
        "decision {index}: quantity {text} is not a whole, non-negative number of shares",
        "第 {index} 条决策：数量 {text} 不是非负整数股",
    ),
    "ai.reply.bad_order_type": (
        "decision {index}: order type {text} is not market or limit",
        "第 {index} 条决策：委托类型 {text} 不是市价或限价",
    ),
    "ai.reply.bad_confidence": (
        "decision {index}: confidence {text} is not between 0 and 1 (or 0 and 100 %)",
        "第 {index} 条决策：置信度 {text} 不在 0 到 1（或 0 到 100%）之间",
    ),
    # --- the decision rules ------------------------------------------------------------------
    "ai.rule.no_symbol": ("a {action} needs a symbol", "{action} 须指明证券代码"),
    "ai.rule.no_confidence": (
        "{action} {symbol}: no confidence given; the minimum is {minimum}",
        "{action} {symbol}：未给出置信度，最低要求 {minimum}",
    ),
    "ai.rule.low_confidence": (
        "{action} {symbol}: confidence {confidence} is below the minimum {minimum}",
        "{action} {symbol}：置信度 {confidence} 低于最低要求 {minimum}",
    ),
    "ai.rule.no_price": (
        "buy {symbol}: no current price to judge reward:risk against",
        "买入 {symbol}：暂无现价，无法计算盈亏比",
    ),
    "ai.rule.needs_stops": (
        "buy {symbol}: a buy needs a stop-loss and a take-profit (current price {price:price})",
        "买入 {symbol}：买入须设置止损价和止盈价（现价 {price:price}）",
    ),
    "ai.rule.stop_not_below": (
        "buy {symbol}: stop-loss {stop:price} is not below the current price {price:price}",
        "买入 {symbol}：止损价 {stop:price} 不低于现价 {price:price}",
    ),
    "ai.rule.target_not_above": (
        "buy {symbol}: take-profit {target:price} is not above the current price {price:price}",
        "买入 {symbol}：止盈价 {target:price} 不高于现价 {price:price}",
    ),
    "ai.rule.reward_risk": (
        "buy {symbol}: reward:risk {ratio} against the current price {price:price} "
        "(stop {stop:price}, target {target:price}) is below the minimum {minimum}",
        "买入 {symbol}：按现价 {price:price} 计算盈亏比 {ratio}（止损 {stop:price}，止盈 "
        "{target:price}），"
        "低于最低要求 {minimum}",
    ),
    "ai.rule.position_cap": (
        "buy {quantity:qty} {symbol}: the position would be worth {value:money} {currency}, "
        "{percent} % of equity; the cap is {cap} %",
        "买入 {symbol} {quantity:qty} 股后持仓市值 {value:money} {currency}，占权益 {percent}%，"
        "上限为 {cap}%",
    ),
    "ai.rule.throttle_buys": (
        "buy {symbol}: {count:buys} in the last hour; at most {maximum} an hour",
        "买入 {symbol}：最近一小时已买入 {count} 次，每小时最多 {maximum} 次",
    ),
    "ai.rule.cooldown": (
        "buy {symbol}: sold {minutes:minutes} ago; no new buy within {cooldown:minutes} of a sell",
        "买入 {symbol}：{minutes} 分钟前刚卖出，卖出后 {cooldown} 分钟内不得再买入",
    ),
    "ai.rule.min_holding": (
        "sell {symbol}: held for {minutes:minutes}; the minimum holding time is {minimum:minutes}",
        "卖出 {symbol}：仅持有 {minutes} 分钟，最短持有时间为 {minimum} 分钟",
    ),
    "ai.rule.engine": ("{text}", "{text}"),
    "ai.rule.safe_mode": (
        "buy {symbol}: safe mode after {failures:model_failures} in a row; no new buys until "
        "the model answers again",
        "买入 {symbol}：模型连续 {failures} 次失败，已进入安全模式；模型恢复前不开新仓",
    ),
    "ai.proposal.rejected": ("rejected by the user", "已被用户拒绝"),
    "ai.no_market_open": (
        "None of this trader's markets ({markets}) is in continuous trading: nothing to decide, "
        "the model was not asked.",
        "该交易员的市场（{markets}）均不在连续竞价时段：无可决策，未调用模型。",
    ),
    "ai.proposal.lost": (
        "the proposal was no longer open when DeepAlpha started again",
        "DeepAlpha 重新启动时该提案已不再有效",
    ),
    "ai.proposal.superseded": (
        "replaced by the newer proposal of cycle {cycle}",
        "已被第 {cycle} 轮的新提案取代",
    ),
    "ai.proposal.expired": (
        "the proposal expired unanswered at {time}",
        "提案在 {time} 前未获处理，已过期",
    ),
}

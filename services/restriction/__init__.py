"""The restriction service: exit and consumption bans (限制出境, 限制高消费) as the compacted view
``restriction.controls``, with the rules of courtbus.domain.restriction, the agencies' answers
forwarded to the issuing court and their deadline on timers."""

"""The blacklist service: the national dishonest-debtor list (失信被执行人名单) as the compacted
view ``blacklist.entries``, with the rules of 最高人民法院关于公布失信被执行人名单信息的若干规定
(courtbus.domain.blacklist) and its deadlines on timers."""

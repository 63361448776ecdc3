"""dingdan (订单): an Amazon order desk for seller teams, inside Telegram."""

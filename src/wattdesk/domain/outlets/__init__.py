"""Payment outlets (缴费网点: 营业厅 counters, 代收点 agents, 自助缴费终端 self-service) and candidate sites
for new outlets (网点规划)."""

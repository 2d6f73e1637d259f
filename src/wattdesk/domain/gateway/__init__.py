"""Mobile / online payments through a payment gateway (线上缴费): payment orders, the callback log and the
nonces that make a callback impossible to replay (docs/payments-gateway.md)."""

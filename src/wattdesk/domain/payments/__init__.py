"""Payments (缴费), their allocation to bills and late fees (销账), and late-fee assessments (违约金)."""

"""Use cases of 用电检查: open, compute, approve (four-eyes), post and reject 窃电 / 违约用电 cases."""

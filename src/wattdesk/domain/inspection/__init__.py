"""用电检查: inspection cases of 窃电 (electricity theft) and 违约用电 (contract violations), their rule sets
(policy data, effective-dated) and the back-billing document each approved case posts (issue 9 part 7)."""
